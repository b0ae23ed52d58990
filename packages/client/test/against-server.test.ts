// The client against the real mina-auth server (in-process, through mina-auth/testing):
// the full flow, then each documented error code the client can meet.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Emulator, startEmulator } from "mina-auth/testing";
import {
  type CachedToken,
  ErrorCodes,
  MinaApiError,
  MinaClient,
  type RequestLogDetails,
  type TokenCache,
} from "../src/index.ts";

const TENANT = "2c5914ac018f97";
const APP_A = { appId: "cli_0123456789abcdef", appSecret: "client-test-secret-a-7f3e9b1c5d2a4e68" };
const APP_B = { appId: "cli_fedcba9876543210", appSecret: "client-test-secret-b-1a2b3c4d5e6f7a8b" };

const seed = {
  tenants: [{ tenant_key: TENANT, name: "Acme" }],
  users: [
    {
      tenant_key: TENANT,
      user_id: "6c486g",
      name: "张三",
      en_name: "Zhang San",
      union_id: "on_94a1ee5551019f18cd73d9f111898cf2",
      email: "zhangsan@acme.test",
    },
    { tenant_key: TENANT, user_id: "8e6a8i", name: "王五", en_name: "Wang Wu" },
  ],
  apps: [
    {
      ...{ app_id: APP_A.appId, app_secret: APP_A.appSecret },
      name: "A",
      type: "self_built" as const,
      tenant_key: TENANT,
      scopes: ["contact:user.employee_id:readonly", "contact:user.email:readonly"],
      visibility: { users: ["6c486g"] },
    },
    {
      ...{ app_id: APP_B.appId, app_secret: APP_B.appSecret },
      name: "B",
      type: "self_built" as const,
      tenant_key: TENANT,
      scopes: [],
      visibility: "all" as const,
    },
  ],
};

let emu: Emulator;
let a: MinaClient;
let b: MinaClient;

before(async () => {
  emu = await startEmulator({ seed });
  a = new MinaClient({ ...APP_A, baseUrl: emu.baseUrl });
  b = new MinaClient({ ...APP_B, baseUrl: emu.baseUrl });
});
after(async () => {
  await emu?.close();
});

