/**
 * Store (marketplace) apps as the platform runs them (issue 15): app_tickets pushed to the app's
 * event URL (at start, hourly, on resend; retried with backoff), the store auth/v3 endpoints
 * and every code they answer, over real HTTP on loopback with a real SQLite file.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type EventReceiver, eventDeliveries, startEventReceiver } from "./event-receiver.ts";
import { ADMIN_TOKEN, assertEnvelope, DEMO, startTestServer, type TestServer, until } from "./harness.ts";

const VERIFICATION_TOKEN = "vt-store-app-0f3c9a71e5d2b84c";
const ENCRYPT_KEY = "ek-store-app-7b1d4e9c2a6f0358";
const STORE = { app_id: DEMO.storeAppId, app_secret: DEMO.storeAppSecret };
const HOUR = 3_600_000;

/** Polls an async probe until it returns something (a slow machine's margin, not a timing). */
async function eventually<T>(probe: () => Promise<T | undefined>, failure: string): Promise<T> {
  for (let i = 0; i < 1000; i++) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(failure);
}

describe("store apps: app_ticket pushes and the store auth/v3 endpoints", () => {
  let t: TestServer;
  let receiver: EventReceiver;

  const setEvents = (body: object, appId: string = DEMO.storeAppId) =>
    t.request("PUT", `/admin/v1/apps/${appId}/events`, { token: ADMIN_TOKEN, body });
  const deliveries = (appId: string = DEMO.storeAppId) => eventDeliveries(t, appId);
  const ticketCount = () => receiver.tickets().length;
  const latestTicket = () => receiver.tickets().at(-1)!;
  const storeAppToken = (ticket: string, overrides: object = {}) =>
    t.request("POST", "/open-apis/auth/v3/app_access_token", {
      body: { ...STORE, app_ticket: ticket, ...overrides },
    });

  before(async () => {
    t = await startTestServer();
    receiver = await startEventReceiver();
    const res = await setEvents({ event_url: receiver.url, verification_token: VERIFICATION_TOKEN });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.body).sort(), ["app_id", "encrypted", "event_url", "updated_at"]);
    assert.equal(res.body.encrypted, false);
    await until(() => ticketCount() >= 1, "the store app was pushed its app_ticket once its URL was set");
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  it("checks the URL with the platform's url_verification challenge, then pushes the app_ticket event (schema 1.0)", () => {
    const challenge = receiver.received[0]!.event;
    assert.equal(challenge.type, "url_verification");
    assert.equal(challenge.token, VERIFICATION_TOKEN);
    assert.equal(typeof challenge.challenge, "string");
    const pushed = receiver.received.find((r) => r.event.type === "event_callback")!.event;
    assert.deepEqual(Object.keys(pushed).sort(), ["event", "token", "ts", "type", "uuid"]);
    assert.equal(pushed.token, VERIFICATION_TOKEN);
    assert.match(pushed.uuid, /^[0-9a-f]{32}$/);
    assert.match(pushed.ts, /^[0-9]+\.[0-9]+$/);
    assert.deepEqual(Object.keys(pushed.event).sort(), ["app_id", "app_ticket", "type"]);
    assert.equal(pushed.event.app_id, DEMO.storeAppId);
    assert.equal(pushed.event.type, "app_ticket");
  });

  it("app_access_token with the pushed ticket, then tenant_access_token per installed tenant; the same tokens while ≥ 30 min remain", async () => {
    const app = await storeAppToken(latestTicket());
    assert.equal(app.body.code, 0, app.text);
    assert.equal(app.body.msg, "success");
    assert.match(app.body.app_access_token, /^t-[0-9a-f]{64}$/);
    assert.equal(app.body.expire, 7200);
    assert.equal(app.headers.get("cache-control"), "no-store");
    const again = await storeAppToken(latestTicket());
    assert.equal(again.body.app_access_token, app.body.app_access_token);

    const tokens = new Set<string>();
    for (const tenant_key of [DEMO.acme, DEMO.globex]) {
      const tenant = await t.request("POST", "/open-apis/auth/v3/tenant_access_token", {
        body: { app_access_token: app.body.app_access_token, tenant_key },
      });
      assert.equal(tenant.body.code, 0, tenant.text);
      assert.equal(tenant.body.msg, "success");
      assert.match(tenant.body.tenant_access_token, /^t-[0-9a-f]{64}$/);
      assert.equal(tenant.body.expire, 7200);
      tokens.add(tenant.body.tenant_access_token);
      const same = await t.request("POST", "/open-apis/auth/v3/tenant_access_token", {
        body: { app_access_token: app.body.app_access_token, tenant_key },
      });
      assert.equal(same.body.tenant_access_token, tenant.body.tenant_access_token);
    }
    assert.equal(tokens.size, 2, "one token per tenant");
  });

  it("a store app's tenant token logs in that tenant's user with tokenLoginValidate", async () => {
    const app = await storeAppToken(latestTicket());
    const tenant = await t.request("POST", "/open-apis/auth/v3/tenant_access_token", {
      body: { app_access_token: app.body.app_access_token, tenant_key: DEMO.globex },
    });
    const code = await t.mintCode(DEMO.globexUser, DEMO.storeAppId, DEMO.globex);
    const login = await t.exchange(code, tenant.body.tenant_access_token);
    assert.equal(login.body.code, 0, login.text);
    assert.equal(login.body.data.tenant_key, DEMO.globex);
  });

  it("10012: a ticket never pushed, or one older than 2 hours; 10003 and 10014 for the credentials", async () => {
    assertEnvelope(await storeAppToken("not-a-pushed-ticket"), 10012);
    assertEnvelope(await storeAppToken(latestTicket(), { app_ticket: undefined }), 10003);
    assertEnvelope(await storeAppToken(latestTicket(), { app_ticket: "" }), 10003);
    assertEnvelope(await storeAppToken(latestTicket(), { app_ticket: 42 }), 10003);
    assertEnvelope(await storeAppToken(latestTicket(), { app_secret: "wrong-secret" }), 10014);
    assertEnvelope(await storeAppToken(latestTicket(), { app_id: "cli_0000000000000000" }), 10003);
    // A self-built app has no app_ticket: it gets its tokens from /internal.
    assertEnvelope(
      await storeAppToken(latestTicket(), { app_id: DEMO.appId, app_secret: DEMO.appSecret }),
      10003,
    );
    const ticket = latestTicket();
    assert.equal((await storeAppToken(ticket)).body.code, 0);
    const hourly = ticketCount();
    t.clock.advance(2 * HOUR);
    // The hourly round (the clock moved two hours) pushes a fresh ticket; the old one is stale.
    await until(() => ticketCount() > hourly, "the hourly push followed the server's clock");
    assertEnvelope(await storeAppToken(ticket), 10012);
    assert.equal((await storeAppToken(latestTicket())).body.code, 0, "the fresh ticket works");
  });

  it("10013: an unknown or expired app token, a tenant token, a self-built app's token, or a tenant the app is not installed in", async () => {
    const tenantToken = (body: object) =>
      t.request("POST", "/open-apis/auth/v3/tenant_access_token", { body });
    const app = await storeAppToken(latestTicket());
    const appToken = app.body.app_access_token as string;
    assertEnvelope(await tenantToken({ app_access_token: appToken }), 10003);
    assertEnvelope(await tenantToken({ app_access_token: "", tenant_key: DEMO.acme }), 10003);
    assertEnvelope(
      await tenantToken({ app_access_token: `t-${"0".repeat(64)}`, tenant_key: DEMO.acme }),
      10013,
    );
    assertEnvelope(await tenantToken({ app_access_token: appToken, tenant_key: "00000000000000" }), 10013);
    const tenant = await tenantToken({ app_access_token: appToken, tenant_key: DEMO.acme });
    assertEnvelope(
      await tenantToken({ app_access_token: tenant.body.tenant_access_token, tenant_key: DEMO.acme }),
      10013,
    );
    assertEnvelope(await tenantToken({ app_access_token: await t.appToken(), tenant_key: DEMO.acme }), 10013);
  });

  it("app_access_token/internal also returns a self-built app's tenant_access_token, as its page documents", async () => {
    const res = await t.request("POST", "/open-apis/auth/v3/app_access_token/internal", {
      body: { app_id: DEMO.appId, app_secret: DEMO.appSecret },
    });
    assert.equal(res.body.code, 0, res.text);
    assert.match(res.body.tenant_access_token, /^t-[0-9a-f]{64}$/);
    assert.notEqual(res.body.tenant_access_token, res.body.app_access_token);
    const tenant = await t.request("POST", "/open-apis/auth/v3/tenant_access_token/internal", {
      body: { app_id: DEMO.appId, app_secret: DEMO.appSecret },
    });
    assert.equal(tenant.body.tenant_access_token, res.body.tenant_access_token, "the same tenant token");
    const store = await t.request("POST", "/open-apis/auth/v3/app_access_token/internal", { body: STORE });
    assertEnvelope(store, 10003);
    assert.equal(store.body.app_access_token, undefined, "a store app's tokens take an app_ticket");
  });

  it("resend answers at once, before the push it asked for has been answered; then the new ticket arrives", async () => {
    const before = (await deliveries()).length;
    const pushed = ticketCount();
    receiver.hold();
    const res = await t.request("POST", "/open-apis/auth/v3/app_ticket/resend", { body: STORE });
    assert.deepEqual(res.body, { code: 0, msg: "success" });
    await until(
      () => receiver.received.length > 0 && ticketCount() > pushed,
      "the push reached the receiver",
    );
    assert.equal(
      (await deliveries()).length,
      before,
      "the attempt is still under way: the answer did not wait",
    );
    receiver.release();
    const latest = await eventually(async () => {
      const now = await deliveries();
      return now.length > before ? now : undefined;
    }, "the attempt was recorded once answered");
    assert.equal(latest[0]!.outcome, "delivered");
    assert.equal(latest[0]!.http_status, 200);
  });

  it("resend: 10003 for a missing field, an unknown or self-built app; 10014 for a wrong secret", async () => {
    const resend = (body: object) => t.request("POST", "/open-apis/auth/v3/app_ticket/resend", { body });
    assertEnvelope(await resend({ app_id: DEMO.storeAppId }), 10003);
    assertEnvelope(await resend({ ...STORE, app_id: "cli_0000000000000000" }), 10003);
    assertEnvelope(await resend({ app_id: DEMO.appId, app_secret: DEMO.appSecret }), 10003);
    assertEnvelope(await resend({ ...STORE, app_secret: "wrong-secret" }), 10014);
  });

  it("a failing event URL is retried on the server's clock (5 s, 5 min, …), every attempt recorded", async () => {
    receiver.answerWith(503);
    try {
      const res = await t.request("POST", "/open-apis/auth/v3/app_ticket/resend", { body: STORE });
      assert.equal(res.body.code, 0);
      const failed = (attempt: number) =>
        eventually(
          async () => (await deliveries()).find((d) => d.attempt === attempt && d.outcome === "failed"),
          `attempt ${attempt} was not recorded`,
        );
      const first = await failed(1);
      assert.equal(first.http_status, 503);
      assert.equal(first.detail, "HTTP 503");
      t.clock.advance(5_000);
      const second = await failed(2);
      assert.equal(second.event_id, first.event_id, "the same event, tried again");
      receiver.answerWith(200);
      t.clock.advance(300_000);
      const third = await eventually(
        async () => (await deliveries()).find((d) => d.attempt === 3 && d.event_id === first.event_id),
        "the third attempt was not recorded",
      );
      assert.equal(third.outcome, "delivered");
    } finally {
      receiver.answerWith(200);
    }
  });

  it("admin: a URL that fails the challenge is refused (9400); unknown app and missing settings 9404; bad bodies 9400", async () => {
    const closed = await startEventReceiver();
    await closed.close();
    const refused = await setEvents({ event_url: closed.url, verification_token: VERIFICATION_TOKEN });
    assertEnvelope(refused, 9400, 400);
    assert.match(refused.body.msg, /event_url did not pass the url_verification challenge/);
    assertEnvelope(
      await setEvents({ event_url: receiver.url, verification_token: "x" }, "cli_0000000000000000"),
      9404,
      404,
    );
    assertEnvelope(await setEvents({ event_url: "ftp://example.test/", verification_token: "x" }), 9400, 400);
    assertEnvelope(await setEvents({ event_url: receiver.url }), 9400, 400);
    assertEnvelope(
      await t.request("GET", `/admin/v1/apps/${DEMO.appId}/events`, { token: ADMIN_TOKEN }),
      9404,
      404,
    );
    assertEnvelope(
      await t.request("GET", `/admin/v1/apps/${DEMO.storeAppId}/event-deliveries?limit=0`, {
        token: ADMIN_TOKEN,
      }),
      9400,
      400,
    );
    const shown = await t.request("GET", `/admin/v1/apps/${DEMO.storeAppId}/events`, { token: ADMIN_TOKEN });
    assert.equal(shown.status, 200);
    assert.equal(shown.body.event_url, receiver.url);
    assert.ok(!shown.text.includes(VERIFICATION_TOKEN), "the token is never shown again");
  });

  it("an Encrypt Key: events go as {encrypt} signed in X-Lark-Signature; secrets are sealed at rest and never logged", async () => {
    const encrypted = await startEventReceiver(ENCRYPT_KEY);
    try {
      const res = await setEvents({
        event_url: encrypted.url,
        verification_token: VERIFICATION_TOKEN,
        encrypt_key: ENCRYPT_KEY,
      });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.encrypted, true);
      await until(() => encrypted.tickets().length >= 1, "the encrypted push arrived");
      const push = encrypted.received.find((r) => r.event.type === "event_callback")!;
      assert.deepEqual(Object.keys(JSON.parse(push.raw)), ["encrypt"]);
      const { createHash } = await import("node:crypto");
      const expected = createHash("sha256")
        .update(
          `${push.headers["x-lark-request-timestamp"]}${push.headers["x-lark-request-nonce"]}${ENCRYPT_KEY}${push.raw}`,
        )
        .digest("hex");
      assert.equal(push.headers["x-lark-signature"], expected);
      assert.equal((await storeAppToken(encrypted.tickets()[0]!)).body.code, 0);

      const logs = t.logs();
      const stored =
        readFileSync(t.dbPath).toString("latin1") + readFileSync(`${t.dbPath}-wal`).toString("latin1");
      for (const secret of [VERIFICATION_TOKEN, ENCRYPT_KEY, ...receiver.tickets(), ...encrypted.tickets()]) {
        assert.ok(!logs.includes(secret), "no event secret or ticket in a log line");
        assert.ok(!stored.includes(secret), "no event secret or ticket in the database in the clear");
      }
    } finally {
      await encrypted.close();
    }
  });

  it("DELETE removes the settings: a resend then pushes nothing", async () => {
    const removed = await t.request("DELETE", `/admin/v1/apps/${DEMO.storeAppId}/events`, {
      token: ADMIN_TOKEN,
    });
    assert.deepEqual(removed.body, { deleted: true });
    assertEnvelope(
      await t.request("DELETE", `/admin/v1/apps/${DEMO.storeAppId}/events`, { token: ADMIN_TOKEN }),
      9404,
      404,
    );
    const res = await t.request("POST", "/open-apis/auth/v3/app_ticket/resend", { body: STORE });
    assert.deepEqual(res.body, { code: 0, msg: "success" });
  });
});

