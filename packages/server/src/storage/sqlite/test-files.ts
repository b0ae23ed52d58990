/**
 * Test helper: SQLite files in one temporary directory per test file, removed after it.
 * Importing registers the removal in the importing test file.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import type { StorageTestHooks } from "../test-hooks.ts";
import { createSqliteStorage, SqliteStorage } from "./sqlite-storage.ts";

/** The directory; every file of the test file is in it until the end of that file. */
export const dir = mkdtempSync(join(tmpdir(), "mina-auth-sqlite-"));
let fileCount = 0;

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

export function tempPath(label: string): string {
  fileCount += 1;
  return join(dir, `${label}-${fileCount}.db`);
}

export function openFile(path: string, hooks?: StorageTestHooks, busyTimeoutMs?: number): SqliteStorage {
  const storage = createSqliteStorage({ path, hooks, busyTimeoutMs });
  assert.ok(storage instanceof SqliteStorage);
  return storage;
}