async function apiError(promise: Promise<unknown>): Promise<MinaApiError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof MinaApiError, `expected MinaApiError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a MinaApiError");
}

describe("against mina-auth (startEmulator)", () => {
  it("full flow: login → refresh → user_info", async () => {
    const code = await emu.mintCode({ userId: "6c486g", appId: APP_A.appId });
    const before = Date.now();
    const s = await a.tokenLoginValidate(code);
    assert.match(s.openId, /^ou_[0-9a-f]{32}$/);
    assert.equal(s.employeeId, "6c486g");
    assert.equal(s.tenantKey, TENANT);
    assert.match(s.accessToken, /^u-/);
    assert.match(s.refreshToken, /^ur-/);
    assert.ok(s.sessionKey.length >= 30);
    // expires_in is a Unix timestamp (seconds): about 6,900 s from now.
    const lifetime = (s.expiresAt.getTime() - before) / 1000;
    assert.ok(lifetime > 6800 && lifetime < 7000, `user token lifetime ${lifetime}s`);
    assert.equal(
      "union_id" in s.raw && typeof s.raw.union_id === "string" && s.raw.union_id.startsWith("on_"),
      false,
    );

    const r = await a.refreshUserAccessToken(s.refreshToken);
    assert.notEqual(r.accessToken, s.accessToken);
    assert.notEqual(r.refreshToken, s.refreshToken);
    assert.equal(r.tokenType, "Bearer");
    assert.ok(r.expiresAt.getTime() > Date.now() + 6000_000);
    assert.ok(r.refreshExpiresAt.getTime() > Date.now() + 29 * 24 * 3600_000);

    const u = await a.getUserInfo(r.accessToken);
    assert.equal(u.openId, s.openId);
    assert.equal(u.unionId, "on_94a1ee5551019f18cd73d9f111898cf2");
    assert.equal(u.tenantKey, TENANT);
    assert.equal(u.name, "张三");
    assert.equal(u.enName, "Zhang San");
    assert.equal(u.userId, "6c486g");
    assert.equal(u.email, "zhangsan@acme.test");
  });

  it("open_id differs across apps for the same user", async () => {
    const sa = await a.tokenLoginValidate(await emu.mintCode({ userId: "6c486g", appId: APP_A.appId }));
    const sb = await b.tokenLoginValidate(await emu.mintCode({ userId: "6c486g", appId: APP_B.appId }));
    assert.notEqual(sa.openId, sb.openId);
    assert.equal(sb.employeeId, undefined, "app B lacks the employee_id scope");
  });

  it(`${ErrorCodes.InvalidCode} invalid code`, async () => {
    const err = await apiError(a.tokenLoginValidate("0123456789abcdef0123456789abcdef"));
    assert.equal(err.code, ErrorCodes.InvalidCode);
    assert.equal(err.httpStatus, 200);
  });

  it(`${ErrorCodes.CodeAppIdNotMatch} code already used`, async () => {
    const code = await emu.mintCode({ userId: "6c486g", appId: APP_A.appId });
    await a.tokenLoginValidate(code);
    const err = await apiError(a.tokenLoginValidate(code));
    assert.equal(err.code, ErrorCodes.CodeAppIdNotMatch);
    assert.equal(err.httpStatus, 200);
  });

  it(`${ErrorCodes.CodeAppIdNotMatch} code of another app, which stays usable by its own app`, async () => {
    const code = await emu.mintCode({ userId: "6c486g", appId: APP_A.appId });
    const err = await apiError(b.tokenLoginValidate(code));
    assert.equal(err.code, ErrorCodes.CodeAppIdNotMatch);
    assert.equal((await a.tokenLoginValidate(code)).employeeId, "6c486g");
  });

  it(`${ErrorCodes.UserNoVisibility} user outside the app's visibility`, async () => {
    const code = await emu.mintCode({ userId: "8e6a8i", appId: APP_A.appId });
    const err = await apiError(a.tokenLoginValidate(code));
    assert.equal(err.code, ErrorCodes.UserNoVisibility);
    assert.equal(err.httpStatus, 200);
  });

  it(`${ErrorCodes.AccessTokenInvalid} / ${ErrorCodes.RefreshAppTokenInvalid}: a stale cached app token is evicted and the call retried`, async () => {
    const store = new Map<string, CachedToken>();
    const cache: TokenCache = { get: async (k) => store.get(k), set: async (k, v) => void store.set(k, v) };
    const logs: RequestLogDetails[] = [];
    const c = new MinaClient({
      ...APP_A,
      baseUrl: emu.baseUrl,
      tokenCache: cache,
      logger: { debug: (_m, d) => logs.push(d) },
    });
    const key = `mina-auth:app_access_token:${emu.baseUrl}:${APP_A.appId}`;
    const stale = { token: `t-${"0".repeat(64)}`, expiresAt: Date.now() + 3600_000 };

    store.set(key, stale);
    const s = await c.tokenLoginValidate(await emu.mintCode({ userId: "6c486g", appId: APP_A.appId }));
    assert.deepEqual(
      logs.map((l) => [l.path.split("/").at(-1), l.code]),
      [
        ["tokenLoginValidate", ErrorCodes.AccessTokenInvalid],
        ["internal", 0],
        ["tokenLoginValidate", 0],
      ],
    );

    logs.length = 0;
    store.set(key, stale);
    await c.refreshUserAccessToken(s.refreshToken);
    assert.deepEqual(
      logs.map((l) => [l.path.split("/").at(-1), l.code]),
      [
        ["refresh_access_token", ErrorCodes.RefreshAppTokenInvalid],
        ["internal", 0],
        ["refresh_access_token", 0],
      ],
    );
  });

  it(`${ErrorCodes.AppSecretInvalid} wrong app secret, ${ErrorCodes.InvalidParam} unknown app`, async () => {
    const wrong = new MinaClient({ appId: APP_A.appId, appSecret: "not-the-secret", baseUrl: emu.baseUrl });
    const e1 = await apiError(wrong.tokenLoginValidate("0123456789abcdef0123456789abcdef"));
    assert.equal(e1.code, ErrorCodes.AppSecretInvalid);
    assert.equal(e1.path, "/open-apis/auth/v3/app_access_token/internal");
    const unknown = new MinaClient({
      appId: "cli_0000000000000000",
      appSecret: "x-secret",
      baseUrl: emu.baseUrl,
    });
    const e2 = await apiError(unknown.tokenLoginValidate("0123456789abcdef0123456789abcdef"));
    assert.equal(e2.code, ErrorCodes.InvalidParam);
  });

  it(`${ErrorCodes.RefreshTokenInvalid} unknown refresh token`, async () => {
    const err = await apiError(a.refreshUserAccessToken(`ur-${"A".repeat(43)}`));
    assert.equal(err.code, ErrorCodes.RefreshTokenInvalid);
  });

  it(`${ErrorCodes.RefreshTokenReused} rotated refresh token presented again`, async () => {
    const s = await a.tokenLoginValidate(await emu.mintCode({ userId: "6c486g", appId: APP_A.appId }));
    await a.refreshUserAccessToken(s.refreshToken);
    const err = await apiError(a.refreshUserAccessToken(s.refreshToken));
    assert.equal(err.code, ErrorCodes.RefreshTokenReused);
  });

  it(`${ErrorCodes.RefreshTokenOtherApp} refresh token of another app`, async () => {
    const s = await a.tokenLoginValidate(await emu.mintCode({ userId: "6c486g", appId: APP_A.appId }));
    const err = await apiError(b.refreshUserAccessToken(s.refreshToken));
    assert.equal(err.code, ErrorCodes.RefreshTokenOtherApp);
  });

  it(`${ErrorCodes.UserAccessTokenInvalid} unknown user token on user_info`, async () => {
    const err = await apiError(a.getUserInfo(`u-${"A".repeat(43)}`));
    assert.equal(err.code, ErrorCodes.UserAccessTokenInvalid);
    assert.equal(err.httpStatus, 400);
  });
});

