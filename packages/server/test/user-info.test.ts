/**
 * GET /open-apis/authen/v1/user_info (contract §2, docs/platform-codes.md §4): the profile, the
 * identity fields gated by the app's scopes, and the gateway codes 99991661 / 99991668 (HTTP 400)
 * and 20022 for a deactivated user.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN, assertEnvelope, DEMO, startTestServer, type TestServer } from "./harness.ts";

const USER_INFO_PATH = "/open-apis/authen/v1/user_info";

describe("user_info", () => {
  let t: TestServer;
  let demoToken: string;
  before(async () => {
    t = await startTestServer();
    demoToken = await t.appToken();
  });
  after(() => t.close());

  const login = async (
    userId: string = DEMO.visibleUser,
    appId: string = DEMO.appId,
    appToken = demoToken,
  ) => {
    const res = await t.exchange(await t.mintCode(userId, appId), appToken);
    assert.equal(res.body.code, 0, res.text);
    return res.body.data as { access_token: string; refresh_token: string; open_id: string };
  };
  const userInfo = (token: string) => t.request("GET", USER_INFO_PATH, { token });
  const userInfoRaw = (headers: Record<string, string>) => t.request("GET", USER_INFO_PATH, { headers });

  /** A self-built app in Acme with these scopes, visible to all, and its app token. */
  const appWithScopes = async (scopes: string[]) => {
    const created = await t.request("POST", "/admin/v1/apps", {
      token: ADMIN_TOKEN,
      body: {
        name: `scopes ${scopes.length}`,
        type: "self_built",
        tenant_key: DEMO.acme,
        scopes,
        visibility: "all",
      },
    });
    assert.equal(created.status, 201, created.text);
    const appId = created.body.app_id as string;
    return { appId, token: await t.appToken(appId, created.body.app_secret) };
  };

  it("answers the user's profile with open_id, union_id and tenant_key", async () => {
    const session = await login();
    const res = await userInfo(session.access_token);
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), ["code", "data", "msg"]);
    assert.equal(res.body.code, 0);
    assert.equal(res.body.msg, "success");
    const d = res.body.data;
    assert.equal(d.name, "张三");
    assert.equal(d.en_name, "Zhang San");
    assert.equal(typeof d.avatar_url, "string");
    assert.equal(d.open_id, session.open_id);
    assert.match(d.open_id, /^ou_[0-9a-f]{32}$/);
    assert.equal(d.union_id, "on_94a1ee5551019f18cd73d9f111898cf2");
    assert.match(d.union_id, /^on_[0-9a-f]{32}$/);
    assert.equal(d.tenant_key, DEMO.acme);
    // The demo app holds employee_id and email, not phone.
    assert.equal(d.user_id, DEMO.visibleUser);
    assert.equal(d.email, "zhangsan@acme.test");
    assert.equal("mobile" in d, false);
    for (const key of Object.keys(d)) assert.equal(typeof d[key], "string", key);
    assert.equal(res.headers.get("cache-control"), "no-store");
  });

  it("gates user_id, email and mobile by the app's scopes", async () => {
    const none = await appWithScopes([]);
    const bare = await userInfo((await login(DEMO.visibleUser, none.appId, none.token)).access_token);
    assert.equal(bare.body.code, 0, bare.text);
    for (const key of ["user_id", "email", "mobile"]) assert.equal(key in bare.body.data, false, key);
    assert.equal(bare.body.data.union_id, "on_94a1ee5551019f18cd73d9f111898cf2", "union_id needs no scope");

    const all = await appWithScopes([
      "contact:user.employee_id:readonly",
      "contact:user.email:readonly",
      "contact:user.phone:readonly",
    ]);
    const full = await userInfo((await login(DEMO.visibleUser, all.appId, all.token)).access_token);
    assert.equal(full.body.data.user_id, DEMO.visibleUser);
    assert.equal(full.body.data.email, "zhangsan@acme.test");
    assert.equal(full.body.data.mobile, "+8613800000001");

    // Li Si has no mobile: the field stays out even with the scope.
    const liSi = await userInfo((await login(DEMO.otherVisibleUser, all.appId, all.token)).access_token);
    assert.equal(liSi.body.data.user_id, DEMO.otherVisibleUser);
    assert.equal("mobile" in liSi.body.data, false);

    const phoneOnly = await appWithScopes(["contact:user.phone:readonly"]);
    const phone = await userInfo(
      (await login(DEMO.visibleUser, phoneOnly.appId, phoneOnly.token)).access_token,
    );
    assert.equal(phone.body.data.mobile, "+8613800000001");
    assert.equal("email" in phone.body.data, false);
    assert.equal("user_id" in phone.body.data, false);
  });

  it("follows the app's scopes as they are now", async () => {
    const app = await appWithScopes(["contact:user.email:readonly"]);
    const session = await login(DEMO.visibleUser, app.appId, app.token);
    assert.equal((await userInfo(session.access_token)).body.data.email, "zhangsan@acme.test");
    const patched = await t.request("PATCH", `/admin/v1/apps/${app.appId}`, {
      token: ADMIN_TOKEN,
      body: { scopes: [] },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal("email" in (await userInfo(session.access_token)).body.data, false);
  });

  it("answers 99991661 with HTTP 400 when no token is attached", async () => {
    const cases: Array<Record<string, string>> = [
      {},
      { authorization: "Bearer" },
      { authorization: "Bearer " },
      { authorization: "" },
      { authorization: "Basic dXNlcjpwYXNz" },
      { authorization: `bearer u-${"A".repeat(43)}` },
      { authorization: `Bearer  u-${"A".repeat(43)}` },
      { authorization: `u-${"A".repeat(43)}` },
    ];
    for (const headers of cases) {
      const res = await userInfoRaw(headers);
      assertEnvelope(res, 99991661, 400);
      assert.equal(
        res.body.msg,
        "Missing access token for authorization. Please make a request with token attached.",
      );
    }
  });

  it("answers 99991668 with HTTP 400 for an unknown or malformed user token", async () => {
    const session = await login();
    for (const token of [
      `u-${randomBytes(32).toString("base64url")}`,
      `u-${"A".repeat(43)}`,
      "u-short",
      "garbage",
      demoToken,
      session.refresh_token,
      `${session.access_token}x`,
      `u-${"A".repeat(250)}`,
    ]) {
      const res = await userInfo(token);
      assertEnvelope(res, 99991668, 400);
      assert.equal(
        res.body.msg,
        "Invalid access token for authorization. Please make a request with token attached.",
      );
    }
    assert.equal((await userInfo(session.access_token)).body.code, 0);
  });

  it("answers 99991668 once the access token is 6900 s old (6899 s still works)", async () => {
    const session = await login();
    t.clock.advance(6899_000);
    assert.equal((await userInfo(session.access_token)).body.code, 0);
    t.clock.advance(1000);
    assertEnvelope(await userInfo(session.access_token), 99991668, 400);
    demoToken = await t.appToken();
  });

  it("answers 99991668 after an admin revokes the session, and only for that session", async () => {
    const revokedSession = await login(DEMO.otherVisibleUser);
    const kept = await login(DEMO.otherVisibleUser);
    const sessions = await t.request(
      "GET",
      `/admin/v1/sessions?app_id=${DEMO.appId}&user_id=${DEMO.otherVisibleUser}&active=true`,
      { token: ADMIN_TOKEN },
    );
    assert.equal(sessions.status, 200, sessions.text);
    assert.equal(sessions.body.sessions.length, 2, sessions.text);
    // Which session is which: revoke one, see which access token died.
    const target = sessions.body.sessions[0].session_id as string;
    const revoked = await t.request("POST", `/admin/v1/sessions/${target}/revoke`, { token: ADMIN_TOKEN });
    assert.equal(revoked.status, 200, revoked.text);
    const answers = [await userInfo(revokedSession.access_token), await userInfo(kept.access_token)];
    const dead = answers.filter((r) => r.body.code !== 0);
    assert.equal(dead.length, 1, "exactly one session died");
    assertEnvelope(dead[0]!, 99991668, 400);
  });

  it("answers 20022 (HTTP 200) for a deactivated user, and the profile again once reactivated", async () => {
    const created = await t.request("POST", "/admin/v1/users", {
      token: ADMIN_TOKEN,
      body: { tenant_key: DEMO.acme, name: "Frozen", department_ids: ["od-engineering"] },
    });
    const userId = created.body.user_id as string;
    const session = await login(userId);
    const patch = (status: string) =>
      t.request("PATCH", `/admin/v1/users/${DEMO.acme}/${userId}`, { token: ADMIN_TOKEN, body: { status } });
    assert.equal((await patch("deactivated")).status, 200);
    const res = await userInfo(session.access_token);
    assertEnvelope(res, 20022, 200);
    assert.equal(res.body.msg, "User frozen");
    assert.equal((await patch("active")).status, 200);
    const back = await userInfo(session.access_token);
    assert.equal(back.body.code, 0, back.text);
    assert.equal(back.body.data.name, "Frozen");
  });

  it("answers 404 {99991201} for another method on the path", async () => {
    const session = await login();
    const res = await t.request("POST", USER_INFO_PATH, { token: session.access_token, body: {} });
    assertEnvelope(res, 99991201, 404);
  });
});
