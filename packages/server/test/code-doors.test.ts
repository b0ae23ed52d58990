/**
 * The doors a login code can be redeemed at besides tokenLoginValidate, over HTTP on a real
 * SQLite file: authen/v1/oidc/access_token (`{code, msg, data}`, HTTP 200) and
 * authen/v2/oauth/token (RFC 6749: flat success, `{code, error, error_description}` with
 * 400/503). Every code either door answers is provoked here; one code is redeemed once across
 * all three doors; a code's granted scopes reach `scope` and user_info; PKCE S256 and plain.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { Paths } from "@mina-auth/protocol";
import { demoSeed } from "../src/demo-seed.ts";
import type { SeedFile } from "../src/domain/seed.ts";
import {
  ADMIN_TOKEN,
  assertEnvelope,
  DEMO,
  startTestServer,
  type TestResponse,
  type TestServer,
} from "./harness.ts";

const EMPLOYEE_ID = "contact:user.employee_id:readonly";
const EMAIL = "contact:user.email:readonly";
const OFFLINE = "offline_access";

/** The demo seed, its self-built app also holding offline_access. */
function seedWithOfflineAccess(): SeedFile {
  const seed = structuredClone(demoSeed) as SeedFile;
  const app = seed.apps!.find((a) => a.app_id === DEMO.appId)!;
  app.scopes = [...(app.scopes ?? []), OFFLINE];
  return seed;
}

interface MintOptions {
  userId?: string;
  appId?: string;
  tenantKey?: string;
  scopes?: string[];
  challenge?: string;
  method?: "S256" | "plain";
}

async function mint(t: TestServer, options: MintOptions = {}): Promise<string> {
  const res = await t.request("POST", "/admin/v1/login-codes", {
    token: ADMIN_TOKEN,
    body: {
      app_id: options.appId ?? DEMO.appId,
      user_id: options.userId ?? DEMO.visibleUser,
      ...(options.tenantKey ? { tenant_key: options.tenantKey } : {}),
      ...(options.scopes ? { scopes: options.scopes } : {}),
      ...(options.challenge ? { code_challenge: options.challenge } : {}),
      ...(options.method ? { code_challenge_method: options.method } : {}),
    },
  });
  assert.equal(res.status, 201, res.text);
  return res.body.code as string;
}

const oidc = (t: TestServer, token: string | undefined, body: unknown) =>
  t.request("POST", Paths.oidcAccessToken, { ...(token ? { token } : {}), body });

const v2 = (t: TestServer, body: Record<string, unknown>) => t.request("POST", Paths.oauthToken, { body });
const client = { client_id: DEMO.appId, client_secret: DEMO.appSecret };
const codeGrant = (t: TestServer, code: string, extra: Record<string, unknown> = {}) =>
  v2(t, { grant_type: "authorization_code", ...client, code, ...extra });
const refreshGrant = (t: TestServer, refreshToken: string) =>
  v2(t, { grant_type: "refresh_token", ...client, refresh_token: refreshToken });

/** The v2 failure shape: exactly `{code, error, error_description}`, that code, error and status. */
function assertOAuthError(res: TestResponse, code: number, error: string, status = 400): void {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), ["code", "error", "error_description"], res.text);
  assert.equal(res.body.code, code, res.text);
  assert.equal(res.body.error, error, res.text);
  assert.ok(res.body.error_description.length > 0, res.text);
}

const verifier = () => createHash("sha256").update(String(Math.random())).digest("hex").slice(0, 50);
const s256 = (v: string) => createHash("sha256").update(v).digest("base64url");

