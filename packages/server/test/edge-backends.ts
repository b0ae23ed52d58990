import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import {
  createTestDatabase,
  postgresForTests,
  type TestDatabase,
} from "../src/storage/postgres/test-database.ts";
import { type ServerProcess, startServerProcess, stopServerProcess } from "./child-server.ts";

const { skip: postgresSkip } = await postgresForTests();

export interface Backend {
  name: string;
  skip: string | false;
  open(): Promise<{ db: string; cleanup(): Promise<void> }>;
}

export const backends: Backend[] = [
  {
    name: "a SQLite file",
    skip: false,
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), "mina-edge-"));
      return {
        db: `sqlite:${join(dir, "edge.db")}`,
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: "PostgreSQL",
    skip: postgresSkip,
    open: async () => {
      const database: TestDatabase = await createTestDatabase();
      return { db: database.url, cleanup: () => database.drop() };
    },
  },
];

/**
 * Server child processes on one fresh database of `backend`, one per environment given, started
 * before the enclosing describe's tests and stopped (the database dropped) after them.
 */
export function serversOn(
  backend: Backend,
  adminToken: string,
  ...envs: Array<Record<string, string>>
): ServerProcess[] {
  const servers: ServerProcess[] = [];
  let cleanup: (() => Promise<void>) | undefined;
  before(async () => {
    const opened = await backend.open();
    cleanup = opened.cleanup;
    for (const [i, env] of envs.entries()) {
      servers.push(
        await startServerProcess({ db: opened.db, adminToken, name: `${backend.name} #${i + 1}`, env }),
      );
    }
  });
  after(async () => {
    for (const server of servers) await stopServerProcess(server);
    await cleanup?.();
  });
  return servers;
}
