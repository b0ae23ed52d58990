/**
 * The admin endpoints the web console reads (overview, audit tail, one session with its
 * refresh-token family) and the serving of the console's files at /console/, through real HTTP
 * on a real SQLite file; error paths included.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigError, consoleEnabled, defaultConfig, validateConfig } from "../src/config.ts";
import { startServerProcess, stopServerProcess } from "./child-server.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestResponse, type TestServer, until } from "./harness.ts";

const REFRESH_PATH = "/open-apis/authen/v1/refresh_access_token";

function assertError(res: TestResponse, code: number, status: number): void {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), ["code", "msg"], res.text);
  assert.equal(res.body.code, code, res.text);
}

/** A console "build" of our own, so these tests do not depend on the real one. */
function fakeConsoleDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "mina-auth-console-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>console</title>");
  writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log('hi')");
  return dir;
}

describe("admin API for the console", () => {
  let t: TestServer;
  let login: { access_token: string; refresh_token: string };
  let appToken: string;
  let sessionId: string;
  const get = (path: string) => t.request("GET", `/admin/v1${path}`, { token: ADMIN_TOKEN });

  before(async () => {
    t = await startTestServer();
    appToken = await t.appToken();
    const res = await t.exchange(await t.mintCode(), appToken);
    assert.equal(res.body.code, 0, res.text);
    login = res.body.data;
    const sessions = await get(`/sessions?user_id=${DEMO.visibleUser}`);
    sessionId = sessions.body.sessions[0].session_id;
  });
  after(() => t.close());

  it("every new endpoint needs the admin token", async () => {
    for (const path of ["/overview", "/audit-events/tail", `/sessions/${sessionId}`]) {
      assertError(await t.request("GET", `/admin/v1${path}`), 9401, 401);
      assertError(await t.request("GET", `/admin/v1${path}`, { token: "wrong-token-0123456789" }), 9401, 401);
    }
  });

  it("overview: counts of the catalogue and live sessions, and the most recent logins", async () => {
    const res = await get("/overview");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const catalogue = await t.server.storage.exportCatalog();
    assert.equal(res.body.tenants, catalogue.tenants.length);
    assert.equal(res.body.users, catalogue.users.length);
    assert.equal(res.body.apps, catalogue.apps.length);
    assert.equal(res.body.live_sessions, 1);
    assert.equal(res.body.live_sessions_capped, false);
    assert.equal(res.body.recent_logins.length, 1);
    assert.equal(res.body.recent_logins[0].type, "login_code.consumed");
    assert.equal(res.body.recent_logins[0].user_id, DEMO.visibleUser);
    assert.equal(res.body.recent_logins[0].session_id, sessionId);
  });

  it("audit tail: the latest events oldest first, then only what came after the cursor", async () => {
    const first = await get("/audit-events/tail");
    assert.equal(first.status, 200, first.text);
    assert.ok(first.body.events.length >= 1);
    const ids = first.body.events.map((e: { id: number }) => e.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      "oldest first",
    );
    assert.equal(first.body.cursor, ids[ids.length - 1]);
    assert.equal(first.body.truncated, false);

    const quiet = await get(`/audit-events/tail?after=${first.body.cursor}`);
    assert.deepEqual(quiet.body.events, []);
    assert.equal(quiet.body.cursor, first.body.cursor);

    // A rotation happens: the next poll shows it and only it.
    const rotated = await t.request("POST", REFRESH_PATH, {
      token: appToken,
      body: { grant_type: "refresh_token", refresh_token: login.refresh_token },
    });
    assert.equal(rotated.body.code, 0, rotated.text);
    login.refresh_token = rotated.body.data.refresh_token;
    const next = await get(`/audit-events/tail?after=${first.body.cursor}`);
    assert.deepEqual(
      next.body.events.map((e: { type: string }) => e.type),
      ["refresh_token.rotated"],
    );
    assert.equal(next.body.events[0].session_id, sessionId);
    assert.ok(next.body.cursor > first.body.cursor);
  });

  it("audit tail: filters by type, app, tenant, user and session; limit keeps the newest", async () => {
    await t.exchange(await t.mintCode(DEMO.invisibleUser), appToken); // login_code.rejected_visibility
    const byType = await get("/audit-events/tail?type=login_code.rejected_visibility");
    assert.equal(byType.body.events.length, 1, byType.text);
    assert.equal(byType.body.events[0].user_id, DEMO.invisibleUser);
    const byUser = await get(`/audit-events/tail?user_id=${DEMO.invisibleUser}&tenant_key=${DEMO.acme}`);
    assert.deepEqual(
      byUser.body.events.map((e: { type: string }) => e.type),
      ["login_code.rejected_visibility"],
    );
    const bySession = await get(`/audit-events/tail?session_id=${sessionId}&app_id=${DEMO.appId}`);
    assert.deepEqual(
      bySession.body.events.map((e: { type: string }) => e.type),
      ["login_code.consumed", "refresh_token.rotated"],
    );
    const none = await get("/audit-events/tail?app_id=cli_0000000000000000");
    assert.deepEqual(none.body.events, []);
    const limited = await get("/audit-events/tail?limit=1");
    assert.equal(limited.body.events.length, 1);
    assert.equal(limited.body.events[0].id, limited.body.cursor, "the newest one");
    assert.equal(limited.body.truncated, true);
  });

  it("audit tail: a malformed cursor or limit is 9400 naming it", async () => {
    for (const query of ["after=abc", "after=-1", "after=1.5", "limit=0", "limit=1001", "limit=x"]) {
      const res = await get(`/audit-events/tail?${query}`);
      assertError(res, 9400, 400);
      assert.match(res.body.msg, new RegExp(query.split("=")[0]!));
    }
  });

  it("one session: its fields and its family from the audit events, then revoked", async () => {
    const res = await get(`/sessions/${sessionId}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.session_id, sessionId);
    assert.equal(res.body.app_id, DEMO.appId);
    assert.equal(res.body.tenant_key, DEMO.acme);
    assert.equal(res.body.user_id, DEMO.visibleUser);
    assert.equal(res.body.live, true);
    assert.equal(res.body.family.rotations, 1);
    assert.equal(res.body.family.reused, false);
    assert.equal(res.body.family.revoked, false);
    assert.equal(res.body.family.complete, true);
    assert.deepEqual(
      res.body.family.events.map((e: { type: string }) => e.type),
      ["login_code.consumed", "refresh_token.rotated"],
    );

    const revoke = await t.request("POST", `/admin/v1/sessions/${sessionId}/revoke`, { token: ADMIN_TOKEN });
    assert.equal(revoke.status, 200, revoke.text);
    const revoked = await get(`/sessions/${sessionId}`);
    assert.equal(revoked.body.live, false);
    assert.equal(revoked.body.revoke_reason, "admin");
    assert.equal(revoked.body.family.revoked, true);
    assert.equal(revoked.body.family.events.at(-1).type, "grant.revoked");
  });

  it("one session: a reused rotated refresh token shows as reuse in the family", async () => {
    const res = await t.exchange(await t.mintCode(DEMO.otherVisibleUser), appToken);
    const first = res.body.data.refresh_token;
    const refresh = (token: string) =>
      t.request("POST", REFRESH_PATH, {
        token: appToken,
        body: { grant_type: "refresh_token", refresh_token: token },
      });
    assert.equal((await refresh(first)).body.code, 0);
    assert.equal((await refresh(first)).body.code, 20038);
    const listed = await get(`/sessions?user_id=${DEMO.otherVisibleUser}`);
    const detail = await get(`/sessions/${listed.body.sessions[0].session_id}`);
    assert.equal(detail.body.family.reused, true);
    assert.equal(detail.body.family.revoked, true);
    assert.equal(detail.body.revoke_reason !== null, true);
  });

  it("one session: found by its owner when given; an unknown id, or the wrong owner, is 9404", async () => {
    const owner = `app_id=${DEMO.appId}&tenant_key=${DEMO.acme}&user_id=${DEMO.visibleUser}`;
    const found = await get(`/sessions/${sessionId}?${owner}`);
    assert.equal(found.status, 200, found.text);
    assert.equal(found.body.session_id, sessionId);
    assertError(await get("/sessions/does-not-exist"), 9404, 404);
    assertError(await get(`/sessions/does-not-exist?${owner}`), 9404, 404);
    const wrongOwner = `app_id=${DEMO.appId}&tenant_key=${DEMO.acme}&user_id=${DEMO.otherVisibleUser}`;
    assertError(await get(`/sessions/${sessionId}?${wrongOwner}`), 9404, 404);
  });

  it("the new endpoints are in /openapi.json with the admin bearer", async () => {
    const res = await t.request("GET", "/openapi.json");
    for (const path of [
      "/admin/v1/overview",
      "/admin/v1/audit-events/tail",
      "/admin/v1/sessions/{session_id}",
    ]) {
      const operation = res.body.paths[path]?.get;
      assert.ok(operation, `${path} is documented`);
      assert.deepEqual(operation.security, [{ adminBearer: [] }]);
      assert.ok(operation.responses["200"].content, `${path} documents its answer`);
    }
  });
});

describe("the console's files at /console/", () => {
  let dir: string;
  let t: TestServer;
  before(async () => {
    dir = fakeConsoleDir();
    t = await startTestServer({ consoleDir: dir });
  });
  after(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves index.html for the app's paths, with a CSP that allows only this server", async () => {
    for (const path of ["/console/", "/console/sessions"]) {
      const res = await t.request("GET", path);
      assert.equal(res.status, 200, path);
      assert.equal(res.text, "<!doctype html><title>console</title>");
      assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
      assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'; script-src 'self'/);
      assert.equal(res.headers.get("cache-control"), "no-cache");
    }
  });

  it("serves hashed assets as immutable, and /console redirects to /console/", async () => {
    const asset = await t.request("GET", "/console/assets/index-abc123.js");
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.match(asset.headers.get("cache-control") ?? "", /immutable/);
    const bare = await fetch(`${t.url}/console`, { redirect: "manual" });
    assert.equal(bare.status, 302);
    assert.equal(bare.headers.get("location"), "/console/");
  });

  it("a missing file or a path out of the folder is the platform's 404", async () => {
    for (const path of [
      "/console/assets/nope.js",
      "/console/..%2f..%2fpackage.json",
      "/console/%2e%2e/x.js",
    ]) {
      assertError(await t.request("GET", path), 99991201, 404);
    }
  });

  it("an unbuilt console says so in its 404", async () => {
    const empty = mkdtempSync(join(tmpdir(), "mina-auth-console-empty-"));
    const u = await startTestServer({ consoleDir: empty });
    try {
      const res = await u.request("GET", "/console/");
      assertError(res, 9404, 404);
      assert.match(res.body.msg, /console was not built: run `npm run build`/);
    } finally {
      await u.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("console off: no /console/ at all", async () => {
    const off = await startTestServer({ config: { console: "off" }, consoleDir: dir });
    try {
      assertError(await off.request("GET", "/console/"), 99991201, 404);
      assert.equal(off.server.consoleUrl, null);
    } finally {
      await off.close();
    }
    assert.equal(t.server.consoleUrl, `${t.url}/console/`);
  });

  it("auto serves the console on loopback only; on and off say what they mean", () => {
    assert.equal(consoleEnabled({ console: "auto", host: "127.0.0.1" }), true);
    assert.equal(consoleEnabled({ console: "auto", host: "::1" }), true);
    assert.equal(consoleEnabled({ console: "auto", host: "0.0.0.0" }), false);
    assert.equal(consoleEnabled({ console: "on", host: "0.0.0.0" }), true);
    assert.equal(consoleEnabled({ console: "off", host: "127.0.0.1" }), false);
  });

  it("the console setting is validated", () => {
    assert.throws(
      () => validateConfig({ ...defaultConfig, console: "maybe" as "on" }),
      (error: unknown) =>
        error instanceof ConfigError && /console must be one of auto, on, off/.test(error.message),
    );
  });
});

describe("mina-auth serve and the console", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "mina-auth-console-cli-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the console's address on loopback; MINA_AUTH_CONSOLE=off prints none and serves none", async () => {
    const on = await startServerProcess({ db: `sqlite:${join(dir, "on.db")}`, adminToken: ADMIN_TOKEN });
    try {
      await until(() => on.stderr().includes("Console: "), `no console line in:\n${on.stderr()}`);
      assert.match(on.stderr(), new RegExp(`Console: ${on.url}/console/ \\(sign in with the admin token`));
    } finally {
      assert.equal(await stopServerProcess(on), 0);
    }

    const off = await startServerProcess({
      db: `sqlite:${join(dir, "off.db")}`,
      adminToken: ADMIN_TOKEN,
      env: { MINA_AUTH_CONSOLE: "off" },
    });
    const res = await fetch(`${off.url}/console/`);
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { code: number }).code, 99991201);
    assert.equal(await stopServerProcess(off), 0);
    assert.ok(!off.stderr().includes("Console:"), off.stderr());
  });

  it("the built CLI (what npm start runs) finds the built console", async () => {
    const root = new URL("../../../", import.meta.url).pathname;
    const proc = spawn(
      process.execPath,
      [
        "packages/server/bin/mina-auth.js",
        "serve",
        "--port",
        "0",
        "--db",
        `sqlite:${join(dir, "built.db")}`,
        "--demo",
        "--admin-token",
        ADMIN_TOKEN,
      ],
      {
        cwd: root,
        env: { ...process.env, MINA_AUTH_PURGE_INTERVAL_MS: "0" },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    const exited = new Promise((resolve) => proc.on("exit", resolve));
    let err = "";
    proc.stderr.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    try {
      await until(() => /Console: (\S+)/.test(err) || proc.exitCode !== null, "no console line");
      const url = /Console: (\S+)/.exec(err)?.[1];
      assert.ok(url, err);
      const page = await fetch(url);
      assert.equal(page.status, 200, "packages/console/dist is served from packages/server/dist");
      assert.match(await page.text(), /<title>mina-auth console<\/title>/);
    } finally {
      proc.kill("SIGTERM");
      await exited;
    }
  });

  it("a console mode other than auto, on or off stops the CLI with one line", async () => {
    const failed = startServerProcess({
      db: `sqlite:${join(dir, "bad.db")}`,
      adminToken: ADMIN_TOKEN,
      env: { MINA_AUTH_CONSOLE: "sometimes" },
    });
    await assert.rejects(
      failed,
      /exited \(2\) before listening:\s+mina-auth: MINA_AUTH_CONSOLE must be one of "auto", "on", "off"/,
    );
  });
});
