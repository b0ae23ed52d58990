/**
 * app_ticket resends and late retries (review findings 7 and 12), over real HTTP with a real
 * event receiver: a burst of resends makes one push, resends are bounded per app (99991400),
 * and a retry that fires after its ticket expired pushes a ticket that works.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { ManualClock } from "../src/clock.ts";
import { defaultConfig, type RateLimitConfig } from "../src/config.ts";
import { type EventReceiver, eventDeliveries, startEventReceiver } from "./event-receiver.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestServer, until } from "./harness.ts";

const STORE = { app_id: DEMO.storeAppId, app_secret: DEMO.storeAppSecret };
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** The store app_access_token endpoint takes `ticket`. */
async function assertAccepted(t: TestServer, ticket: string): Promise<void> {
  const token = await t.request("POST", "/open-apis/auth/v3/app_access_token", {
    body: { ...STORE, app_ticket: ticket },
  });
  assert.equal(token.body.code, 0, token.text);
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server whose store app's events go to a receiver, its first push delivered and recorded. */
async function storeAppServer(
  rateLimits?: Partial<RateLimitConfig>,
  shared: { dbPath?: string; clock?: ManualClock } = {},
) {
  const t: TestServer = await startTestServer({
    ...shared,
    ...(rateLimits ? { config: { rateLimits: { ...defaultConfig.rateLimits, ...rateLimits } } } : {}),
  });
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

describe("a late retry never pushes an expired app_ticket", () => {
  it("a retry 6 h after its event carries a new ticket, which app_access_token accepts", async () => {
    const { t, receiver, deliveries, resend } = await storeAppServer();
    const failed = (attempt: number) =>
      until(
        async () => (await deliveries()).some((d) => d.attempt === attempt && d.outcome === "failed"),
        `attempt ${attempt} was recorded as failed`,
      );
    receiver.answerWith(503);
    assert.equal((await resend()).body.code, 0);
    await failed(1);
    const first = (await deliveries()).find((d) => d.attempt === 1 && d.outcome === "failed")!;
    const stale = receiver.tickets().at(-1)!;
    // The platform's schedule: 5 s, 5 min, 1 h, then 6 h. The hourly round falls due with the
    // 1 h retry, and again with the 6 h one: it leaves the app to the retry under way.
    for (const [attempt, delay] of [
      [2, 5_000],
      [3, 5 * MINUTE],
      [4, HOUR],
    ] as const) {
      t.clock.advance(delay);
      await failed(attempt);
    }
    receiver.answerWith(200);
    t.clock.advance(6 * HOUR);
    await until(
      async () => (await deliveries()).some((d) => d.attempt === 5 && d.outcome === "delivered"),
      "the last retry was delivered",
    );
    const last = (await deliveries()).find((d) => d.attempt === 5)!;
    assert.notEqual(last.event_id, first.event_id, "a new ticket is a new event");
    const delivered = receiver.tickets().at(-1)!;
    assert.notEqual(delivered, stale);
    await assertAccepted(t, delivered);
    // The ticket the event first carried is past its 2 hours: it would have failed.
    const old = await t.request("POST", "/open-apis/auth/v3/app_access_token", {
      body: { ...STORE, app_ticket: stale },
    });
    assert.equal(old.body.code, 10012);
  });

  it("a retry whose ticket another instance has since replaced carries a new one: the last ticket delivered works", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mina-auth-resends-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const dbPath = join(dir, "shared.db");
    const clock = new ManualClock(Date.UTC(2026, 10, 26, 9, 0, 0));
    const { receiver, deliveries, resend, close } = await storeAppServer(undefined, { dbPath, clock });
    receiver.answerWith(503);
    assert.equal((await resend()).body.code, 0);
    await until(
      async () => (await deliveries()).some((d) => d.attempt === 1 && d.outcome === "failed"),
      "A's push failed; its retry waits",
    );
    const older = receiver.tickets().at(-1)!;
    // B starts on the same database, a second later: its first round pushes the app a newer
    // ticket (and fails too).
    clock.advance(1_000);
    const b = await startTestServer({ dbPath, clock });
    let bClosed = false;
    const closeB = async () => {
      if (bClosed) return;
      bClosed = true;
      await b.close();
    };
    cleanups.push(closeB);
    await until(() => receiver.tickets().length >= 2 && receiver.tickets().at(-1) !== older, "B pushed");
    receiver.answerWith(200);
    clock.advance(5_000); // both retries are due
    await until(
      async () =>
        (await deliveries()).filter((d) => d.attempt === 2 && d.outcome === "delivered").length >= 2,
      "both retries were delivered",
    );
    await assertAccepted(b, receiver.tickets().at(-1)!);
    await close();
    await closeB();
    assert.equal(
      receiver.tickets().filter((ticket) => ticket === older).length,
      1,
      "the older one never again",
    );
  });

  it("a ticket handed out by the admin API (the console, emu.appTicket) does not swallow a pending retry", async () => {
    const { t, receiver, deliveries, resend } = await storeAppServer();
    receiver.answerWith(503);
    assert.equal((await resend()).body.code, 0);
    await until(
      async () => (await deliveries()).some((d) => d.attempt === 1 && d.outcome === "failed"),
      "the push failed; its retry waits",
    );
    const pushed = receiver.tickets().length;
    t.clock.advance(1_000);
    const handed = await t.request("POST", `/admin/v1/apps/${DEMO.storeAppId}/app-tickets`, {
      token: ADMIN_TOKEN,
    });
    assert.equal(handed.status, 201, handed.text);
    receiver.answerWith(200);
    assert.equal((await resend()).body.code, 0, "the app's own resend brings the retry forward");
    await until(() => receiver.tickets().length > pushed, "the retry delivered a ticket");
    const delivered = receiver.tickets().at(-1)!;
    assert.notEqual(delivered, handed.body.app_ticket, "the handed-out ticket is never pushed");
    await assertAccepted(t, delivered);
  });
});