describe("against mina-auth with a manual clock: expiries", () => {
  const clock = { current: Date.UTC(2026, 0, 1), now: () => clock.current };
  let emu2: Emulator;
  let c: MinaClient;
  before(async () => {
    emu2 = await startEmulator({ seed, clock });
    c = new MinaClient({ ...APP_A, baseUrl: emu2.baseUrl });
  });
  after(async () => {
    await emu2?.close();
  });

  it(`${ErrorCodes.InvalidCode} a code older than 3 minutes`, async () => {
    const code = await emu2.mintCode({ userId: "6c486g", appId: APP_A.appId });
    clock.current += 181_000;
    const err = await apiError(c.tokenLoginValidate(code));
    assert.equal(err.code, ErrorCodes.InvalidCode);
  });

  it(`${ErrorCodes.RefreshTokenExpired} a refresh token past its 30 days`, async () => {
    const s = await c.tokenLoginValidate(await emu2.mintCode({ userId: "6c486g", appId: APP_A.appId }));
    assert.equal(
      s.expiresAt.getTime(),
      clock.current + 6900_000,
      "expires_in is the server clock's timestamp",
    );
    clock.current += 31 * 24 * 3600_000;
    // The app token expired too: the client's cache does not know the server's clock, so the
    // server answers 20014 first and the client refetches once, then gets the real answer.
    const err = await apiError(c.refreshUserAccessToken(s.refreshToken));
    assert.equal(err.code, ErrorCodes.RefreshTokenExpired);
  });
});
