/**
 * Fidelity: the official Lark/Feishu Node SDK (@larksuiteoapi/node-sdk), unchanged, with only its
 * `domain` pointed at mina-auth. Its own token manager fetches the tenant_access_token and
 * injects it into every call; its own typed methods do the refresh and user_info.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as lark from "@larksuiteoapi/node-sdk";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestServer } from "./harness.ts";
import { sdkCache } from "./lark-sdk-cache.ts";

function sdkClient(url: string, appSecret: string = DEMO.appSecret): lark.Client {
  return new lark.Client({
    appId: DEMO.appId,
    appSecret,
    domain: url,
    appType: lark.AppType.SelfBuild,
    loggerLevel: lark.LoggerLevel.error,
    cache: sdkCache(),
  });
}

interface LoginReply {
  code: number;
  msg: string;
  data: {
    open_id: string;
    employee_id?: string;
    session_key: string;
    tenant_key: string;
    access_token: string;
    expires_in: number;
    refresh_token: string;
  };
}

/** The body of an error the SDK's axios instance threw for a non-2xx answer. */
function errorBody(error: unknown): { code: number; msg: string } {
  const data = (error as { response?: { data?: { code: number; msg: string } } }).response?.data;
  assert.ok(data, `an HTTP error with a body, got ${String(error)}`);
  return data;
}

