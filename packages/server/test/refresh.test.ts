/**
 * Refreshing a user_access_token (contract §2, docs/platform-codes.md §3, security.md T4/T5):
 * the legacy v1 endpoint (with the user's profile) and the OIDC one (with scope); rotation, reuse
 * revoking the family, the 30-day absolute limit, and the 200xx codes.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN, assertEnvelope, DEMO, startTestServer, type TestServer } from "./harness.ts";

const LEGACY = "/open-apis/authen/v1/refresh_access_token";
const OIDC = "/open-apis/authen/v1/oidc/refresh_access_token";
const USER_INFO_PATH = "/open-apis/authen/v1/user_info";
const DAY = 24 * 3600 * 1000;
const THIRTY_DAYS_S = 30 * 24 * 3600;

describe("refresh_access_token (legacy and OIDC)", () => {
  let t: TestServer;
  let demoToken: string;
  let storeToken: string;
  before(async () => {
    t = await startTestServer();
    demoToken = await t.appToken();
    storeToken = await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret);
  });
  after(() => t.close());

  /** A fresh login of Zhang San in the demo app (or another user/app). */
  const login = async (userId: string = DEMO.visibleUser, appId: string = DEMO.appId, token = demoToken) => {
    const res = await t.exchange(
      await t.mintCode(userId, appId, appId === DEMO.storeAppId ? DEMO.acme : undefined),
      token,
    );
    assert.equal(res.body.code, 0, res.text);
    return res.body.data as { access_token: string; refresh_token: string; open_id: string };
  };
  const refresh = (path: string, refreshToken: unknown, appToken: string = demoToken, extra: object = {}) =>
    t.request("POST", path, {
      token: appToken,
      body: { grant_type: "refresh_token", refresh_token: refreshToken, ...extra },
    });
  const userInfo = (token: string) => t.request("GET", USER_INFO_PATH, { token });

  // App tokens live 2 h: after moving the clock by days, fetch fresh ones.
  const freshAppTokens = async () => {
    demoToken = await t.appToken();
    storeToken = await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret);
  };

  it("legacy: answers the new tokens and the user's profile", async () => {
    const session = await login();
    const res = await refresh(LEGACY, session.refresh_token);
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), ["code", "data", "msg"]);
    assert.equal(res.body.code, 0, res.text);
    assert.equal(res.body.msg, "success");
    const d = res.body.data;
    assert.match(d.access_token, /^u-[0-9A-Za-z_-]+$/);
    assert.match(d.refresh_token, /^ur-[0-9A-Za-z_-]+$/);
    assert.notEqual(d.access_token, session.access_token);
    assert.notEqual(d.refresh_token, session.refresh_token);
    assert.equal(d.token_type, "Bearer");
    assert.equal(d.expires_in, 6900, "seconds, not a timestamp, on the refresh endpoints");
    assert.equal(d.refresh_expires_in, THIRTY_DAYS_S);
    assert.equal(d.open_id, session.open_id);
    assert.equal(d.union_id, "on_94a1ee5551019f18cd73d9f111898cf2");
    assert.equal(d.tenant_key, DEMO.acme);
    assert.equal(d.name, "张三");
    assert.equal(d.en_name, "Zhang San");
    assert.equal(typeof d.avatar_url, "string");
    assert.equal(d.user_id, DEMO.visibleUser, "the demo app holds the employee_id scope");
    assert.equal(d.email, "zhangsan@acme.test", "the demo app holds the email scope");
    assert.equal(d.mobile, undefined, "the demo app lacks the phone scope");
    assert.equal(res.headers.get("cache-control"), "no-store");
  });

  it("OIDC: answers the new tokens and the scope, without a profile", async () => {
    const session = await login();
    const res = await refresh(OIDC, session.refresh_token);
    assert.equal(res.body.code, 0, res.text);
    assert.equal(res.body.msg, "success");
    assert.deepEqual(Object.keys(res.body.data).sort(), [
      "access_token",
      "expires_in",
      "refresh_expires_in",
      "refresh_token",
      "scope",
      "token_type",
    ]);
    assert.equal(res.body.data.token_type, "Bearer");
    assert.equal(res.body.data.expires_in, 6900);
    assert.equal(res.body.data.refresh_expires_in, THIRTY_DAYS_S);
    assert.deepEqual(res.body.data.scope.split(" ").sort(), [
      "contact:user.email:readonly",
      "contact:user.employee_id:readonly",
    ]);
    assert.equal(res.headers.get("cache-control"), "no-store");
  });

  it("the two endpoints rotate one family interchangeably", async () => {
    const session = await login();
    const a = await refresh(OIDC, session.refresh_token);
    const b = await refresh(LEGACY, a.body.data.refresh_token);
    assert.equal(b.body.code, 0, b.text);
    const c = await refresh(OIDC, b.body.data.refresh_token);
    assert.equal(c.body.code, 0, c.text);
    assert.equal((await userInfo(c.body.data.access_token)).body.code, 0);
  });

  for (const path of [LEGACY, OIDC]) {
    describe(path, () => {
      it("rotates: the new tokens work; the old refresh token is dead (20038) and its reuse revokes the family", async () => {
        const session = await login();
        const rotated = await refresh(path, session.refresh_token);
        assert.equal(rotated.body.code, 0, rotated.text);
        const { access_token: newAccess, refresh_token: newRefresh } = rotated.body.data;
        assert.equal((await userInfo(newAccess)).body.code, 0, "the new access token works");

        assertEnvelope(await refresh(path, session.refresh_token), 20038);

        // The family is revoked: the new refresh and access tokens die too.
        assertEnvelope(await userInfo(newAccess), 99991668, 400);
        assertEnvelope(await refresh(path, newRefresh), 20038);
        assertEnvelope(await userInfo(session.access_token), 99991668, 400);
        // Still dead on a third try, and other sessions of the same user are untouched.
        assertEnvelope(await refresh(path, session.refresh_token), 20038);
        const other = await login();
        assert.equal((await refresh(path, other.refresh_token)).body.code, 0);
      });

      it("the new refresh token rotates again while the chain is followed in order", async () => {
        let current = (await login()).refresh_token;
        for (let i = 0; i < 5; i++) {
          const res = await refresh(path, current);
          assert.equal(res.body.code, 0, res.text);
          assert.notEqual(res.body.data.refresh_token, current);
          current = res.body.data.refresh_token;
        }
      });

      it("answers 20014 for a missing, malformed, unknown or expired app token, before looking at the body", async () => {
        const session = await login();
        const bad: Array<Record<string, string>> = [
          {},
          { authorization: "Bearer" },
          { authorization: `bearer ${demoToken}` },
          { authorization: `Bearer  ${demoToken}` },
          { authorization: `Basic ${demoToken}` },
          { authorization: `Bearer t-${randomBytes(32).toString("hex")}` },
          { authorization: `Bearer ${session.access_token}` },
          { authorization: "Bearer garbage" },
        ];
        for (const headers of bad) {
          for (const body of [
            { grant_type: "refresh_token", refresh_token: session.refresh_token },
            { grant_type: "nope" },
          ]) {
            const res = await t.request("POST", path, {
              raw: JSON.stringify(body),
              headers: { "content-type": "application/json", ...headers },
            });
            assertEnvelope(res, 20014);
            assert.equal(res.body.msg, "The app access token passed is invalid. Please check the value");
          }
        }
        // Nothing was spent by the rejected calls.
        assert.equal((await refresh(path, session.refresh_token)).body.code, 0);
      });

      it("answers 20001 for a missing, empty or non-string refresh_token", async () => {
        for (const body of [
          { grant_type: "refresh_token" },
          { grant_type: "refresh_token", refresh_token: "" },
          { grant_type: "refresh_token", refresh_token: 42 },
          { grant_type: "refresh_token", refresh_token: null },
          { grant_type: "refresh_token", refresh_token: ["ur-x"] },
          { grant_type: "refresh_token", refresh_token: { a: 1 } },
          {},
          null,
          [],
        ]) {
          const res = await t.request("POST", path, { token: demoToken, body });
          assertEnvelope(res, 20001);
          assert.equal(res.body.msg, "Invalid request. Please check request param");
        }
      });

      it("answers 20036 for a wrong or missing grant_type, and spends nothing", async () => {
        const session = await login();
        for (const grantType of ["authorization_code", "Refresh_Token", "", 1, null, undefined]) {
          const res = await t.request("POST", path, {
            token: demoToken,
            body: { grant_type: grantType, refresh_token: session.refresh_token },
          });
          assertEnvelope(res, 20036);
        }
        assert.equal((await refresh(path, session.refresh_token)).body.code, 0);
      });

      it("answers 20026 for a malformed or unknown refresh_token", async () => {
        const session = await login();
        for (const token of [
          "abc",
          `ur-${randomBytes(32).toString("base64url")}`,
          `ur-${"A".repeat(43)}`,
          session.access_token,
          `ur-${"A".repeat(10_000)}`,
          `${session.refresh_token}x`,
          ` ${session.refresh_token}`,
        ]) {
          assertEnvelope(await refresh(path, token), 20026);
        }
        assert.equal((await refresh(path, session.refresh_token)).body.code, 0, "the real one is unharmed");
      });

      it("answers 20024 for another app's refresh token and leaves the owner's family untouched", async () => {
        const session = await login();
        for (let i = 0; i < 3; i++)
          assertEnvelope(await refresh(path, session.refresh_token, storeToken), 20024);
        assert.equal((await userInfo(session.access_token)).body.code, 0, "the owner's access token lives");
        const owner = await refresh(path, session.refresh_token);
        assert.equal(owner.body.code, 0, owner.text);
        assert.equal((await userInfo(owner.body.data.access_token)).body.code, 0);
      });
    });
  }

  it("refresh_expires_in counts down from 30 days and rotation never extends it; at 30 days: 20037", async () => {
    const session = await login();
    const first = await refresh(LEGACY, session.refresh_token);
    assert.equal(first.body.data.refresh_expires_in, THIRTY_DAYS_S);

    t.clock.advance(10 * DAY);
    await freshAppTokens();
    const second = await refresh(OIDC, first.body.data.refresh_token);
    assert.equal(second.body.code, 0, second.text);
    assert.equal(second.body.data.refresh_expires_in, 20 * 24 * 3600);
    assert.equal(second.body.data.expires_in, 6900, "each access token still lives 6900 s");

    t.clock.advance(20 * DAY - 1000);
    await freshAppTokens();
    const last = await refresh(LEGACY, second.body.data.refresh_token);
    assert.equal(last.body.code, 0, last.text);
    assert.equal(last.body.data.refresh_expires_in, 1);

    t.clock.advance(1000);
    await freshAppTokens();
    assertEnvelope(await refresh(LEGACY, last.body.data.refresh_token), 20037);
    assertEnvelope(await refresh(OIDC, last.body.data.refresh_token), 20037);
  });

  it("answers 20037 for an untouched refresh token 30 days after login", async () => {
    const session = await login();
    t.clock.advance(30 * DAY);
    await freshAppTokens();
    const res = await refresh(OIDC, session.refresh_token);
    assertEnvelope(res, 20037);
    assert.equal(res.body.msg, "The refresh token passed has expired. Please generate a new one");
  });

  it("answers 20022 for a deactivated user, and the session does not come back when reactivated", async () => {
    const created = await t.request("POST", "/admin/v1/users", {
      token: ADMIN_TOKEN,
      body: { tenant_key: DEMO.acme, name: "Leaver", department_ids: ["od-engineering"] },
    });
    assert.equal(created.status, 201, created.text);
    const userId = created.body.user_id as string;
    const session = await login(userId);

    const patch = (status: string) =>
      t.request("PATCH", `/admin/v1/users/${DEMO.acme}/${userId}`, { token: ADMIN_TOKEN, body: { status } });
    assert.equal((await patch("deactivated")).status, 200);
    assertEnvelope(await userInfo(session.access_token), 20022);
    const res = await refresh(LEGACY, session.refresh_token);
    assertEnvelope(res, 20022);
    assert.equal(res.body.msg, "User frozen");
    // The refresh attempt revoked the session: its access token is now simply invalid.
    assertEnvelope(await userInfo(session.access_token), 99991668, 400);

    assert.equal((await patch("active")).status, 200);
    assertEnvelope(await refresh(OIDC, session.refresh_token), 20038);
    const again = await login(userId);
    assert.equal((await refresh(OIDC, again.refresh_token)).body.code, 0);
  });

  it("a store app refreshes its own users' tokens in each tenant", async () => {
    const session = await login(DEMO.visibleUser, DEMO.storeAppId, storeToken);
    const res = await refresh(LEGACY, session.refresh_token, storeToken);
    assert.equal(res.body.code, 0, res.text);
    assert.equal(res.body.data.tenant_key, DEMO.acme);
    assert.equal(res.body.data.user_id, undefined, "the store app lacks the employee_id scope");
    assert.equal(res.body.data.email, undefined, "the store app lacks the email scope");
    const oidc = await refresh(OIDC, res.body.data.refresh_token, storeToken);
    assert.equal(oidc.body.data.scope, "");
  });
});