describe("authen/v1/oidc/access_token", () => {
  let t: TestServer;
  let app: string;
  before(async () => {
    t = await startTestServer({ seed: seedWithOfflineAccess() });
    app = await t.appToken();
  });
  after(() => t.close());

  it("exchanges a code for tokens; scope and user_info follow the code's granted scopes", async () => {
    const code = await mint(t, { scopes: [EMPLOYEE_ID] });
    const res = await oidc(t, app, { grant_type: "authorization_code", code });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.code, 0);
    assert.equal(res.body.msg, "success");
    const { data } = res.body;
    assert.deepEqual(Object.keys(data).sort(), [
      "access_token",
      "expires_in",
      "refresh_expires_in",
      "refresh_token",
      "scope",
      "token_type",
    ]);
    assert.match(data.access_token, /^u-/);
    assert.match(data.refresh_token, /^ur-/);
    assert.equal(data.token_type, "Bearer");
    assert.equal(data.expires_in, 6900);
    assert.equal(data.refresh_expires_in, 30 * 24 * 3600);
    assert.equal(data.scope, EMPLOYEE_ID);
    const info = await t.request("GET", Paths.userInfo, { token: data.access_token });
    assert.equal(info.body.code, 0, info.text);
    assert.equal(info.body.data.user_id, DEMO.visibleUser, "employee_id was granted");
    assert.equal(info.body.data.email, undefined, "email was not granted, though the app holds it");
    const refreshed = await t.request("POST", Paths.oidcRefreshAccessToken, {
      token: app,
      body: { grant_type: "refresh_token", refresh_token: data.refresh_token },
    });
    assert.equal(refreshed.body.code, 0, refreshed.text);
    assert.equal(refreshed.body.data.scope, EMPLOYEE_ID);
  });

  it("a code without scopes (tt.login) grants every scope of the app", async () => {
    const res = await oidc(t, app, { grant_type: "authorization_code", code: await mint(t) });
    assert.equal(res.body.data.scope, [EMPLOYEE_ID, EMAIL, OFFLINE].join(" "));
  });

  it("20014: no app token, or an unknown one", async () => {
    const code = await mint(t);
    assertEnvelope(await oidc(t, undefined, { grant_type: "authorization_code", code }), 20014);
    assertEnvelope(await oidc(t, "t-0000", { grant_type: "authorization_code", code }), 20014);
  });

  it("20001: code or grant_type missing; 20036: another grant_type", async () => {
    const code = await mint(t);
    assertEnvelope(await oidc(t, app, { grant_type: "authorization_code" }), 20001);
    assertEnvelope(await oidc(t, app, { code }), 20001);
    assertEnvelope(await oidc(t, app, { grant_type: "refresh_token", code }), 20036);
    // None of those consumed it.
    assert.equal((await oidc(t, app, { grant_type: "authorization_code", code })).body.code, 0);
  });

  it("20003: unknown, malformed or already redeemed; 20004: expired; 20024: another app's; 20010: not visible", async () => {
    assertEnvelope(await oidc(t, app, { grant_type: "authorization_code", code: "nope" }), 20003);
    const used = await mint(t);
    assert.equal((await oidc(t, app, { grant_type: "authorization_code", code: used })).body.code, 0);
    assertEnvelope(await oidc(t, app, { grant_type: "authorization_code", code: used }), 20003);

    const store = await mint(t, { appId: DEMO.storeAppId, tenantKey: DEMO.acme });
    assertEnvelope(await oidc(t, app, { grant_type: "authorization_code", code: store }), 20024);

    assertEnvelope(
      await oidc(t, app, {
        grant_type: "authorization_code",
        code: await mint(t, { userId: DEMO.invisibleUser }),
      }),
      20010,
    );

    const late = await mint(t);
    t.clock.advance(180_000);
    assertEnvelope(await oidc(t, app, { grant_type: "authorization_code", code: late }), 20004);
  });

  it("20050 (HTTP 200, Retry-After) when storage does not answer: nothing was consumed", async () => {
    const other = await startTestServer();
    try {
      const token = await other.appToken();
      const code = await mint(other);
      await other.server.storage.close();
      const res = await oidc(other, token, { grant_type: "authorization_code", code });
      assertEnvelope(res, 20050);
      assert.equal(res.headers.get("retry-after"), "1");
    } finally {
      await other.close();
    }
  });

  it("20003 for a code that carries a PKCE challenge (redeemable at v2 only)", async () => {
    const code = await mint(t, { challenge: s256(verifier()) });
    assertEnvelope(await oidc(t, app, { grant_type: "authorization_code", code }), 20003);
    assertEnvelope(await t.exchange(code, app), 10226);
  });
});

