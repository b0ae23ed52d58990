// exchangeCode against the real mina-auth server (in-process, through mina-auth/testing): the
// OIDC door and the v2 token endpoint, offline_access, PKCE, and their failures.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type Emulator, startEmulator } from "mina-auth/testing";
import { ErrorCodes, MinaApiError, MinaClient } from "../src/index.ts";

const TENANT = "2c5914ac018f97";
const APP = { appId: "cli_0a1b2c3d4e5f6a7b", appSecret: "exchange-code-test-secret-5e6f7a8b9c0d" };
const USER = "6c486g";
const EMPLOYEE_ID = "contact:user.employee_id:readonly";

const seed = {
  tenants: [{ tenant_key: TENANT, name: "Acme" }],
  users: [{ tenant_key: TENANT, user_id: USER, name: "张三", en_name: "Zhang San" }],
  apps: [
    {
      app_id: APP.appId,
      app_secret: APP.appSecret,
      name: "A",
      type: "self_built" as const,
      tenant_key: TENANT,
      scopes: [EMPLOYEE_ID, "offline_access"],
      visibility: "all" as const,
    },
  ],
};

describe("MinaClient.exchangeCode", () => {
  let emu: Emulator;
  let client: MinaClient;
  before(async () => {
    emu = await startEmulator({ seed });
    client = new MinaClient({ ...APP, baseUrl: emu.baseUrl });
  });
  after(() => emu.close());

  it("the OIDC door (default): tokens, the granted scope, and getUserInfo with them", async () => {
    const code = await emu.mintCode({ userId: USER, scopes: [EMPLOYEE_ID] });
    const started = Date.now();
    const tokens = await client.exchangeCode(code);
    assert.match(tokens.accessToken, /^u-/);
    assert.match(tokens.refreshToken ?? "", /^ur-/);
    assert.equal(tokens.tokenType, "Bearer");
    assert.equal(tokens.scope, EMPLOYEE_ID);
    assert.ok(tokens.expiresAt.getTime() >= started + 6899_000);
    assert.ok((tokens.refreshExpiresAt?.getTime() ?? 0) > started + 29 * 24 * 3600_000);
    assert.equal(tokens.raw.scope, EMPLOYEE_ID);
    assert.equal((await client.getUserInfo(tokens.accessToken)).userId, USER);
  });

  it("the v2 door: a refresh token only with offline_access", async () => {
    const offline = await client.exchangeCode(
      await emu.mintCode({ userId: USER, scopes: ["offline_access"] }),
      {
        door: "v2",
      },
    );
    assert.match(offline.refreshToken ?? "", /^ur-/);
    assert.ok(offline.refreshExpiresAt instanceof Date);
    assert.equal(offline.scope, "offline_access");
    assert.equal(offline.raw.code, 0);

    const online = await client.exchangeCode(await emu.mintCode({ userId: USER, scopes: [EMPLOYEE_ID] }), {
      door: "v2",
    });
    assert.equal(online.refreshToken, undefined);
    assert.equal(online.refreshExpiresAt, undefined);
  });

  it("the v2 door with PKCE: the codeVerifier of the code's challenge", async () => {
    const verifier = "a".repeat(20) + createHash("sha256").update("pkce").digest("hex").slice(0, 30);
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const code = await emu.mintCode({ userId: USER, codeChallenge: challenge });
    await assert.rejects(client.exchangeCode(code, { door: "v2" }), (error: unknown) => {
      assert.ok(error instanceof MinaApiError);
      assert.equal(error.code, ErrorCodes.OAuthPkceFailed);
      assert.equal(error.httpStatus, 400);
      assert.match(error.msg, /code_verifier/, "the msg comes from error_description");
      return true;
    });
    assert.match(
      (await client.exchangeCode(code, { door: "v2", codeVerifier: verifier })).accessToken,
      /^u-/,
    );
  });

  it("a code works once, whichever door: the OIDC door answers 20003, v2 answers 20065", async () => {
    const code = await emu.mintCode({ userId: USER });
    await client.tokenLoginValidate(code);
    await assert.rejects(
      client.exchangeCode(code),
      (error) => error instanceof MinaApiError && error.code === 20003,
    );
    await assert.rejects(
      client.exchangeCode(code, { door: "v2" }),
      (error) =>
        error instanceof MinaApiError && error.code === ErrorCodes.OAuthCodeUsed && !error.msg.includes(code),
    );
  });

  it("refuses a codeVerifier without the v2 door, and an unknown door, before any request", async () => {
    await assert.rejects(client.exchangeCode("c".repeat(44), { codeVerifier: "v".repeat(43) }), TypeError);
    await assert.rejects(client.exchangeCode("c".repeat(44), { door: "v3" as "v2" }), TypeError);
  });
});
