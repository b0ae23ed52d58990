/**
 * Contract §2: app_access_token and tenant_access_token (auth/v3 …/internal). Lifetime 2 h; the
 * same token while ≥ 30 min remain; below that a new one, and both stay valid until their own
 * expiry. Errors: 10003 (bad params, unknown app), 10014 (wrong secret), both HTTP 200.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN, assertEnvelope, DEMO, startTestServer, type TestServer } from "./harness.ts";

const APP_TOKEN_PATH = "/open-apis/auth/v3/app_access_token/internal";
const TENANT_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal";
const REFRESH_PATH = "/open-apis/authen/v1/refresh_access_token";
const OIDC_REFRESH_PATH = "/open-apis/authen/v1/oidc/refresh_access_token";
const MIN = 60_000;

/** A login through tokenLoginValidate with that app token succeeds (the token is live). */
async function loginWorks(t: TestServer, appToken: string): Promise<boolean> {
  const res = await t.exchange(await t.mintCode(), appToken);
  assert.equal(res.status, 200);
  if (res.body.code === 0) return true;
  assert.equal(res.body.code, 10202, res.text);
  return false;
}

for (const [kind, path, field] of [
  ["app", APP_TOKEN_PATH, "app_access_token"],
  ["tenant", TENANT_TOKEN_PATH, "tenant_access_token"],
] as const) {
  describe(`${kind}_access_token/internal`, () => {
    let t: TestServer;
    const credentials = { app_id: DEMO.appId, app_secret: DEMO.appSecret };
    before(async () => {
      t = await startTestServer();
    });
    after(() => t.close());

    it("answers {code:0, msg:'ok', <token>:'t-…', expire:7200} at the top level (app: with tenant_access_token), no data, no-store", async () => {
      const res = await t.request("POST", path, { body: credentials });
      assert.equal(res.status, 200);
      // app_access_token/internal also carries a self-built app's tenant_access_token (its page).
      const fields = kind === "app" ? ["tenant_access_token"] : [];
      assert.deepEqual(Object.keys(res.body).sort(), ["code", "expire", field, "msg", ...fields].sort());
      assert.equal(res.body.code, 0);
      assert.equal(res.body.msg, "ok");
      assert.match(res.body[field], /^t-[0-9a-f]+$/);
      assert.equal(res.body.expire, 7200);
      assert.equal(res.body.data, undefined);
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    });

    it("returns the same token while ≥ 30 min remain, a new one below, and both stay valid until their own expiry", async () => {
      // Its own clock epoch: move far from the previous test's token.
      t.clock.advance(3 * 60 * MIN);
      const first = await t.request("POST", path, { body: credentials });
      const tokenA = first.body[field] as string;
      assert.equal(first.body.expire, 7200);

      t.clock.advance(89 * MIN);
      const same = await t.request("POST", path, { body: credentials });
      assert.equal(same.body.code, 0);
      assert.equal(same.body[field], tokenA, "31 min left: the same token");
      assert.equal(same.body.expire, 1860);

      t.clock.advance(2 * MIN); // 29 min left
      const next = await t.request("POST", path, { body: credentials });
      assert.equal(next.body.code, 0);
      const tokenB = next.body[field] as string;
      assert.notEqual(tokenB, tokenA, "29 min left: a new token");
      assert.equal(next.body.expire, 7200);

      // Both are accepted now.
      assert.equal(await loginWorks(t, tokenA), true, "the old token is still valid");
      assert.equal(await loginWorks(t, tokenB), true, "the new token is valid");

      // The next request returns B, the newest, with its remaining time.
      t.clock.advance(10 * MIN);
      const again = await t.request("POST", path, { body: credentials });
      assert.equal(again.body[field], tokenB);
      assert.equal(again.body.expire, 7200 - 600);

      // A reaches its 2 h at +91 min +29 min = 120 min after issue: 1 s before, fine; at 2 h, dead.
      t.clock.advance(19 * MIN - 1000);
      assert.equal(await loginWorks(t, tokenA), true, "1 s before its expiry A still works");
      t.clock.advance(1000);
      assert.equal(await loginWorks(t, tokenA), false, "A expired at 2 h");
      assert.equal(await loginWorks(t, tokenB), true, "B lives on");

      // B expires 2 h after its own issue (issued at A+91 min).
      t.clock.advance(91 * MIN);
      const refreshed = await t.request("POST", REFRESH_PATH, {
        token: tokenB,
        body: { grant_type: "refresh_token", refresh_token: `ur-${"A".repeat(43)}` },
      });
      assertEnvelope(refreshed, 20014);
      assert.equal(await loginWorks(t, tokenB), false, "B expired at its own 2 h");
    });

    it("answers 10202 on tokenLoginValidate for an expired token, exactly at 2 h", async () => {
      t.clock.advance(3 * 60 * MIN);
      const res = await t.request("POST", path, { body: credentials });
      const token = res.body[field] as string;
      t.clock.advance(2 * 60 * MIN - 1000);
      assert.equal(await loginWorks(t, token), true);
      t.clock.advance(1000);
      const code = await t.mintCode();
      const expired = await t.exchange(code, token);
      assertEnvelope(expired, 10202);
      // After expiry the endpoint issues a fresh token with a full lifetime.
      const fresh = await t.request("POST", path, { body: credentials });
      assert.notEqual(fresh.body[field], token);
      assert.equal(fresh.body.expire, 7200);
      // The code was not consumed by the rejected call.
      const ok = await t.exchange(code, fresh.body[field]);
      assert.equal(ok.body.code, 0, ok.text);
    });

    it("answers 10003 for missing, non-string and empty fields, and an unknown app_id", async () => {
      const bodies: unknown[] = [
        {},
        { app_id: DEMO.appId },
        { app_secret: DEMO.appSecret },
        { app_id: 42, app_secret: DEMO.appSecret },
        { app_id: DEMO.appId, app_secret: 42 },
        { app_id: [DEMO.appId], app_secret: DEMO.appSecret },
        { app_id: DEMO.appId, app_secret: { s: DEMO.appSecret } },
        { app_id: null, app_secret: DEMO.appSecret },
        { app_id: "", app_secret: DEMO.appSecret },
        { app_id: DEMO.appId, app_secret: "" },
        { app_id: "cli_0000000000000000", app_secret: DEMO.appSecret },
        { app_id: "cli_test", app_secret: DEMO.appSecret },
        { app_id: "x".repeat(10_000), app_secret: DEMO.appSecret },
        [],
        "app_id",
        null,
      ];
      for (const body of bodies) {
        const res = await t.request("POST", path, { body });
        assertEnvelope(res, 10003);
        assert.equal(res.body.msg, "invalid param");
        assert.equal(res.headers.get("cache-control"), "no-store");
      }
    });

    it("answers 10014 for a wrong secret of a real app, and never echoes it", async () => {
      const wrong = "definitely-not-the-secret-0000";
      for (const secret of [wrong, `${DEMO.appSecret}x`, DEMO.appSecret.toUpperCase(), DEMO.storeAppSecret]) {
        const res = await t.request("POST", path, { body: { app_id: DEMO.appId, app_secret: secret } });
        assertEnvelope(res, 10014);
        assert.equal(res.body.msg, "app secret invalid");
        assert.ok(!res.text.includes(secret));
      }
      assert.ok(!t.logs().includes(wrong), "the wrong secret is not logged");
    });

    it("ignores extra fields", async () => {
      const res = await t.request("POST", path, {
        body: { ...credentials, app_ticket: "x", tenant_key: "ffffffffffffff", extra: { a: 1 } },
      });
      assert.equal(res.body.code, 0, res.text);
      assert.match(res.body[field], /^t-/);
    });
  });
}

