// Vitest — npm run test:vitest (vitest.config.ts includes *.vitest.ts only)
import { MinaApiError, MinaClient } from "@mina-auth/client";
import { type Emulator, startEmulator } from "mina-auth/testing";
import { afterAll, beforeAll, expect, test } from "vitest";
import { buildApp } from "./app.ts";

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(() => emu.close());

test("a mini-program user logs in once", async () => {
  const client = new MinaClient({ appId: emu.app.appId, appSecret: emu.app.appSecret, baseUrl: emu.baseUrl });
  const code = await emu.mintCode({ userId: emu.users[0]!.userId });
  const session = await client.tokenLoginValidate(code);
  expect(session.employeeId).toBe(emu.users[0]!.userId);
  await expect(client.tokenLoginValidate(code)).rejects.toBeInstanceOf(MinaApiError); // 10213: codes work once
});

test("the login route: 400 without a code, 500 with a wrong app secret", async () => {
  const app = buildApp({ appId: emu.app.appId, appSecret: emu.app.appSecret, baseUrl: emu.baseUrl });
  expect((await app.inject({ method: "POST", url: "/login", payload: {} })).statusCode).toBe(400);
  const misconfigured = buildApp({
    appId: emu.app.appId,
    appSecret: "not-the-secret-0000",
    baseUrl: emu.baseUrl,
  });
  const code = await emu.mintCode({ userId: emu.users[0]!.userId });
  expect((await misconfigured.inject({ method: "POST", url: "/login", payload: { code } })).statusCode).toBe(
    500,
  );
});