describe("the official Lark Node SDK against mina-auth", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const tokenRequests = () =>
    t
      .logs()
      .split("\n")
      .filter((line) => line.includes('"route":"/open-apis/auth/v3/tenant_access_token/internal"')).length;

  it("logs a user in end to end: tenant token, tokenLoginValidate, OIDC refresh, user_info", async () => {
    const client = sdkClient(t.url);
    const before = tokenRequests();
    const code = await t.mintCode(DEMO.visibleUser);

    // tokenLoginValidate through the generic request: the SDK injects its own tenant token.
    const login = await client.request<LoginReply>({
      method: "POST",
      url: "/open-apis/mina/v2/tokenLoginValidate",
      data: { code },
    });
    assert.equal(login.code, 0, JSON.stringify(login));
    assert.equal(login.data.employee_id, DEMO.visibleUser);
    assert.equal(login.data.tenant_key, DEMO.acme);
    assert.match(login.data.open_id, /^ou_[0-9a-f]{32}$/);
    assert.match(login.data.access_token, /^u-/);
    assert.match(login.data.refresh_token, /^ur-/);
    assert.ok(login.data.session_key.length >= 30);
    assert.equal(tokenRequests() - before, 1, "the SDK's token manager fetched one tenant_access_token");

    // The OIDC refresh through the SDK's typed method.
    const refreshed = await client.authen.oidcRefreshAccessToken.create({
      data: { grant_type: "refresh_token", refresh_token: login.data.refresh_token },
    });
    assert.equal(refreshed.code, 0, JSON.stringify(refreshed));
    assert.ok(refreshed.data);
    assert.equal(refreshed.data.token_type, "Bearer");
    assert.match(refreshed.data.access_token, /^u-/);
    assert.notEqual(refreshed.data.access_token, login.data.access_token);
    assert.notEqual(refreshed.data.refresh_token, login.data.refresh_token);
    assert.equal(refreshed.data.expires_in, 6900);
    assert.ok((refreshed.data.refresh_expires_in ?? 0) > 29 * 24 * 3600);

    // user_info with the user token, through the SDK's typed method.
    const info = await client.authen.userInfo.get({}, lark.withUserAccessToken(refreshed.data.access_token));
    assert.equal(info.code, 0, JSON.stringify(info));
    assert.ok(info.data);
    assert.equal(info.data.open_id, login.data.open_id);
    assert.equal(info.data.tenant_key, DEMO.acme);
    assert.equal(info.data.union_id, "on_94a1ee5551019f18cd73d9f111898cf2");
    assert.equal(info.data.en_name, "Zhang San");
    assert.equal(info.data.user_id, DEMO.visibleUser);
    assert.equal(info.data.email, "zhangsan@acme.test");

    // Still one tenant token: the SDK reused its cached one for the refresh.
    assert.equal(tokenRequests() - before, 1);
  });

  it("the v1 refresh through the SDK returns the user's profile with the new tokens", async () => {
    const client = sdkClient(t.url);
    const login = await client.request<LoginReply>({
      method: "POST",
      url: "/open-apis/mina/v2/tokenLoginValidate",
      data: { code: await t.mintCode(DEMO.otherVisibleUser) },
    });
    assert.equal(login.code, 0);
    const refreshed = await client.authen.refreshAccessToken.create({
      data: { grant_type: "refresh_token", refresh_token: login.data.refresh_token },
    });
    assert.equal(refreshed.code, 0, JSON.stringify(refreshed));
    assert.equal(refreshed.data?.open_id, login.data.open_id);
    assert.equal(refreshed.data?.en_name, "Li Si");
    assert.match(refreshed.data?.refresh_token ?? "", /^ur-/);
  });

  it("the SDK's typed app_access_token and tenant_access_token calls get mina-auth's tokens", async () => {
    const client = sdkClient(t.url);
    const app = await client.auth.appAccessToken.internal({
      data: { app_id: DEMO.appId, app_secret: DEMO.appSecret },
    });
    assert.equal(app.code, 0);
    const appToken = (app as { app_access_token?: string }).app_access_token;
    assert.match(appToken ?? "", /^t-[0-9a-f]{64}$/);
    const tenant = await client.auth.tenantAccessToken.internal({
      data: { app_id: DEMO.appId, app_secret: DEMO.appSecret },
    });
    assert.equal(tenant.code, 0);
    assert.match((tenant as { tenant_access_token?: string }).tenant_access_token ?? "", /^t-/);
  });

  it("platform errors reach the SDK's caller as the platform's {code, msg}", async () => {
    const client = sdkClient(t.url);
    const code = await t.mintCode(DEMO.visibleUser);
    const first = await client.request<LoginReply>({
      method: "POST",
      url: "/open-apis/mina/v2/tokenLoginValidate",
      data: { code },
    });
    assert.equal(first.code, 0);
    const replay = await client.request<{ code: number; msg: string }>({
      method: "POST",
      url: "/open-apis/mina/v2/tokenLoginValidate",
      data: { code },
    });
    assert.equal(replay.code, 10213);
    assert.equal(typeof replay.msg, "string");

    // The replay revoked the first login's tokens: user_info answers 99991668 (HTTP 400, which
    // the SDK's axios turns into a rejection carrying the body).
    await assert.rejects(
      client.authen.userInfo.get({}, lark.withUserAccessToken(first.data.access_token)),
      (error) => errorBody(error).code === 99991668,
    );
    const refresh = await client.authen.oidcRefreshAccessToken.create({
      data: { grant_type: "refresh_token", refresh_token: first.data.refresh_token },
    });
    assert.notEqual(refresh.code, 0);
  });

  it("redeems a code at the OIDC door through the SDK's typed authen.oidcAccessToken.create", async () => {
    const client = sdkClient(t.url);
    const code = await t.mintCode(DEMO.visibleUser);
    const created = await client.authen.oidcAccessToken.create({
      data: { grant_type: "authorization_code", code },
    });
    assert.equal(created.code, 0, JSON.stringify(created));
    assert.ok(created.data);
    assert.match(created.data.access_token ?? "", /^u-/);
    assert.match(created.data.refresh_token ?? "", /^ur-/);
    assert.equal(created.data.token_type, "Bearer");
    assert.equal(created.data.expires_in, 6900);
    assert.equal(created.data.scope, "contact:user.employee_id:readonly contact:user.email:readonly");
    const info = await client.authen.userInfo.get(
      {},
      lark.withUserAccessToken(created.data.access_token ?? ""),
    );
    assert.equal(info.data?.user_id, DEMO.visibleUser);
    // Consumed: the same code at the OIDC door again is a reuse (20003), and so at tokenLoginValidate.
    const again = await client.authen.oidcAccessToken.create({
      data: { grant_type: "authorization_code", code },
    });
    assert.equal(again.code, 20003);
    const validate = await client.request<{ code: number }>({
      method: "POST",
      url: "/open-apis/mina/v2/tokenLoginValidate",
      data: { code },
    });
    assert.equal(validate.code, 10213);
  });

  it("redeems a code and a refresh token at the v2 token endpoint through the SDK's generic request", async () => {
    // The SDK has no typed v2 oauth/token method; its generic request is the SDK unchanged.
    const client = sdkClient(t.url);
    const token = (data: Record<string, string>) =>
      client.request<{ code: number; access_token?: string; refresh_token?: string; scope?: string }>({
        method: "POST",
        url: "/open-apis/authen/v2/oauth/token",
        data: { client_id: DEMO.appId, client_secret: DEMO.appSecret, ...data },
      });
    const plain = await token({ grant_type: "authorization_code", code: await t.mintCode() });
    assert.equal(plain.code, 0, JSON.stringify(plain));
    assert.match(plain.access_token ?? "", /^u-/);
    assert.equal(plain.refresh_token, undefined, "the demo app does not hold offline_access");

    const other = await startTestServer();
    try {
      const patched = await other.request("PATCH", `/admin/v1/apps/${DEMO.appId}`, {
        token: ADMIN_TOKEN,
        body: { scopes: ["contact:user.employee_id:readonly", "offline_access"] },
      });
      assert.equal(patched.status, 200, patched.text);
      const offline = sdkClient(other.url);
      const call = (data: Record<string, string>) =>
        offline.request<{ code: number; access_token?: string; refresh_token?: string; scope?: string }>({
          method: "POST",
          url: "/open-apis/authen/v2/oauth/token",
          data: { client_id: DEMO.appId, client_secret: DEMO.appSecret, ...data },
        });
      const issued = await call({ grant_type: "authorization_code", code: await other.mintCode() });
      assert.equal(issued.scope, "contact:user.employee_id:readonly offline_access");
      assert.match(issued.refresh_token ?? "", /^ur-/);
      const refreshed = await call({
        grant_type: "refresh_token",
        refresh_token: issued.refresh_token ?? "",
      });
      assert.equal(refreshed.code, 0, JSON.stringify(refreshed));
      assert.match(refreshed.refresh_token ?? "", /^ur-/);
      assert.notEqual(refreshed.refresh_token, issued.refresh_token);
    } finally {
      await other.close();
    }
    // A failure is HTTP 400, which the SDK's axios turns into a rejection carrying the body.
    await assert.rejects(
      token({ grant_type: "authorization_code", code: await t.mintCode(DEMO.invisibleUser) }),
      (error) => (errorBody(error) as unknown as { error: string }).error === "invalid_grant",
    );
  });

  it("a client with the wrong secret never gets a token, and its calls fail with the platform's code", async () => {
    const client = sdkClient(t.url, "not-the-demo-secret-at-all");
    await assert.rejects(
      client.request({
        method: "POST",
        url: "/open-apis/mina/v2/tokenLoginValidate",
        data: { code: await t.mintCode() },
      }),
      (error: Error) => /failed to get tenant_access_token, code: 10014/.test(error.message),
    );
  });
});