describe("store apps: event settings from a seed file", () => {
  it("an app's `events` are loaded (sealed) and its app_ticket pushed at start; mistakes are named by path", async () => {
    const receiver = await startEventReceiver(ENCRYPT_KEY);
    const { demoSeed } = await import("../src/demo-seed.ts");
    const seed = structuredClone(demoSeed);
    const store = seed.apps!.find((a) => a.type === "store")!;
    store.events = { url: receiver.url, verification_token: VERIFICATION_TOKEN, encrypt_key: ENCRYPT_KEY };
    const t = await startTestServer({ seed });
    try {
      await until(() => receiver.tickets().length >= 1, "the seeded app was pushed its ticket at start");
      const shown = await t.request("GET", `/admin/v1/apps/${DEMO.storeAppId}/events`, {
        token: ADMIN_TOKEN,
      });
      assert.equal(shown.body.event_url, receiver.url);
      assert.equal(shown.body.encrypted, true);
      const exported = await t.request("GET", "/admin/v1/export", { token: ADMIN_TOKEN });
      assert.ok(!exported.text.includes(VERIFICATION_TOKEN) && !exported.text.includes(ENCRYPT_KEY));
      const { SeedError, loadSeed } = await import("../src/domain/seed.ts");
      const bad = structuredClone(demoSeed);
      (bad.apps![0] as unknown as Record<string, unknown>).events = {
        url: "mailto:x",
        verification_token: "",
        extra: 1,
      };
      assert.throws(
        () => loadSeed({ value: bad, source: "seed" }),
        (error: unknown) =>
          error instanceof SeedError &&
          /apps\[0\]\.events\.url/.test(error.message) &&
          /apps\[0\]\.events\.verification_token/.test(error.message) &&
          /apps\[0\]\.events\.extra/.test(error.message),
      );
    } finally {
      await t.close();
      await receiver.close();
    }
  });
});

describe("store apps when storage is gone", () => {
  it("each store endpoint answers the retryable 1500 with Retry-After, never a 5xx; nothing is pushed", async () => {
    const t = await startTestServer();
    const receiver = await startEventReceiver();
    try {
      await t.server.storage.close();
      for (const [path, body] of [
        ["/open-apis/auth/v3/app_access_token", { ...STORE, app_ticket: "any-ticket" }],
        [
          "/open-apis/auth/v3/tenant_access_token",
          { app_access_token: `t-${"0".repeat(64)}`, tenant_key: DEMO.acme },
        ],
        ["/open-apis/auth/v3/app_ticket/resend", STORE],
      ] as const) {
        const res = await t.request("POST", path, { body });
        assert.equal(res.status, 200, res.text);
        assert.deepEqual(res.body, { code: 1500, msg: "internal error, please retry" }, path);
        assert.equal(res.headers.get("retry-after"), "1");
      }
      assert.equal(receiver.received.length, 0);
    } finally {
      await t.close();
      await receiver.close();
    }
  });
});
