/**
 * The two storages the edge tests (edge-*.test.ts) run a server child process on: a real
 * SQLite file and a real PostgreSQL. Without PostgreSQL its case skips with the reason, except
 * with CI=true, where a failing test says it is missing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  createTestDatabase,
  probePostgres,
  type TestDatabase,
} from "../src/storage/postgres/test-database.ts";
import { type ServerProcess, startServerProcess, stopServerProcess } from "./child-server.ts";

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
