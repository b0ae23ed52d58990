/**
 * The two storages the edge tests (edge-*.test.ts) run a server child process on: a real
 * SQLite file and a real PostgreSQL. Without PostgreSQL its case skips with the reason, except
 * with CI=true, where a failing test says it is missing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  createTestDatabase,
  probePostgres,
  type TestDatabase,
} from "../src/storage/postgres/test-database.ts";

const probe = await probePostgres();
if (!probe.ok && process.env.CI === "true") {
  test("PostgreSQL is reachable (required with CI=true)", () => assert.fail(probe.reason));
}

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
    skip: probe.ok ? false : `${probe.reason}; start it or set MINA_AUTH_TEST_PG_ADMIN_URL`,
    open: async () => {
      const database: TestDatabase = await createTestDatabase();
      return { db: database.url, cleanup: () => database.drop() };
    },
  },
];
