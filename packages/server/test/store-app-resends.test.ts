/**
 * app_ticket resends (review finding 7), over real HTTP with a real event receiver: a burst of
 * resends makes one push, and resends are bounded per app (99991400).
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { defaultConfig, type RateLimitConfig } from "../src/config.ts";
import { type EventReceiver, eventDeliveries, startEventReceiver } from "./event-receiver.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestServer, until } from "./harness.ts";

const STORE = { app_id: DEMO.storeAppId, app_secret: DEMO.storeAppSecret };
const MINUTE = 60_000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server whose store app's events go to a receiver, its first push delivered and recorded. */
async function storeAppServer(rateLimits?: Partial<RateLimitConfig>) {
  const t: TestServer = await startTestServer(
    rateLimits ? { config: { rateLimits: { ...defaultConfig.rateLimits, ...rateLimits } } } : {},
  );
  const receiver: EventReceiver = await startEventReceiver();
  let closed = false;
  /** Stops the server; it waits for the pushes under way, so what arrived is all that will. */
  const close = async () => {
    if (closed) return;
    closed = true;
    await t.close();
  };
  cleanups.push(() => receiver.close(), close);
  const deliveries = () => eventDeliveries(t, DEMO.storeAppId);
  const set = await t.request("PUT", `/admin/v1/apps/${DEMO.storeAppId}/events`, {
    token: ADMIN_TOKEN,
    body: { event_url: receiver.url, verification_token: "vt-resends-5e1b0c9d7a" },
  });
  assert.equal(set.status, 200, set.text);
  await until(
    async () => (await deliveries()).some((d) => d.event_type === "app_ticket"),
    "the first app_ticket push was recorded",
  );
  const resend = () => t.request("POST", "/open-apis/auth/v3/app_ticket/resend", { body: STORE });
  return { t, receiver, deliveries, resend, close };
}

describe("app_ticket/resend: a burst makes one push, and resends are bounded per app", () => {
  it("resends while the app's push is under way join it: 20 calls, all answered 0, one push", async () => {
    const { receiver, resend, close } = await storeAppServer();
    const before = receiver.tickets().length;
    receiver.hold();
    assert.equal((await resend()).body.code, 0);
    await until(() => receiver.tickets().length === before + 1, "the resend's push reached the receiver");
    for (let i = 0; i < 19; i++) assert.equal((await resend()).body.code, 0);
    receiver.release();
    await close();
    assert.equal(receiver.tickets().length, before + 1, "one push for the whole burst");
  });

  it("over the per-app limit: 99991400, HTTP 429, the platform's headers, and no push", async () => {
    const limit = 5;
    const { t, receiver, resend, close } = await storeAppServer({
      enabled: true,
      ticketResendPerApp: { limit, windowMs: MINUTE },
    });
    const before = receiver.tickets().length;
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await resend());
    assert.deepEqual(
      answers.map((res) => res.body.code),
      [...Array(limit).fill(0), ...Array(20 - limit).fill(99991400)],
    );
    for (const res of answers.slice(limit)) {
      assert.equal(res.status, 429);
      assert.deepEqual(res.body, { code: 99991400, msg: "request trigger frequency limit" });
      assert.equal(res.headers.get("x-ogw-ratelimit-limit"), String(limit));
      assert.ok(Number(res.headers.get("x-ogw-ratelimit-reset")) > 0);
    }
    // A wrong secret is not a resend: 10014, counted with the wrong secrets, not here.
    const wrong = await t.request("POST", "/open-apis/auth/v3/app_ticket/resend", {
      body: { ...STORE, app_secret: "wrong-secret" },
    });
    assert.equal(wrong.body.code, 10014);
    await close();
    const pushed = receiver.tickets().length - before;
    assert.ok(pushed >= 1 && pushed <= limit, `${pushed} pushes for ${limit} admitted resends`);
  });

  it("the next window admits resends again", async () => {
    const { t, resend } = await storeAppServer({
      enabled: true,
      ticketResendPerApp: { limit: 1, windowMs: MINUTE },
    });
    assert.equal((await resend()).body.code, 0);
    assert.equal((await resend()).body.code, 99991400);
    t.clock.advance(MINUTE);
    assert.equal((await resend()).body.code, 0);
  });
});
