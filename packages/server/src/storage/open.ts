import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { Storage } from "./port.ts";

/**
 * Opens the storage a `--db` URL names: `sqlite:PATH`, `sqlite::memory:` or `postgres://…`.
 * Adapters load lazily so that a SQLite deployment never loads `pg`, and the other way round.
 */
export async function openStorage(url: string): Promise<Storage> {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    const { createPostgresStorage } = await import("./postgres/index.ts");
    return createPostgresStorage({ url });
  }
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length);
    if (path === "")
      throw new Error("sqlite: needs a path, e.g. sqlite:./data/mina-auth.db or sqlite::memory:");
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    const { createSqliteStorage } = await import("./sqlite/index.ts");
    return createSqliteStorage({ path });
  }
  throw new Error("unknown database URL: use sqlite:PATH, sqlite::memory: or postgres://…");
}

/** The URL with any password masked, for log lines and messages. */
export function describeDb(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}