describe("authen/v2/oauth/token", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ seed: seedWithOfflineAccess() });
  });
  after(() => t.close());

  it("without offline_access: an access token and no refresh_token", async () => {
    const res = await codeGrant(t, await mint(t, { scopes: [EMAIL] }));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), [
      "access_token",
      "code",
      "expires_in",
      "scope",
      "token_type",
    ]);
    assert.equal(res.body.code, 0);
    assert.equal(res.body.expires_in, 6900);
    assert.equal(res.body.token_type, "Bearer");
    assert.equal(res.body.scope, EMAIL);
    const info = await t.request("GET", Paths.userInfo, { token: res.body.access_token });
    assert.equal(info.body.data.email, "zhangsan@acme.test", "email was granted");
    assert.equal(info.body.data.user_id, undefined, "employee_id was not granted");
  });

  it("with offline_access: a refresh_token, each usable once; a replay revokes the family (20073)", async () => {
    const res = await codeGrant(t, await mint(t, { scopes: [OFFLINE, EMPLOYEE_ID] }));
    assert.equal(res.status, 200, res.text);
    assert.match(res.body.refresh_token, /^ur-/);
    assert.equal(res.body.refresh_token_expires_in, 30 * 24 * 3600);
    assert.equal(res.body.scope, `${EMPLOYEE_ID} ${OFFLINE}`);
    const next = await refreshGrant(t, res.body.refresh_token);
    assert.equal(next.status, 200, next.text);
    assert.match(next.body.refresh_token, /^ur-/);
    assert.notEqual(next.body.refresh_token, res.body.refresh_token);
    assert.equal(next.body.scope, `${EMPLOYEE_ID} ${OFFLINE}`);
    assertOAuthError(await refreshGrant(t, res.body.refresh_token), 20073, "invalid_grant");
    assertOAuthError(await refreshGrant(t, next.body.refresh_token), 20073, "invalid_grant");
    const info = await t.request("GET", Paths.userInfo, { token: next.body.access_token });
    assert.equal(info.body.code, 99991668, "the family is revoked");
  });

  it("a login without offline_access is refused at the v2 refresh (20026) before its token is spent", async () => {
    const appToken = await t.appToken();
    const login = await t.exchange(await mint(t, { scopes: [EMAIL] }), appToken);
    assert.equal(login.body.code, 0, login.text);
    assertOAuthError(await refreshGrant(t, login.body.data.refresh_token), 20026, "invalid_grant");
    // Nothing was spent: the token still rotates at the door that issued it.
    const refreshed = await t.request("POST", Paths.oidcRefreshAccessToken, {
      token: appToken,
      body: { grant_type: "refresh_token", refresh_token: login.body.data.refresh_token },
    });
    assert.equal(refreshed.body.code, 0, refreshed.text);
  });

  it("PKCE S256 and plain: 20049 without or with a wrong code_verifier, and the code stays redeemable", async () => {
    const v = verifier();
    const code = await mint(t, { challenge: s256(v) });
    assertOAuthError(await codeGrant(t, code), 20049, "invalid_grant");
    assertOAuthError(await codeGrant(t, code, { code_verifier: verifier() }), 20049, "invalid_grant");
    assertOAuthError(await codeGrant(t, code, { code_verifier: "short" }), 20001, "invalid_request");
    assert.equal((await codeGrant(t, code, { code_verifier: v })).status, 200);
    assertOAuthError(await codeGrant(t, code, { code_verifier: v }), 20065, "invalid_grant");

    const p = verifier();
    const plain = await mint(t, { challenge: p, method: "plain" });
    assertOAuthError(
      await codeGrant(t, plain, { code_verifier: s256(p).padEnd(43, "x") }),
      20049,
      "invalid_grant",
    );
    assert.equal((await codeGrant(t, plain, { code_verifier: p })).status, 200);
  });

  it("20001 invalid_request and 20036 unsupported_grant_type, before the client is checked", async () => {
    assertOAuthError(await v2(t, { ...client, code: "x" }), 20001, "invalid_request");
    assertOAuthError(await v2(t, { grant_type: "authorization_code", code: "x" }), 20001, "invalid_request");
    assertOAuthError(await v2(t, { grant_type: "password", ...client }), 20036, "unsupported_grant_type");
    assertOAuthError(await v2(t, { grant_type: "authorization_code", ...client }), 20001, "invalid_request");
    assertOAuthError(await v2(t, { grant_type: "refresh_token", ...client }), 20001, "invalid_request");
    const malformed = await t.request("POST", Paths.oauthToken, {
      raw: "{",
      headers: { "content-type": "application/json" },
    });
    assertOAuthError(malformed, 9499, "invalid_request");
  });

  it("20002 invalid_client: unknown client_id or wrong client_secret; nothing is consumed", async () => {
    const code = await mint(t);
    assertOAuthError(
      await v2(t, {
        grant_type: "authorization_code",
        client_id: "cli_0000000000000000",
        client_secret: "x",
        code,
      }),
      20002,
      "invalid_client",
    );
    assertOAuthError(
      await v2(t, { grant_type: "authorization_code", client_id: DEMO.appId, client_secret: "wrong", code }),
      20002,
      "invalid_client",
    );
    assert.equal((await codeGrant(t, code)).status, 200);
  });

  it("code failures: 20003 unknown or malformed, 20004 expired, 20024 another app's, 20010 not visible", async () => {
    assertOAuthError(await codeGrant(t, "not-a-code"), 20003, "invalid_grant");
    assertOAuthError(await codeGrant(t, "0".repeat(32)), 20003, "invalid_grant");
    const store = await mint(t, { appId: DEMO.storeAppId, tenantKey: DEMO.acme });
    assertOAuthError(await codeGrant(t, store), 20024, "invalid_grant");
    assertOAuthError(
      await codeGrant(t, await mint(t, { userId: DEMO.invisibleUser })),
      20010,
      "invalid_grant",
    );
    const late = await mint(t);
    t.clock.advance(180_000);
    assertOAuthError(await codeGrant(t, late), 20004, "invalid_grant");
  });

  it("refresh failures: 20026 unknown, 20024 another app's, 20037 expired family", async () => {
    assertOAuthError(await refreshGrant(t, "ur-unknown"), 20026, "invalid_grant");
    assertOAuthError(await refreshGrant(t, "nonsense"), 20026, "invalid_grant");
    const issued = await codeGrant(t, await mint(t, { scopes: [OFFLINE] }));
    const store = await v2(t, {
      grant_type: "refresh_token",
      client_id: DEMO.storeAppId,
      client_secret: DEMO.storeAppSecret,
      refresh_token: issued.body.refresh_token,
    });
    assertOAuthError(store, 20024, "invalid_grant");
    t.clock.advance(30 * 24 * 3600 * 1000);
    assertOAuthError(await refreshGrant(t, issued.body.refresh_token), 20037, "invalid_grant");
  });

  it("20010 on refresh once the user is deactivated", async () => {
    const other = await startTestServer({ seed: seedWithOfflineAccess() });
    try {
      const issued = await codeGrant(
        other,
        await mint(other, { userId: DEMO.otherVisibleUser, scopes: [OFFLINE] }),
      );
      assert.equal(issued.status, 200, issued.text);
      const frozen = await other.request("PATCH", `/admin/v1/users/${DEMO.acme}/${DEMO.otherVisibleUser}`, {
        token: ADMIN_TOKEN,
        body: { status: "deactivated" },
      });
      assert.equal(frozen.status, 200, frozen.text);
      assertOAuthError(await refreshGrant(other, issued.body.refresh_token), 20010, "invalid_grant");
    } finally {
      await other.close();
    }
  });

  it("20072 temporarily_unavailable (HTTP 503, Retry-After) when storage does not answer", async () => {
    const other = await startTestServer();
    try {
      const code = await mint(other);
      await other.server.storage.close();
      const res = await codeGrant(other, code);
      assertOAuthError(res, 20072, "temporarily_unavailable", 503);
      assert.equal(res.headers.get("retry-after"), "1");
    } finally {
      await other.close();
    }
  });
});

