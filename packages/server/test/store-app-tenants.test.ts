/**
 * A store app is installed in many tenants and holds a tenant_access_token for each: a token
 * for one tenant speaks for that tenant only (issue 15 review, finding 5). Its exchange of
 * another tenant's code, or its refresh of another tenant's login, is refused and changes
 * nothing; the app's own app_access_token still speaks for every tenant. Real HTTP, SQLite file.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type EventReceiver, startEventReceiver } from "./event-receiver.ts";
import { ADMIN_TOKEN, assertEnvelope, DEMO, startTestServer, type TestServer, until } from "./harness.ts";

describe("store apps: a tenant token speaks for its own tenant only", () => {
  let t: TestServer;
  let receiver: EventReceiver;
  let appToken: string;
  const tenantToken: Record<string, string> = {};

  before(async () => {
    t = await startTestServer();
    receiver = await startEventReceiver();
    const events = await t.request("PUT", `/admin/v1/apps/${DEMO.storeAppId}/events`, {
      token: ADMIN_TOKEN,
      body: { event_url: receiver.url, verification_token: "vt-tenants-5e1c0b7a93d2f846" },
    });
    assert.equal(events.status, 200, events.text);
    await until(() => receiver.tickets().length >= 1, "the store app was pushed its app_ticket");
    const app = await t.request("POST", "/open-apis/auth/v3/app_access_token", {
      body: {
        app_id: DEMO.storeAppId,
        app_secret: DEMO.storeAppSecret,
        app_ticket: receiver.tickets().at(-1),
      },
    });
    assert.equal(app.body.code, 0, app.text);
    appToken = app.body.app_access_token;
    for (const tenant_key of [DEMO.acme, DEMO.globex]) {
      const tenant = await t.request("POST", "/open-apis/auth/v3/tenant_access_token", {
        body: { app_access_token: appToken, tenant_key },
      });
      assert.equal(tenant.body.code, 0, tenant.text);
      tenantToken[tenant_key] = tenant.body.tenant_access_token;
    }
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  const globexCode = () => t.mintCode(DEMO.globexUser, DEMO.storeAppId, DEMO.globex);

  it("tokenLoginValidate: 10213 for another tenant's code, which its own tenant then redeems", async () => {
    const code = await globexCode();
    assertEnvelope(await t.exchange(code, tenantToken[DEMO.acme]!), 10213);
    const own = await t.exchange(code, tenantToken[DEMO.globex]!);
    assert.equal(own.body.code, 0, own.text);
    assert.equal(own.body.data.tenant_key, DEMO.globex);
    // Replayed by the other tenant: still 10213, and the login it did not make stays alive.
    assertEnvelope(await t.exchange(code, tenantToken[DEMO.acme]!), 10213);
    const info = await t.request("GET", "/open-apis/authen/v1/user_info", {
      token: own.body.data.access_token,
    });
    assert.equal(info.body.code, 0, info.text);
  });

  it("the admin API hands out a ticket as a push would (201), which the store app_access_token accepts; 9400 for a self-built app, 9404 for none", async () => {
    const issued = await t.request("POST", `/admin/v1/apps/${DEMO.storeAppId}/app-tickets`, {
      token: ADMIN_TOKEN,
    });
    assert.equal(issued.status, 201, issued.text);
    assert.deepEqual(Object.keys(issued.body).sort(), ["app_id", "app_ticket", "expires_at"]);
    assert.equal(issued.body.expires_at, Math.floor(t.clock.now() / 1000) + 7200);
    const app = await t.request("POST", "/open-apis/auth/v3/app_access_token", {
      body: { app_id: DEMO.storeAppId, app_secret: DEMO.storeAppSecret, app_ticket: issued.body.app_ticket },
    });
    assert.equal(app.body.code, 0, app.text);
    const selfBuilt = await t.request("POST", `/admin/v1/apps/${DEMO.appId}/app-tickets`, {
      token: ADMIN_TOKEN,
    });
    assertEnvelope(selfBuilt, 9400, 400);
    assert.match(selfBuilt.body.msg, /self-built/);
    assertEnvelope(
      await t.request("POST", "/admin/v1/apps/cli_0000000000000000/app-tickets", { token: ADMIN_TOKEN }),
      9404,
      404,
    );
    assertEnvelope(await t.request("POST", `/admin/v1/apps/${DEMO.storeAppId}/app-tickets`), 9401, 401);
    assert.ok(!t.logs().includes(issued.body.app_ticket), "the ticket is never logged");
  });

  it("the app token redeems a code of any tenant it is installed in", async () => {
    const login = await t.exchange(await globexCode(), appToken);
    assert.equal(login.body.code, 0, login.text);
    assert.equal(login.body.data.tenant_key, DEMO.globex);
  });

  it("oidc/access_token: another tenant's code answers as another app's (20024) and stays redeemable", async () => {
    const code = await globexCode();
    const oidc = (token: string) =>
      t.request("POST", "/open-apis/authen/v1/oidc/access_token", {
        token,
        body: { grant_type: "authorization_code", code },
      });
    assertEnvelope(await oidc(tenantToken[DEMO.acme]!), 20024);
    const own = await oidc(tenantToken[DEMO.globex]!);
    assert.equal(own.body.code, 0, own.text);
  });

  it("refresh: another tenant's refresh token is 20024 and stays usable; its own tenant rotates it", async () => {
    const login = await t.exchange(await globexCode(), tenantToken[DEMO.globex]!);
    const refresh = (token: string) =>
      t.request("POST", "/open-apis/authen/v1/oidc/refresh_access_token", {
        token,
        body: { grant_type: "refresh_token", refresh_token: login.body.data.refresh_token },
      });
    assertEnvelope(await refresh(tenantToken[DEMO.acme]!), 20024);
    const info = await t.request("GET", "/open-apis/authen/v1/user_info", {
      token: login.body.data.access_token,
    });
    assert.equal(info.body.code, 0, "the refused refresh ended nothing");
    const own = await refresh(tenantToken[DEMO.globex]!);
    assert.equal(own.body.code, 0, own.text);
  });
});
