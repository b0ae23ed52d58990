/**
 * The tt shim against the real emulator on loopback (issue 18): both call styles, the result
 * shapes, every errno it documents, switching users, and its getUserInfo output decrypted by
 * node:crypto alone following the platform sample's steps.
 */
import assert from "node:assert/strict";
import { createDecipheriv, createHash } from "node:crypto";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { defaultConfig, demoSeed, startServer } from "mina-auth";
import { type Emulator, startEmulator } from "mina-auth/testing";
import { createTt, Errno, type Tt, TtError, type TtFail } from "../src/index.ts";

const ZHANG = "6c486g";
const LI = "7d597h";

/** tokenLoginValidate as a backend does it: the session_key comes back. */
async function backendLogin(
  emu: Emulator,
  code: string,
): Promise<{ sessionKey: string; employeeId: string }> {
  const tokenRes = await fetch(`${emu.baseUrl}/open-apis/auth/v3/app_access_token/internal`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ app_id: emu.app.appId, app_secret: emu.app.appSecret }),
  });
  const { app_access_token } = (await tokenRes.json()) as { app_access_token: string };
  const res = await fetch(`${emu.baseUrl}/open-apis/mina/v2/tokenLoginValidate`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${app_access_token}` },
    body: JSON.stringify({ code }),
  });
  const body = (await res.json()) as { code: number; data: { session_key: string; employee_id: string } };
  assert.equal(body.code, 0);
  return { sessionKey: body.data.session_key, employeeId: body.data.employee_id };
}

/** Expects a rejection with that errno and an errMsg of `<api>:fail …`. */
async function failsWith(promise: Promise<unknown>, api: string, errno: number): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TtError, String(error));
    assert.equal(error.errno, errno, error.errMsg);
    assert.ok(error.errMsg.startsWith(`${api}:fail `), error.errMsg);
    return true;
  });
}

async function freePortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

describe("@mina-auth/tt against the emulator", () => {
  let emu: Emulator;
  let tt: Tt;
  before(async () => {
    emu = await startEmulator();
  });
  after(() => emu.close());
  const fresh = (userId = ZHANG) => {
    tt = createTt({ baseUrl: emu.baseUrl, appId: emu.app.appId, userId });
    return tt;
  };

  it("login: {errMsg: 'login:ok', code}, a code the backend exchanges for that user", async () => {
    const result = await fresh().login();
    assert.equal(result.errMsg, "login:ok");
    assert.match(result.code, /^[0-9a-f]{44}$/);
    assert.equal((await backendLogin(emu, result.code)).employeeId, ZHANG);
  });

  it("requestAccess in callback style: success then complete, state echoed, fail never called", async () => {
    const calls: string[] = [];
    const result = await fresh().requestAccess({
      scopeList: ["contact:user.employee_id:readonly"],
      state: "s-1",
      success: (res) => calls.push(`success ${res.errMsg} ${res.state}`),
      fail: () => calls.push("fail"),
      complete: () => calls.push("complete"),
    });
    assert.deepEqual(calls, ["success requestAccess:ok s-1", "complete"]);
    assert.match(result.code, /^[0-9a-f]{44}$/);
  });

  it("requestAccess's scopeList is what the code grants: [] the identity alone, tt.login every scope", async () => {
    const identityOnly = await fresh().requestAccess({ scopeList: [] });
    assert.equal((await backendLogin(emu, identityOnly.code)).employeeId, undefined);
    const granted = await fresh().requestAccess({ scopeList: ["contact:user.employee_id:readonly"] });
    assert.equal((await backendLogin(emu, granted.code)).employeeId, ZHANG);
    assert.equal((await backendLogin(emu, (await fresh().login()).code)).employeeId, ZHANG);
  });

  it("2700002 when the user refuses requestAccess, in both styles; granting again works", async () => {
    fresh().refuseAccess();
    await failsWith(tt.requestAccess({ scopeList: [] }), "requestAccess", Errno.userRefused);
    const seen: Array<TtFail | string> = [];
    const resolved = await tt.requestAccess({
      scopeList: [],
      fail: (error) => seen.push(error),
      complete: () => seen.push("complete"),
    });
    assert.equal(resolved, undefined, "with a fail callback the promise resolves");
    assert.deepEqual(seen, [
      {
        errMsg: "requestAccess:fail user refused the authorization",
        errno: 2700002,
        errString: "user refused the authorization",
      },
      "complete",
    ]);
    tt.refuseAccess(false);
    assert.equal((await tt.requestAccess({ scopeList: [] })).errMsg, "requestAccess:ok");
  });

  it("2700001 when no session can be had: unknown user, a scope the app lacks, no server", async () => {
    await failsWith(fresh("nobody").login(), "login", Errno.cannotGetSession);
    await failsWith(
      fresh().requestAccess({ scopeList: ["contact:user.phone:readonly"] }),
      "requestAccess",
      Errno.cannotGetSession,
    );
    const gone = createTt({ baseUrl: await freePortUrl(), appId: emu.app.appId, userId: ZHANG });
    await failsWith(gone.login(), "login", Errno.cannotGetSession);
  });

  it("checkSession: 1001001 before login and before the backend's exchange; ok once exchanged", async () => {
    await failsWith(fresh().checkSession(), "checkSession", Errno.invalidSession);
    const { code } = await tt.login();
    await failsWith(tt.checkSession(), "checkSession", Errno.invalidSession);
    await backendLogin(emu, code);
    assert.deepEqual(await tt.checkSession(), { errMsg: "checkSession:ok" });
  });

  it("getUserInfo with credentials: 1001001 before login, before the exchange, and after a revocation", async () => {
    await failsWith(fresh().getUserInfo({ withCredentials: true }), "getUserInfo", Errno.invalidSession);
    const { code } = await tt.login();
    await failsWith(tt.getUserInfo({ withCredentials: true }), "getUserInfo", Errno.invalidSession);
    await backendLogin(emu, code);
    assert.equal((await tt.getUserInfo({ withCredentials: true })).errMsg, "getUserInfo:ok");

    const sessions = await fetch(`${emu.baseUrl}/admin/v1/sessions?user_id=${ZHANG}&active=true&limit=100`, {
      headers: { authorization: `Bearer ${emu.adminToken}` },
    });
    for (const s of ((await sessions.json()) as { sessions: Array<{ session_id: string }> }).sessions)
      await fetch(`${emu.baseUrl}/admin/v1/sessions/${s.session_id}/revoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${emu.adminToken}` },
      });
    await failsWith(tt.getUserInfo({ withCredentials: true }), "getUserInfo", Errno.invalidSession);
    await failsWith(tt.checkSession(), "checkSession", Errno.invalidSession);
  });

  it("getUserInfo without credentials: userInfo and rawData only", async () => {
    const result = await fresh().getUserInfo();
    assert.deepEqual(Object.keys(result).sort(), ["errMsg", "rawData", "userInfo"]);
    assert.equal(result.rawData, JSON.stringify(result.userInfo));
    assert.equal(result.userInfo.nickName, emu.users.find((u) => u.userId === ZHANG)!.name);
  });

  it("errno 100 for any other refusal (an unknown user's getUserInfo)", async () => {
    await failsWith(fresh("nobody").getUserInfo(), "getUserInfo", Errno.unknown);
  });

  it("switchUser: the next login is the other user's, and the old session is forgotten", async () => {
    const { code } = await fresh().login();
    await backendLogin(emu, code);
    await tt.checkSession();
    tt.switchUser(LI);
    await failsWith(tt.checkSession(), "checkSession", Errno.invalidSession);
    const next = await tt.login();
    assert.equal((await backendLogin(emu, next.code)).employeeId, LI);
    const info = await tt.getUserInfo({ withCredentials: true });
    assert.equal(info.userInfo.nickName, emu.users.find((u) => u.userId === LI)!.name);
  });

  it("its getUserInfo output verifies and decrypts with node:crypto alone, as the platform sample does", async () => {
    const { code } = await fresh().login();
    const { sessionKey } = await backendLogin(emu, code);
    const res = await tt.getUserInfo({ withCredentials: true });
    // Signature: sha1(rawData + session_key), hex.
    assert.equal(
      res.signature,
      createHash("sha1")
        .update(res.rawData + sessionKey)
        .digest("hex"),
    );
    // The sample's steps: key and iv hex-decoded, AES-128-CBC, PKCS#7, encryptedData base64.
    const decipher = createDecipheriv(
      "aes-128-cbc",
      Buffer.from(sessionKey, "hex"),
      Buffer.from(res.iv!, "hex"),
    );
    const plain = JSON.parse(decipher.update(res.encryptedData!, "base64", "utf8") + decipher.final("utf8"));
    assert.match(plain.openId, /^ou_[0-9a-f]{32}$/);
    assert.equal(plain.unionId, emu.users.find((u) => u.userId === ZHANG)!.unionId);
    assert.equal(plain.watermark.appid, emu.app.appId);
    assert.ok(Math.abs(plain.watermark.timestamp - Date.now() / 1000) < 60);
  });
});

describe("@mina-auth/tt against a served instance: the admin token", () => {
  it("works with adminToken, and answers 2700001 without it", async () => {
    const server = await startServer({
      config: {
        ...defaultConfig,
        host: "127.0.0.1",
        port: 0,
        db: "sqlite::memory:",
        logLevel: "silent",
        purgeIntervalMs: 0,
      },
      seed: demoSeed,
    });
    try {
      const appId = demoSeed.apps?.[0]?.app_id ?? "";
      const adminToken = server.adminToken;
      assert.ok(adminToken, "a token generated at this start is known to its process");
      const withToken = createTt({ baseUrl: server.url, appId, userId: ZHANG, adminToken });
      assert.equal((await withToken.login()).errMsg, "login:ok");
      const without = createTt({ baseUrl: server.url, appId, userId: ZHANG });
      await assert.rejects(without.login(), (error: TtError) => {
        assert.equal(error.errno, Errno.cannotGetSession);
        assert.equal(error.errMsg, "login:fail admin token missing or invalid");
        return true;
      });
    } finally {
      await server.close();
    }
  });
});
