import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createTt, type Tt } from "@mina-auth/tt";
import { type Emulator, startEmulator } from "mina-auth/testing";
import { buildLoginApp } from "./app.ts";

describe("the example backend's login route, against the emulator", () => {
  let emu: Emulator;
  let app: ReturnType<typeof buildLoginApp>;
  before(async () => {
    emu = await startEmulator();
    app = buildLoginApp({ appId: emu.app.appId, appSecret: emu.app.appSecret, baseUrl: emu.baseUrl });
  });
  after(async () => {
    await app.close();
    await emu.close();
  });

  it("logs a mini-program user in, then reads their profile through a refresh", async () => {
    const user = emu.users[0]!;
    const code = await emu.mintCode({ userId: user.userId });
    const login = await app.inject({ method: "POST", url: "/login", payload: { code } });
    assert.equal(login.statusCode, 200, login.body);
    assert.equal(login.json().employeeId, user.userId);
    assert.match(login.json().openId, /^ou_[0-9a-f]{32}$/);

    const me = await app.inject({ method: "GET", url: "/me", headers: { "x-session": login.json().sid } });
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().unionId, user.unionId);
    const again = await app.inject({ method: "GET", url: "/me", headers: { "x-session": login.json().sid } });
    assert.equal(again.statusCode, 200, "the rotated refresh token was kept");
  });

  it("refuses a code used twice (10213) and a user outside the app's visibility (10228)", async () => {
    const code = await emu.mintCode({ userId: emu.users[0]!.userId });
    assert.equal((await app.inject({ method: "POST", url: "/login", payload: { code } })).statusCode, 200);
    const replay = await app.inject({ method: "POST", url: "/login", payload: { code } });
    assert.deepEqual(replay.json(), { error: "login failed", code: 10213 });

    const outsider = emu.users.find((u) => u.userId === "8e6a8i")!;
    const denied = await app.inject({
      method: "POST",
      url: "/login",
      payload: { code: await emu.mintCode({ userId: outsider.userId }) },
    });
    assert.equal(denied.statusCode, 403);
    assert.equal(denied.json().code, 10228);
  });

  it("answers 400 without a code and 401 for a code that never existed", async () => {
    assert.equal((await app.inject({ method: "POST", url: "/login", payload: {} })).statusCode, 400);
    assert.equal(
      (await app.inject({ method: "POST", url: "/login", payload: { code: "" } })).statusCode,
      400,
    );
    const bogus = await app.inject({ method: "POST", url: "/login", payload: { code: "0".repeat(44) } });
    assert.deepEqual(bogus.json(), { error: "login failed", code: 10226 });
  });

  it("answers 500, not 401, when its own app secret is wrong: misconfiguration is the backend's", async () => {
    const misconfigured = buildLoginApp({
      appId: emu.app.appId,
      appSecret: "not-the-secret-0000",
      baseUrl: emu.baseUrl,
    });
    try {
      const code = await emu.mintCode({ userId: emu.users[0]!.userId });
      const answer = await misconfigured.inject({ method: "POST", url: "/login", payload: { code } });
      assert.equal(answer.statusCode, 500);
      assert.doesNotMatch(answer.body, /not-the-secret/, "the secret is not echoed");
    } finally {
      await misconfigured.close();
    }
  });
});

describe("the whole story from the device: requestAccess → /login → getUserInfo → /profile", () => {
  let emu: Emulator;
  let app: ReturnType<typeof buildLoginApp>;
  let tt: Tt;
  before(async () => {
    emu = await startEmulator();
    app = buildLoginApp({ appId: emu.app.appId, appSecret: emu.app.appSecret, baseUrl: emu.baseUrl });
    // The one line a mini program's unit tests add:
    tt = createTt({ baseUrl: emu.baseUrl, appId: emu.app.appId, userId: emu.users[0]!.userId });
  });
  after(async () => {
    await app.close();
    await emu.close();
  });

  /** What the mini program does: get a code, log in to its backend, then read the user's data. */
  async function deviceLogin(): Promise<string> {
    const { code } = await tt.requestAccess({ scopeList: [] });
    const login = await app.inject({ method: "POST", url: "/login", payload: { code } });
    assert.equal(login.statusCode, 200, login.body);
    return login.json().sid;
  }
  const postProfile = (sid: string, payload: object) =>
    app.inject({ method: "POST", url: "/profile", headers: { "x-session": sid }, payload });

  it("the backend verifies the signature, decrypts, and answers the profile", async () => {
    const sid = await deviceLogin();
    const info = await tt.getUserInfo({ withCredentials: true });
    const profile = await postProfile(sid, info);
    assert.equal(profile.statusCode, 200, profile.body);
    const user = emu.users[0]!;
    assert.deepEqual(profile.json(), {
      nickName: user.name,
      openId: profile.json().openId,
      unionId: user.unionId,
      email: user.email,
    });
    assert.match(profile.json().openId, /^ou_[0-9a-f]{32}$/);
  });

  it("refuses tampered rawData (signature_mismatch) and another session's data (signature_mismatch)", async () => {
    const sid = await deviceLogin();
    const info = await tt.getUserInfo({ withCredentials: true });
    const tampered = await postProfile(sid, {
      ...info,
      rawData: info.rawData.replace(/"nickName":"[^"]*"/, '"nickName":"x"'),
    });
    assert.equal(tampered.statusCode, 422);
    assert.equal(tampered.json().check, "signature_mismatch");

    const otherSid = await deviceLogin(); // a later login: its own session_key
    const older = await postProfile(otherSid, info);
    assert.equal(older.statusCode, 422);
    assert.equal(older.json().check, "signature_mismatch");
  });

  it("refuses data past its freshness window (watermark_expired) and answers 400/401 for bad requests", async () => {
    const strict = buildLoginApp({
      appId: emu.app.appId,
      appSecret: emu.app.appSecret,
      baseUrl: emu.baseUrl,
      userDataMaxAgeMs: -1, // every watermark is already too old
    });
    try {
      const { code } = await tt.login();
      const sid = (await strict.inject({ method: "POST", url: "/login", payload: { code } })).json().sid;
      const info = await tt.getUserInfo({ withCredentials: true });
      const stale = await strict.inject({
        method: "POST",
        url: "/profile",
        headers: { "x-session": sid },
        payload: info,
      });
      assert.equal(stale.statusCode, 422);
      assert.equal(stale.json().check, "watermark_expired");
    } finally {
      await strict.close();
    }
    assert.equal((await postProfile("nope", {})).statusCode, 401);
    assert.equal((await postProfile(await deviceLogin(), { rawData: "{}" })).statusCode, 400);
  });
});
