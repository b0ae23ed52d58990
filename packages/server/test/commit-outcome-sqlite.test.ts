/**
 * Issue 14: never a false "nothing happened", on a real SQLite file over real HTTP.
 * - An exchange whose COMMIT went through but whose WAL fsync failed: the code is consumed
 *   (other connections see it), so a retryable answer would be a lie; it answers 9502,
 *   HTTP 200, without Retry-After.
 * - A refresh whose rotation committed, then reading its user failed: the refresh token is
 *   spent, so 20050 "retry" would make the retry a replay (20038, the family revoked). The
 *   read is tried again for a few seconds (success through a short outage), then 9502.
 */
import assert from "node:assert/strict";
import { fdatasync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Errors, Paths } from "@mina-auth/protocol";
import Database from "better-sqlite3";
import { type Storage, StorageUnavailableError } from "../src/storage/port.ts";
import { createSqliteStorage } from "../src/storage/sqlite/sqlite-storage.ts";
import { assertEnvelope, startTestServer, type TestResponse } from "./harness.ts";

const dir = mkdtempSync(join(tmpdir(), "mina-auth-outcome-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function assertOutcomeUnknown(res: TestResponse, ...secrets: string[]): void {
  assertEnvelope(res, Errors.OutcomeUnknown.code);
  assert.equal(res.headers.get("retry-after"), null, "nothing invites a retry");
  for (const secret of secrets) assert.ok(!res.text.includes(secret));
}

describe("a write that committed is never answered as retryable (SQLite file)", () => {
  test("an exchange committed but not flushed to disk answers 9502, and the code is consumed", async () => {
    let armed = false;
    let failSync = false;
    const path = join(dir, "fsync.db");
    const storage = createSqliteStorage({
      path,
      // From the exchange's own write on: the fsync covering its commit fails.
      hooks: {
        beforeConsume: async () => {
          failSync = armed;
        },
      },
      syncFile: (fd, done) =>
        failSync
          ? done(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }))
          : fdatasync(fd, done),
    });
    const t = await startTestServer({ storage });
    try {
      const appToken = await t.appToken();
      const code = await t.mintCode();
      armed = true;
      assertOutcomeUnknown(await t.exchange(code, appToken), code);
      // The commit is there for anyone who reads the file (this server refuses reads now).
      const peer = new Database(path, { readonly: true });
      const row = peer
        .prepare("SELECT count(*) AS n, sum(consumed_at IS NOT NULL) AS consumed FROM login_codes")
        .get();
      const grants = peer.prepare("SELECT count(*) AS n FROM grants").get();
      peer.close();
      assert.deepEqual(row, { n: 1, consumed: 1 }, "the code is consumed");
      assert.deepEqual(grants, { n: 1 }, "the exchange committed its session");
      assert.match(t.logs(), /storage outcome unknown/);
    } finally {
      await t.close();
    }
  });

  test("a refresh whose rotation committed reads its user again through a short outage; after a long one it answers 9502, the token spent", async () => {
    const real = createSqliteStorage({ path: join(dir, "refresh.db") });
    /** How many getUser calls fail from now on (Infinity: until reset). */
    let failGetUser = 0;
    // Private fields need the real object as `this`.
    const storage = new Proxy(real, {
      get(target, property) {
        if (property === "getUser" && failGetUser > 0) {
          failGetUser -= 1;
          return () => Promise.reject(new StorageUnavailableError("sqlite: injected read failure"));
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as Storage;
    const t = await startTestServer({ storage });
    try {
      const appToken = await t.appToken();
      const login = await t.exchange(await t.mintCode(), appToken);
      assert.equal(login.body.code, 0, login.text);
      const refresh = (token: string) =>
        t.request("POST", Paths.refreshAccessToken, {
          token: appToken,
          body: { grant_type: "refresh_token", refresh_token: token },
        });
      // A short outage after the rotation: the user is read again, and the answer is the rotation.
      failGetUser = 2;
      const rotated = await refresh(login.body.data.refresh_token);
      assert.equal(rotated.body.code, 0, rotated.text);
      const refreshToken: string = rotated.body.data.refresh_token;
      // A longer one: the rotation committed, the answer cannot be given, 9502.
      failGetUser = Number.POSITIVE_INFINITY;
      assertOutcomeUnknown(await refresh(refreshToken), refreshToken);
      failGetUser = 0;
      // The rotation had committed: the token is spent, as 9502 warned.
      assertEnvelope(await refresh(refreshToken), Errors.RefreshTokenReused.code);
    } finally {
      await t.close();
    }
  });
});
