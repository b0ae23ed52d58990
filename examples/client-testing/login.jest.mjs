// Jest — npm run test:jest. Both packages are ESM, so Jest runs with
// NODE_OPTIONS=--experimental-vm-modules; package.json's "jest" key picks *.jest.mjs only.
import { MinaApiError, MinaClient } from "@mina-auth/client";
import { startEmulator } from "mina-auth/testing";

let emu;
beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(() => emu.close());

test("a mini-program user logs in once", async () => {
  const client = new MinaClient({ appId: emu.app.appId, appSecret: emu.app.appSecret, baseUrl: emu.baseUrl });
  const code = await emu.mintCode({ userId: emu.users[0].userId });
  const session = await client.tokenLoginValidate(code);
  expect(session.employeeId).toBe(emu.users[0].userId);
  await expect(client.tokenLoginValidate(code)).rejects.toBeInstanceOf(MinaApiError);
});

test("a user outside the app's visibility is refused with 10228", async () => {
  const client = new MinaClient({ appId: emu.app.appId, appSecret: emu.app.appSecret, baseUrl: emu.baseUrl });
  const outsider = emu.users.find((u) => u.userId === "8e6a8i");
  const code = await emu.mintCode({ userId: outsider.userId });
  await expect(client.tokenLoginValidate(code)).rejects.toMatchObject({ code: 10228 });
});
