// docs/testing-your-backend.md, with node:test: `node --import tsx --test node-test/backend.test.ts`
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { type Emulator, startEmulator } from "mina-auth/testing";
import { Backend } from "../backend.ts";

const LOGIN = "/open-apis/mina/v2/tokenLoginValidate";
const APP_TOKEN = "/open-apis/auth/v3/app_access_token/internal";
const REFRESH = "/open-apis/authen/v1/oidc/refresh_access_token";
const USER_INFO = "/open-apis/authen/v1/user_info";

describe("the backend on the platform's bad days (node:test)", () => {
  let emu: Emulator;
  let backend: Backend;
  let since: number;
  before(async () => {
    emu = await startEmulator({ clock: "manual" });
  });
  after(() => emu.close());
  beforeEach(async () => {
    await emu.faults.clear();
    backend = new Backend({ appId: emu.app.appId, appSecret: emu.app.appSecret, baseUrl: emu.baseUrl });
    since = emu.journal().at(-1)?.seq ?? 0; // only this test's requests from here on
  });
  const code = () => emu.mintCode({ userId: emu.users[0]!.userId });
  const codes = (route: string) => emu.journal({ since, route }).map((entry) => entry.code);

  it("the app token is rejected mid-flight: one refetch, one retry, the login succeeds", async () => {
    await emu.faults.add({ match: { path: LOGIN }, effect: { type: "answer", code: 99991663 }, times: 1 });
    const result = await backend.login(await code());
    assert.ok("sid" in result);
    assert.deepEqual(codes(LOGIN), [99991663, 0]);
    assert.equal(codes(APP_TOKEN).length, 2); // the first fetch, and one after the rejection
  });

  it("a code expired before the exchange: the backend says so", async () => {
    const expiring = await code();
    emu.clock.advance(3 * 60_000); // codes live 3 minutes
    assert.deepEqual(await backend.login(expiring), { error: "code_expired", code: 10226 });
  });

  it("a lost reply on refresh: the retry meets a spent token, the user logs in again", async () => {
    const login = await backend.login(await code());
    assert.ok("sid" in login);
    emu.clock.advance(2 * 3600_000); // the user token is past its 2 hours
    await emu.faults.add({ match: { path: REFRESH }, effect: { type: "commit_then_drop" }, times: 1 });
    assert.deepEqual(await backend.me(login.sid), { error: "login_again" });
    // 20014 first: the server's app token expired with the jump, the client's clock did not
    // move, so the client learns it from the rejection and refetches. Then no answer (the
    // lost reply), then the backend's retry: 20038, the refresh token was already used.
    assert.deepEqual(codes(REFRESH), [20014, null, 20038]);
  });

  it("a two-hour token expiry in a second: one refresh, then the answer", async () => {
    const login = await backend.login(await code());
    assert.ok("sid" in login);
    emu.clock.advance(2 * 3600_000);
    assert.deepEqual(await backend.me(login.sid), { name: emu.users[0]!.name });
    assert.deepEqual(codes(USER_INFO), [99991668, 0]);
    assert.deepEqual(codes(REFRESH), [20014, 0]); // 20014: the app token expired too (see above)
  });
});
