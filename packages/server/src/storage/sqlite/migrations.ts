import { readdirSync, readFileSync } from "node:fs";
import type BetterSqlite3 from "better-sqlite3";

/** Where the versioned `NNNN_name.sqlite.sql` files live (same depth from src/ and dist/). */
export const MIGRATIONS_DIR = new URL("../../../migrations/", import.meta.url);

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE = /^(\d{4})_([a-z0-9_-]+)\.sqlite\.sql$/;

export function loadMigrations(dir: URL = MIGRATIONS_DIR): Migration[] {
  const migrations: Migration[] = [];
  for (const file of readdirSync(dir)) {
    const match = FILE.exec(file);
    if (!match) continue;
    migrations.push({
      version: Number(match[1]),
      name: match[2]!,
      sql: readFileSync(new URL(file, dir), "utf8"),
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version === migrations[i - 1]!.version) {
      throw new Error(`two sqlite migrations share version ${migrations[i]!.version}`);
    }
  }
  return migrations;
}

/**
 * Applies every migration not yet recorded in `schema_migrations`, all in one
 * `BEGIN IMMEDIATE` transaction: a second process migrating at the same time waits for the
 * write lock, then finds everything applied.
 */
export function applyMigrations(db: BetterSqlite3.Database, migrations: Migration[], now: number): number[] {
  const applied: number[] = [];
  db.exec("BEGIN IMMEDIATE");
  try {
    db.exec(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    INTEGER PRIMARY KEY,
         name       TEXT NOT NULL,
         applied_at INTEGER NOT NULL
       ) STRICT`,
    );
    const done = new Set(db.prepare<[], number>("SELECT version FROM schema_migrations").pluck().all());
    const record = db.prepare<[number, string, number]>(
      "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
    );
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, now);
      applied.push(migration.version);
    }
    db.exec("COMMIT");
  } catch (error) {
    if (db.inTransaction) db.exec("ROLLBACK");
    throw error;
  }
  return applied;
}
