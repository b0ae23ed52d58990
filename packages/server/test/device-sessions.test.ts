/**
 * The tt shim's dev endpoints (/dev/v1/tt/*) and the derived session_key (issue 18): over HTTP
 * on a SQLite file, every error in the {code, msg} envelope, getUserInfo's data checked with
 * node:crypto alone following the platform sample's steps, and session key rotation.
 */
import assert from "node:assert/strict";
import { createDecipheriv, createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { startEmulator } from "../src/testing.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestResponse, type TestServer } from "./harness.ts";

/** The platform sample's steps: hex-decode session_key and iv, AES-128-CBC, PKCS#7, base64 in. */
function platformDecrypt(encryptedData: string, sessionKey: string, iv: string): unknown {
  const decipher = createDecipheriv("aes-128-cbc", Buffer.from(sessionKey, "hex"), Buffer.from(iv, "hex"));
  let text = decipher.update(encryptedData, "base64", "utf8");
  text += decipher.final("utf8");
  return JSON.parse(text);
}

const platformSignature = (rawData: string, sessionKey: string) =>
  createHash("sha1")
    .update(rawData + sessionKey)
    .digest("hex");

describe("dev endpoints for the tt shim, on a served instance (admin token)", () => {
  let t: TestServer;
  let appToken: string;
  const device = { app_id: DEMO.appId, user_id: DEMO.visibleUser };
  const dev = (path: string, body: unknown, token: string | null = ADMIN_TOKEN) =>
    t.request("POST", `/dev/v1/tt/${path}`, { body, ...(token ? { token } : {}) });
  const expectError = (res: TestResponse, status: number, code: number, msg?: RegExp) => {
    assert.equal(res.status, status, res.text);
    assert.equal(res.body.code, code, res.text);
    assert.equal(typeof res.body.msg, "string");
    if (msg) assert.match(res.body.msg, msg);
  };
  /** tt.login through the dev endpoint, then the backend's exchange. */
  const login = async (userId: string = DEMO.visibleUser) => {
    t.clock.advance(1000); // each grant its own created_at, so "newest" in the admin listing is this one
    const minted = await dev("login", { app_id: DEMO.appId, user_id: userId, scope_list: [] });
    assert.equal(minted.status, 201, minted.text);
    const exchanged = await t.exchange(minted.body.code, appToken);
    assert.equal(exchanged.body.code, 0, exchanged.text);
    return { code: minted.body.code as string, sessionKey: exchanged.body.data.session_key as string };
  };
  const userInfo = (code: string, userId: string = DEMO.visibleUser) =>
    dev("user-info", { app_id: DEMO.appId, user_id: userId, code, with_credentials: true });

  before(async () => {
    t = await startTestServer();
    appToken = await t.appToken();
  });
  after(() => t.close());

  it("issues a session_key of 32 hex digits: the AES-128 key, hex-encoded", async () => {
    const { sessionKey } = await login();
    assert.match(sessionKey, /^[0-9a-f]{32}$/);
  });

  it("produces getUserInfo's data that node:crypto alone verifies and decrypts, as the platform sample does", async () => {
    const { code, sessionKey } = await login();
    const res = await userInfo(code);
    assert.equal(res.status, 200, res.text);
    const { userInfo: info, rawData, signature, encryptedData, iv } = res.body;
    assert.equal(rawData, JSON.stringify(info));

    assert.equal(signature, platformSignature(rawData, sessionKey));
    assert.match(iv, /^[0-9a-f]{32}$/);
    const plain = platformDecrypt(encryptedData, sessionKey, iv) as Record<string, unknown>;
    const users = await t.request("GET", `/admin/v1/users/${DEMO.acme}/${DEMO.visibleUser}`, {
      token: ADMIN_TOKEN,
    });
    const exchanged = await t.request("GET", `/admin/v1/sessions?user_id=${DEMO.visibleUser}&limit=1`, {
      token: ADMIN_TOKEN,
    });
    assert.equal(exchanged.status, 200);
    assert.match(plain.openId as string, /^ou_[0-9a-f]{32}$/);
    assert.equal(plain.unionId, users.body.union_id);
    assert.equal(info.nickName, users.body.name);
    assert.equal(info.avatarUrl, users.body.avatar_url);
    // The demo app holds the employee_id and email scopes.
    assert.equal(plain.employee_id, DEMO.visibleUser);
    assert.equal(plain.email, users.body.email);
    assert.deepEqual(plain.watermark, { appid: DEMO.appId, timestamp: Math.floor(t.clock.now() / 1000) });
    assert.deepEqual(Object.keys(plain).at(-1), "watermark");
  });

  it("carries email and employee_id only while the app holds their scopes", async () => {
    const { code, sessionKey } = await login();
    const patch = (scopes: string[]) =>
      t.request("PATCH", `/admin/v1/apps/${DEMO.appId}`, { token: ADMIN_TOKEN, body: { scopes } });
    assert.equal((await patch([])).status, 200);
    try {
      const res = await userInfo(code);
      const plain = platformDecrypt(res.body.encryptedData, sessionKey, res.body.iv) as Record<
        string,
        unknown
      >;
      assert.deepEqual(Object.keys(plain), ["openId", "unionId", "watermark"]);
    } finally {
      await patch(["contact:user.employee_id:readonly", "contact:user.email:readonly"]);
    }
  });

  it("gives each session its own key and each call a fresh iv", async () => {
    const a = await login();
    const b = await login();
    assert.notEqual(a.sessionKey, b.sessionKey);
    const first = await userInfo(a.code);
    const second = await userInfo(a.code);
    assert.notEqual(first.body.iv, second.body.iv);
    assert.throws(() => platformDecrypt(first.body.encryptedData, b.sessionKey, first.body.iv));
  });

  it("answers getUserInfo without credentials with userInfo and rawData only, no session needed", async () => {
    const res = await dev("user-info", { ...device, with_credentials: false });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ["rawData", "userInfo"]);
  });

  it("reports a session alive once exchanged, and not before", async () => {
    const minted = await dev("login", device);
    const before = await dev("check-session", { ...device, code: minted.body.code });
    assert.deepEqual(before.body, { alive: false });
    await t.exchange(minted.body.code, appToken);
    const afterwards = await dev("check-session", { ...device, code: minted.body.code });
    assert.deepEqual(afterwards.body, { alive: true });
  });

  it("answers 1001001 for a code never exchanged, a revoked session and a deactivated user", async () => {
    const minted = await dev("login", device);
    expectError(await userInfo(minted.body.code), 404, 1001001, /^invalid session$/);

    const { code } = await login();
    const sessions = await t.request("GET", `/admin/v1/sessions?user_id=${DEMO.visibleUser}&limit=1`, {
      token: ADMIN_TOKEN,
    });
    const revoked = await t.request(
      "POST",
      `/admin/v1/sessions/${sessions.body.sessions[0].session_id}/revoke`,
      {
        token: ADMIN_TOKEN,
      },
    );
    assert.equal(revoked.status, 200, revoked.text);
    expectError(await userInfo(code), 404, 1001001);
    assert.deepEqual((await dev("check-session", { ...device, code })).body, { alive: false });

    const other = await login(DEMO.otherVisibleUser);
    const patched = await t.request("PATCH", `/admin/v1/users/${DEMO.acme}/${DEMO.otherVisibleUser}`, {
      token: ADMIN_TOKEN,
      body: { status: "deactivated" },
    });
    assert.equal(patched.status, 200, patched.text);
    expectError(await userInfo(other.code, DEMO.otherVisibleUser), 404, 1001001);
    await t.request("PATCH", `/admin/v1/users/${DEMO.acme}/${DEMO.otherVisibleUser}`, {
      token: ADMIN_TOKEN,
      body: { status: "active" },
    });
  });

  it("refuses a code another user's session came from (the code names its own session only)", async () => {
    const { code } = await login();
    expectError(await userInfo(code, DEMO.otherVisibleUser), 404, 1001001);
  });

  it("answers every malformed request with 9400 naming the field, unknown ones with 9404", async () => {
    expectError(await dev("login", [1, 2]), 400, 9400, /body must be a JSON object/);
    expectError(await dev("login", { user_id: DEMO.visibleUser }), 400, 9400, /app_id/);
    expectError(await dev("login", { app_id: DEMO.appId, user_id: 7 }), 400, 9400, /user_id/);
    expectError(await dev("login", { ...device, tenant_key: "" }), 400, 9400, /tenant_key/);
    expectError(await dev("login", { ...device, scope_list: "all" }), 400, 9400, /scope_list/);
    expectError(await dev("login", { ...device, scope_list: [1] }), 400, 9400, /scope_list/);
    expectError(
      await dev("login", { ...device, scope_list: ["contact:user.phone:readonly"] }),
      400,
      9400,
      /contact:user\.phone:readonly is not granted/,
    );
    expectError(await dev("login", { app_id: "cli_0000000000000000", user_id: "x" }), 404, 9404, /app/);
    expectError(await dev("login", { app_id: DEMO.appId, user_id: "nobody" }), 404, 9404, /user nobody/);
    expectError(await dev("check-session", device), 400, 9400, /code/);
    expectError(await dev("check-session", { ...device, code: "not-a-code" }), 400, 9400, /code/);
    expectError(
      await dev("user-info", { ...device, with_credentials: "yes" }),
      400,
      9400,
      /with_credentials/,
    );
    expectError(await dev("user-info", { ...device, with_credentials: true }), 400, 9400, /code/);
    expectError(await dev("user-info", { app_id: DEMO.appId, user_id: "nobody" }), 404, 9404, /user nobody/);
    const notJson = await t.request("POST", "/dev/v1/tt/login", {
      token: ADMIN_TOKEN,
      raw: "{",
      headers: { "content-type": "application/json" },
    });
    assert.equal(notJson.body.code, 9499, notJson.text);
  });

  it("answers 9401 without the admin token, on every dev endpoint and on the rotation", async () => {
    for (const path of ["login", "check-session", "user-info"])
      expectError(await dev(path, device, null), 401, 9401);
    expectError(await dev("login", device, "wrong-token"), 401, 9401);
    expectError(await t.request("POST", "/admin/v1/server-keys/session_key/rotate"), 401, 9401);
  });

  it("keeps every session's key after a rotation; new logins use the new version", async () => {
    const before = await login();
    const rotated = await t.request("POST", "/admin/v1/server-keys/session_key/rotate", {
      token: ADMIN_TOKEN,
    });
    assert.equal(rotated.status, 201, rotated.text);
    assert.equal(rotated.body.name, "session_key");
    assert.ok(rotated.body.version >= 2);
    t.clock.advance(1000); // so that the next grant is the newest listed
    const afterwards = await login();
    const sessions = await t.request("GET", `/admin/v1/sessions?user_id=${DEMO.visibleUser}&limit=1`, {
      token: ADMIN_TOKEN,
    });
    assert.ok(
      (sessions.body.sessions[0].session_id as string).endsWith(
        rotated.body.version.toString(16).padStart(3, "0"),
      ),
      "the newest grant names the new key version",
    );
    for (const session of [before, afterwards]) {
      const res = await userInfo(session.code);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.signature, platformSignature(res.body.rawData, session.sessionKey));
      platformDecrypt(res.body.encryptedData, session.sessionKey, res.body.iv);
    }
  });

  it("ends a session with its refresh family: 1001001 after 30 days", async () => {
    const { code } = await login();
    t.clock.advance(30 * 24 * 3600 * 1000 + 1000);
    expectError(await userInfo(code), 404, 1001001);
  });

  it("lists the dev endpoints in /openapi.json", async () => {
    const doc = await t.request("GET", "/openapi.json");
    for (const path of ["/dev/v1/tt/login", "/dev/v1/tt/check-session", "/dev/v1/tt/user-info"])
      assert.ok(doc.body.paths[path]?.post, `${path} documented`);
    assert.ok(doc.body.paths["/admin/v1/server-keys/session_key/rotate"]?.post);
  });
});

describe("dev endpoints in the emulator: open without the admin token", () => {
  it("mints and answers without a token; the admin API still needs one", async () => {
    const emu = await startEmulator();
    try {
      const res = await fetch(`${emu.baseUrl}/dev/v1/tt/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ app_id: emu.app.appId, user_id: emu.users[0]!.userId }),
      });
      assert.equal(res.status, 201);
      assert.match(((await res.json()) as { code: string }).code, /^[0-9a-f]{44}$/);
      const admin = await fetch(`${emu.baseUrl}/admin/v1/server-keys/session_key/rotate`, { method: "POST" });
      assert.equal(admin.status, 401);
    } finally {
      await emu.close();
    }
  });
});
