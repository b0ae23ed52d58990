/**
 * Test helper: a fresh, throw-away PostgreSQL database per test run.
 *
 * Connects to the maintenance database of the server named by `MINA_AUTH_TEST_PG_ADMIN_URL`
 * (default `postgres://postgres@127.0.0.1:5432/postgres`, trust auth on this project's
 * machines), creates `mina_auth_test_<random>`, and drops it again with `FORCE` so that
 * connections a crashed test left behind never block the cleanup.
 *
 * @example
 * ```ts
 * if (await postgresAvailable()) {
 *   const db = await createTestDatabase();
 *   const storage = createPostgresStorage({ url: db.url });
 *   // …
 *   await storage.close();
 *   await db.drop();
 * }
 * ```
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import pg from "pg";

const DEFAULT_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** The maintenance-database URL test databases are created from. */
export function testAdminUrl(): string {
  return process.env.MINA_AUTH_TEST_PG_ADMIN_URL ?? DEFAULT_ADMIN_URL;
}

export interface TestDatabase {
  /** Connection URL of the fresh database. */
  url: string;
  /** The database's name (`mina_auth_test_<hex>`). */
  name: string;
  /** Drops the database, terminating any connection still open on it. Idempotent. */
  drop(): Promise<void>;
}

async function withAdmin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testAdminUrl(), connectionTimeoutMillis: 3000 });
  // An error event on an idle client must never crash the test process.
  client.on("error", () => {});
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Whether the test PostgreSQL answers a trivial query. */
export async function postgresAvailable(): Promise<boolean> {
  return (await probePostgres()).ok;
}

/** Like {@link postgresAvailable}, with the reason when it does not answer, so a skip says why. */
export async function probePostgres(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await withAdmin((client) => client.query("SELECT 1"));
    return { ok: true };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const where = new URL(testAdminUrl()).host;
    return { ok: false, reason: `PostgreSQL at ${where} is unreachable (${detail})` };
  }
}

/** Creates `mina_auth_test_<random>` and returns its URL and a `drop()` for the teardown. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `mina_auth_test_${randomBytes(6).toString("hex")}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`));
  const url = new URL(testAdminUrl());
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      await withAdmin((client) =>
        client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`),
      );
      dropped = true;
    },
  };
}

/**
 * A test file's PostgreSQL: probed once. Unreachable under CI=true, a failing test says so;
 * elsewhere `skip` is the reason the file's PostgreSQL suites skip with (false when reachable).
 */
export async function postgresForTests(): Promise<{ skip: false | string }> {
  const probe = await probePostgres();
  if (probe.ok) return { skip: false };
  if (process.env.CI === "true") {
    test("PostgreSQL is reachable (required with CI=true)", () => assert.fail(probe.reason));
  }
  return { skip: `${probe.reason}; start it or set MINA_AUTH_TEST_PG_ADMIN_URL` };
}
