import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import type pg from "pg";

/** `packages/server/migrations/`, from src/storage/postgres/ and from dist/storage/postgres/ alike. */
export const MIGRATIONS_DIR = new URL("../../../migrations/", import.meta.url);

/**
 * Key of the session-level advisory lock that serialises migrations across processes
 * (an arbitrary constant: the first 8 bytes of sha256("mina-auth:migrate"), as a signed int8).
 */
export const MIGRATION_LOCK_KEY = createHash("sha256").update("mina-auth:migrate").digest().readBigInt64BE(0);

const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.postgres\.sql$/;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** Reads `NNNN_name.postgres.sql` files, in version order. */
export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => FILE_PATTERN.test(file)).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file)!;
    const sql = await readFile(new URL(file, dir), "utf8");
    const version = Number(match[1]);
    if (migrations.some((m) => m.version === version)) {
      throw new Error(`two PostgreSQL migrations share version ${version}`);
    }
    migrations.push({
      version,
      name: match[2]!,
      sql,
      checksum: createHash("sha256").update(sql).digest("hex"),
    });
  }
  return migrations;
}

/**
 * Applies every pending migration, each in its own transaction, under an advisory lock: when
 * several instances start at once, one migrates and the others wait, then find nothing to do.
 * A migration already applied whose file has since changed stops the start-up (a migration
 * is never edited once released; add a new one).
 */
export async function migrate(client: pg.ClientBase, dir: URL = MIGRATIONS_DIR): Promise<number[]> {
  const migrations = await loadMigrations(dir);
  // Waiting for another instance's migration is expected, however long it takes: not subject
  // to the pool's lock_timeout (a migration sets its own where it needs one).
  await client.query("SET lock_timeout = 0");
  await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY.toString()]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number; checksum: string }>(
      "SELECT version, checksum FROM schema_migrations",
    );
    const applied = new Map(rows.map((row) => [row.version, row.checksum]));
    const known = new Set(migrations.map((m) => m.version));
    const newer = rows.find((row) => !known.has(row.version));
    if (newer) {
      throw new Error(
        `database schema version ${newer.version} is newer than this mina-auth knows: upgrade mina-auth`,
      );
    }
    const done: number[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.version);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new Error(
            `migration ${migration.version}_${migration.name} changed after it was applied; add a new migration instead`,
          );
        }
        continue;
      }
      await client.query("BEGIN");
      try {
        await client.query(migration.sql);
        await client.query("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
          migration.version,
          migration.name,
          migration.checksum,
        ]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      }
      done.push(migration.version);
    }
    return done;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY.toString()]).catch(() => {});
    await client.query("RESET lock_timeout").catch(() => {});
  }
}
