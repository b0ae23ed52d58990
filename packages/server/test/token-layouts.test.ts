/**
 * The layout of login codes and user tokens: they lead with their issue time so that their keys
 * at rest sort by time (docs/performance.md, "time-led secrets"), and tokens in mina-auth 0.1's
 * layout (256 random bits, keyed by their SHA-256 alone) keep working across the upgrade.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Formats } from "@mina-auth/protocol";
import Database from "better-sqlite3";
import { sha256Hex, storageKey } from "../src/secrets.ts";
import { DEMO, startTestServer, type TestServer } from "./harness.ts";

const USER_INFO = "/open-apis/authen/v1/user_info";
const REFRESH = "/open-apis/authen/v1/oidc/refresh_access_token";

describe("time-led codes and tokens", () => {
  let t: TestServer;
  let appToken: string;
  before(async () => {
    t = await startTestServer();
    appToken = await t.appToken();
  });
  after(() => t.close());

  const login = async () => {
    const code = await t.mintCode();
    const res = await t.exchange(code, appToken);
    assert.equal(res.body.code, 0, res.text);
    return { code, ...(res.body.data as { access_token: string; refresh_token: string }) };
  };

  it("codes and tokens carry the issue time first, then 128/256 random bits", async () => {
    const issued = t.clock.now();
    const { code, access_token, refresh_token } = await login();
    const time = issued.toString(16).padStart(12, "0");
    assert.match(code, Formats.loginCode);
    assert.equal(code.slice(0, 12), time);
    assert.match(access_token, /^u-[0-9A-Za-z_-]{51}$/);
    assert.match(refresh_token, /^ur-[0-9A-Za-z_-]{51}$/);
    assert.equal(Buffer.from(access_token.slice(2, 10), "base64url").toString("hex"), time);
    assert.equal(Buffer.from(refresh_token.slice(3, 11), "base64url").toString("hex"), time);
  });

  it("at rest each is keyed by its issue time then its SHA-256, and keys sort by issue time", async () => {
    const first = await login();
    t.clock.advance(1);
    const second = await login();
    const db = new Database(t.dbPath, { readonly: true });
    try {
      for (const [kind, table, column, a, b] of [
        ["login_code", "login_codes", "code_hash", first.code, second.code],
        // One row per login: its current tokens' keys are columns of the grant row.
        ["access_token", "grants", "access_hash", first.access_token, second.access_token],
        ["refresh_token", "grants", "refresh_hash", first.refresh_token, second.refresh_token],
      ] as const) {
        const keyA = storageKey(kind, a);
        const keyB = storageKey(kind, b);
        assert.ok(keyA.endsWith(sha256Hex(a)) && keyA.length === 12 + 64, kind);
        assert.ok(keyA < keyB, `${kind}: a later issue sorts after an earlier one`);
        const found = db
          .prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} IN (?, ?)`)
          .get(keyA, keyB);
        assert.deepEqual(found, { n: 2 }, table);
      }
    } finally {
      db.close();
    }
  });

  it("a code in 0.1's layout (32 hex), stored as its SHA-256 alone, still redeems once", async () => {
    const code = await t.mintCode();
    const legacy = randomBytes(16).toString("hex");
    assert.match(legacy, Formats.loginCode);
    const db = new Database(t.dbPath);
    try {
      db.pragma("busy_timeout = 5000");
      db.prepare("UPDATE login_codes SET code_hash = ? WHERE code_hash = ?").run(
        sha256Hex(legacy),
        storageKey("login_code", code),
      );
    } finally {
      db.close();
    }
    const first = await t.exchange(legacy, appToken);
    assert.equal(first.body.code, 0, first.text);
    assert.equal((await t.exchange(legacy, appToken)).body.code, 10213);
    assert.equal((await t.exchange(randomBytes(16).toString("hex"), appToken)).body.code, 10226);
  });

  it("tokens in 0.1's layout, stored as their SHA-256 alone, still answer user_info and refresh", async () => {
    const session = await login();
    // Rewrite this session's keys as mina-auth 0.1 stored them, for tokens in 0.1's layout.
    const legacyAccess = `u-${randomBytes(32).toString("base64url")}`;
    const legacyRefresh = `ur-${randomBytes(32).toString("base64url")}`;
    const db = new Database(t.dbPath);
    try {
      db.pragma("busy_timeout = 5000");
      db.prepare("UPDATE grants SET access_hash = ? WHERE access_hash = ?").run(
        sha256Hex(legacyAccess),
        storageKey("access_token", session.access_token),
      );
      db.prepare("UPDATE grants SET refresh_hash = ? WHERE refresh_hash = ?").run(
        sha256Hex(legacyRefresh),
        storageKey("refresh_token", session.refresh_token),
      );
    } finally {
      db.close();
    }
    assert.equal(legacyAccess.length, 45);
    assert.match(legacyAccess, Formats.userAccessToken);
    assert.match(legacyRefresh, Formats.refreshToken);

    const profile = await t.request("GET", USER_INFO, { token: legacyAccess });
    assert.equal(profile.body.code, 0, profile.text);
    assert.equal(profile.body.data.tenant_key, DEMO.acme);
    assert.equal((await t.request("GET", USER_INFO, { token: session.access_token })).body.code, 99991668);

    const refreshed = await t.request("POST", REFRESH, {
      token: appToken,
      body: { grant_type: "refresh_token", refresh_token: legacyRefresh },
    });
    assert.equal(refreshed.body.code, 0, refreshed.text);
    assert.match(
      refreshed.body.data.refresh_token,
      /^ur-[0-9A-Za-z_-]{51}$/,
      "rotation issues the new layout",
    );
    const again = await t.request("POST", REFRESH, {
      token: appToken,
      body: { grant_type: "refresh_token", refresh_token: legacyRefresh },
    });
    assert.equal(again.body.code, 20038, "a rotated 0.1 refresh token is spent like any other");
  });
});