describe("app and tenant tokens together", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const credentials = { app_id: DEMO.appId, app_secret: DEMO.appSecret };

  it("issues distinct app and tenant tokens for one app", async () => {
    const app = await t.request("POST", APP_TOKEN_PATH, { body: credentials });
    const tenant = await t.request("POST", TENANT_TOKEN_PATH, { body: credentials });
    assert.equal(app.body.code, 0);
    assert.equal(tenant.body.code, 0);
    assert.notEqual(app.body.app_access_token, tenant.body.tenant_access_token);
  });

  it("a self-built app's tenant token works on tokenLoginValidate and both refresh endpoints", async () => {
    const tenant = await t.request("POST", TENANT_TOKEN_PATH, { body: credentials });
    const token = tenant.body.tenant_access_token as string;
    const login = await t.exchange(await t.mintCode(), token);
    assert.equal(login.body.code, 0, login.text);
    assert.equal(login.body.data.employee_id, DEMO.visibleUser);

    const legacy = await t.request("POST", REFRESH_PATH, {
      token,
      body: { grant_type: "refresh_token", refresh_token: login.body.data.refresh_token },
    });
    assert.equal(legacy.body.code, 0, legacy.text);
    assert.match(legacy.body.data.access_token, /^u-/);

    const oidc = await t.request("POST", OIDC_REFRESH_PATH, {
      token,
      body: { grant_type: "refresh_token", refresh_token: legacy.body.data.refresh_token },
    });
    assert.equal(oidc.body.code, 0, oidc.text);
    assert.match(oidc.body.data.refresh_token, /^ur-/);
  });

  it("a store app at the internal endpoints: 10003 for both, its tokens take an app_ticket; 10014 for a wrong secret", async () => {
    const body = { app_id: DEMO.storeAppId, app_secret: DEMO.storeAppSecret };
    assertEnvelope(await t.request("POST", APP_TOKEN_PATH, { body }), 10003);
    assertEnvelope(await t.request("POST", TENANT_TOKEN_PATH, { body }), 10003);
    const wrong = { ...body, app_secret: "not-the-store-secret" };
    assertEnvelope(await t.request("POST", APP_TOKEN_PATH, { body: wrong }), 10014);
    assert.match(await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret), /^t-/, "with a ticket it does");
  });

  it("an app token of one app is not another app's: a code minted for the demo app is 10213 with the store app's token", async () => {
    const storeToken = await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret);
    const res = await t.exchange(await t.mintCode(), storeToken);
    assertEnvelope(res, 10213);
  });

  it("after a secret rotation the old secret gets 10014 and the new one a token", async () => {
    const created = await t.request("POST", "/admin/v1/apps", {
      token: ADMIN_TOKEN,
      body: { name: "Rotating", type: "self_built", tenant_key: DEMO.acme, scopes: [], visibility: "all" },
    });
    assert.equal(created.status, 201, created.text);
    const appId = created.body.app_id as string;
    const oldSecret = created.body.app_secret as string;
    const initial = await t.request("POST", APP_TOKEN_PATH, {
      body: { app_id: appId, app_secret: oldSecret },
    });
    assert.equal(initial.body.code, 0);

    const rotated = await t.request("POST", `/admin/v1/apps/${appId}/secret`, { token: ADMIN_TOKEN });
    assert.equal(rotated.status, 200, rotated.text);
    const newSecret = rotated.body.app_secret as string;
    assert.notEqual(newSecret, oldSecret);

    const old = await t.request("POST", APP_TOKEN_PATH, { body: { app_id: appId, app_secret: oldSecret } });
    assertEnvelope(old, 10014);
    const fresh = await t.request("POST", APP_TOKEN_PATH, { body: { app_id: appId, app_secret: newSecret } });
    assert.equal(fresh.body.code, 0, fresh.text);
    assert.equal(fresh.body.expire, 7200);
    assert.notEqual(fresh.body.app_access_token, initial.body.app_access_token);
  });
});
