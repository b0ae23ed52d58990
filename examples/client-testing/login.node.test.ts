// node:test — npm run test:node (node --import tsx --test login.node.test.ts)
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Emulator, startEmulator } from "mina-auth/testing";
import { buildApp } from "./app.ts";

let emu: Emulator;
before(async () => {
  emu = await startEmulator(); // demo data, free loopback port
});
after(() => emu.close());

test("a mini-program user logs in once; bad input is a 400, a wrong app secret a 500", async () => {
  const app = buildApp({ appId: emu.app.appId, appSecret: emu.app.appSecret, baseUrl: emu.baseUrl });
  const code = await emu.mintCode({ userId: emu.users[0]!.userId }); // what tt.login returns
  const ok = await app.inject({ method: "POST", url: "/login", payload: { code } });
  assert.equal(ok.statusCode, 200);
  assert.equal(ok.json().employeeId, emu.users[0]!.userId);

  const again = await app.inject({ method: "POST", url: "/login", payload: { code } }); // codes work once
  assert.equal(again.statusCode, 401);
  assert.deepEqual(again.json(), { error: "login failed", code: 10213 });

  assert.equal((await app.inject({ method: "POST", url: "/login", payload: {} })).statusCode, 400);
  const misconfigured = buildApp({
    appId: emu.app.appId,
    appSecret: "not-the-secret-0000",
    baseUrl: emu.baseUrl,
  });
  const fresh = await emu.mintCode({ userId: emu.users[0]!.userId });
  const failed = await misconfigured.inject({ method: "POST", url: "/login", payload: { code: fresh } });
  assert.equal(failed.statusCode, 500);
});
