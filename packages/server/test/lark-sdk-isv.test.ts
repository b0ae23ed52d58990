/**
 * Fidelity for store apps (issue 15): the official Lark/Feishu Node SDK in ISV mode, unchanged,
 * with only its `domain` pointed at mina-auth. Its EventDispatcher, mounted with the SDK's own
 * adapter on a real node:http server, receives the app_ticket mina-auth pushes (plain, then
 * encrypted with an Encrypt Key and signed); its token manager then gets the app_access_token
 * with that ticket and a tenant_access_token per tenant, and logs in a user of each of two
 * tenants with tokenLoginValidate.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import * as lark from "@larksuiteoapi/node-sdk";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestServer, until } from "./harness.ts";
import { sdkCache } from "./lark-sdk-cache.ts";

interface LoginReply {
  code: number;
  msg: string;
  data: { open_id: string; tenant_key: string; employee_id?: string; access_token: string };
}

/** The store app's backend: the SDK's dispatcher on its event URL, and the SDK's client. */
async function startStoreBackend(baseUrl: string, encryptKey?: string) {
  const cache = sdkCache();
  const verificationToken = `vt-${Math.random().toString(16).slice(2)}`;
  const dispatcher = new lark.EventDispatcher({
    verificationToken,
    ...(encryptKey ? { encryptKey } : {}),
    cache,
    loggerLevel: lark.LoggerLevel.error,
  });
  const server: Server = createServer(lark.adaptDefault("/events", dispatcher, { autoChallenge: true }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const eventUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
  /** The app_ticket the dispatcher cached, once one was pushed (polled: a slow machine's margin). */
  const pushedTicket = async (): Promise<string> => {
    for (let i = 0; i < 1000; i++) {
      const ticket = (await cache.get(lark.CAppTicket, { namespace: DEMO.storeAppId })) as string | undefined;
      if (ticket !== undefined) return ticket;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.fail("the SDK's dispatcher cached no pushed app_ticket");
  };
  const client = () =>
    new lark.Client({
      appId: DEMO.storeAppId,
      appSecret: DEMO.storeAppSecret,
      appType: lark.AppType.ISV,
      domain: baseUrl,
      cache,
      loggerLevel: lark.LoggerLevel.error,
    });
  return {
    eventUrl,
    verificationToken,
    pushedTicket,
    client,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("the official Lark Node SDK in ISV mode (a store app) against mina-auth", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const requests = (route: string) =>
    t
      .logs()
      .split("\n")
      .filter((line) => line.includes(`"route":"${route}"`)).length;

  for (const variant of ["plain", "encrypted"] as const) {
    it(`receives the pushed app_ticket (${variant}), then gets app and tenant tokens and logs in a user of each of two tenants`, async () => {
      const encryptKey = variant === "encrypted" ? `ek-${Math.random().toString(16).slice(2)}` : undefined;
      const backend = await startStoreBackend(t.url, encryptKey);
      try {
        const set = await t.request("PUT", `/admin/v1/apps/${DEMO.storeAppId}/events`, {
          token: ADMIN_TOKEN,
          body: {
            event_url: backend.eventUrl,
            verification_token: backend.verificationToken,
            ...(encryptKey ? { encrypt_key: encryptKey } : {}),
          },
        });
        assert.equal(set.status, 200, `the SDK's adapter answered the challenge: ${set.text}`);
        const ticket = await backend.pushedTicket();
        assert.match(ticket, /^[A-Za-z0-9_-]{32}$/);

        const client = backend.client();
        const appTokensBefore = requests("/open-apis/auth/v3/app_access_token");
        for (const [user, tenantKey] of [
          [DEMO.visibleUser, DEMO.acme],
          [DEMO.globexUser, DEMO.globex],
        ] as const) {
          const code = await t.mintCode(user, DEMO.storeAppId, tenantKey);
          const login = await client.request<LoginReply>(
            { method: "POST", url: "/open-apis/mina/v2/tokenLoginValidate", data: { code } },
            lark.withTenantKey(tenantKey),
          );
          assert.equal(login.code, 0, JSON.stringify(login));
          assert.equal(login.data.tenant_key, tenantKey);
          assert.match(login.data.open_id, /^ou_[0-9a-f]{32}$/);
          assert.match(login.data.access_token, /^u-/);
        }
        assert.ok(
          requests("/open-apis/auth/v3/app_access_token") > appTokensBefore,
          "the SDK used the ticket",
        );
        assert.equal(t.logs().includes(ticket), false, "the ticket never reached a log line");
      } finally {
        await backend.close();
      }
    });
  }

  it("a client started before any ticket asks for a resend on its own; the ticket pushed next works", async () => {
    const backend = await startStoreBackend(t.url);
    try {
      const resends = requests("/open-apis/auth/v3/app_ticket/resend");
      backend.client(); // its AppTicketManager finds no ticket in its cache and asks for one
      await until(
        () => requests("/open-apis/auth/v3/app_ticket/resend") > resends,
        "the SDK called app_ticket/resend on its own",
      );
      const set = await t.request("PUT", `/admin/v1/apps/${DEMO.storeAppId}/events`, {
        token: ADMIN_TOKEN,
        body: { event_url: backend.eventUrl, verification_token: backend.verificationToken, verify: false },
      });
      assert.equal(set.status, 200, set.text);
      const ticket = await backend.pushedTicket();
      const app = await t.request("POST", "/open-apis/auth/v3/app_access_token", {
        body: { app_id: DEMO.storeAppId, app_secret: DEMO.storeAppSecret, app_ticket: ticket },
      });
      assert.equal(app.body.code, 0, app.text);
    } finally {
      await backend.close();
    }
  });
});