describe("one code, one redemption, every door", () => {
  let t: TestServer;
  let app: string;
  before(async () => {
    t = await startTestServer({ seed: seedWithOfflineAccess() });
    app = await t.appToken();
  });
  after(() => t.close());

  const doors = {
    tokenLoginValidate: (code: string) => t.exchange(code, app),
    oidc: (code: string) => oidc(t, app, { grant_type: "authorization_code", code }),
    v2: (code: string) => codeGrant(t, code),
  };
  const accessTokenOf = (res: TestResponse): string => res.body.data?.access_token ?? res.body.access_token;
  const reuseCodes = { tokenLoginValidate: 10213, oidc: 20003, v2: 20065 };

  for (const first of Object.keys(doors) as Array<keyof typeof doors>) {
    it(`redeemed at ${first}: every door then answers a reuse, and the first login is revoked`, async () => {
      const code = await mint(t, { scopes: [EMPLOYEE_ID, OFFLINE] });
      const won = await doors[first](code);
      assert.equal(won.body.code, 0, won.text);
      const token = accessTokenOf(won);
      for (const door of Object.keys(doors) as Array<keyof typeof doors>) {
        const again = await doors[door](code);
        assert.equal(again.body.code, reuseCodes[door], `${door}: ${again.text}`);
      }
      const info = await t.request("GET", Paths.userInfo, { token });
      assert.equal(info.body.code, 99991668, "the reuse revoked the first redemption's tokens");
    });
  }

  it("no secret, code or verifier reaches a log line, whatever the door answered", async () => {
    const v = verifier();
    const code = await mint(t, { challenge: s256(v) });
    assert.equal((await codeGrant(t, code, { code_verifier: verifier() })).body.code, 20049);
    const won = await codeGrant(t, code, { code_verifier: v });
    assert.equal(won.body.code, 0);
    const logs = t.logs();
    assert.ok(logs.includes(Paths.oauthToken), "the requests were logged");
    for (const secret of [DEMO.appSecret, code, v, won.body.access_token]) assert.ok(!logs.includes(secret));
  });

  it("the admin API refuses a scope the app does not hold (9400, naming it)", async () => {
    const res = await t.request("POST", "/admin/v1/login-codes", {
      token: ADMIN_TOKEN,
      body: { app_id: DEMO.appId, user_id: DEMO.visibleUser, scopes: ["calendar:calendar"] },
    });
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.code, 9400);
    assert.match(res.body.msg, /calendar:calendar/);
  });
});
