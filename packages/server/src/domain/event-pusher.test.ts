/**
 * The app_ticket pusher's failure paths, on a real SQLite storage, a manual clock and real HTTP
 * receivers on loopback: what counts as a failed delivery, the end of the retry schedule, apps
 * that get no push, and storage failing under a push (logged, never an unhandled rejection).
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, it } from "node:test";
import { ManualClock } from "../clock.ts";
import { seedWorld, type World } from "../storage/contract/fixtures.ts";
import type { Storage } from "../storage/port.ts";
import { createSqliteStorage } from "../storage/sqlite/index.ts";
import { AppTickets } from "./app-tickets.ts";
import { EventPusher } from "./event-pusher.ts";
import { EventSecretBox } from "./event-secrets.ts";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A receiver answering every request with `answer(response)`. */
async function receiver(answer: (response: import("node:http").ServerResponse) => void): Promise<string> {
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on("end", () => answer(response));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`;
}

async function setUp(options: { retryDelaysMs?: number[]; attemptTimeoutMs?: number } = {}) {
  const storage: Storage = createSqliteStorage({ path: ":memory:" });
  await storage.migrate();
  const world: World = await seedWorld(storage);
  const clock = new ManualClock();
  const warnings: string[] = [];
  const secrets = new EventSecretBox(storage, clock);
  const pusher = new EventPusher({
    storage,
    clock,
    tickets: new AppTickets(storage, clock),
    secrets,
    log: { info: () => {}, warn: (_details, message) => warnings.push(message) },
    tickMs: 5,
    ...options,
  });
  pusher.start(); // its first round finds no settings yet: nothing is pushed
  cleanups.push(async () => {
    await pusher.stop();
    await storage.close();
  });
  const configure = async (appId: string, eventUrl: string) =>
    storage.setAppEventSettings({
      appId,
      eventUrl,
      verificationTokenSealed: await secrets.seal("vt"),
      encryptKeySealed: null,
      updatedAt: clock.now(),
    });
  const attempts = () => storage.listEventDeliveries(world.listed.appId, 100);
  return { storage, world, clock, pusher, warnings, configure, attempts };
}

async function eventually<T>(probe: () => Promise<T | undefined>, failure: string): Promise<T> {
  for (let i = 0; i < 1000; i++) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(failure);
}

describe("EventPusher", () => {
  it("a redirect is a failed delivery (never followed); a slow receiver times out; both recorded in words", async () => {
    const redirect = await receiver((r) => {
      r.writeHead(302, { location: "http://127.0.0.1:9/elsewhere" }).end();
    });
    const silent = await receiver(() => {}); // never answers
    const { world, pusher, configure, attempts } = await setUp({ attemptTimeoutMs: 200 });
    await configure(world.listed.appId, redirect);
    pusher.requestTicketPush(world.listed.appId);
    const first = await eventually(async () => (await attempts())[0], "an attempt was recorded");
    assert.equal(first.outcome, "failed");
    assert.equal(first.httpStatus, 302);
    assert.equal(first.detail, "HTTP 302");
    await configure(world.listed.appId, silent);
    pusher.requestTicketPush(world.listed.appId);
    const timedOut = await eventually(
      async () => (await attempts()).find((d) => d.detail === "timed out"),
      "the silent receiver's attempt was recorded as timed out",
    );
    assert.equal(timedOut.httpStatus, null);
  });

  it("gives an event up after the last retry: one attempt per delay plus the first, then a warning", async () => {
    const failing = await receiver((r) => {
      r.writeHead(500).end();
    });
    const { world, clock, pusher, warnings, configure, attempts } = await setUp({
      retryDelaysMs: [1000, 2000],
    });
    await configure(world.listed.appId, failing);
    pusher.requestTicketPush(world.listed.appId);
    for (const [count, advance] of [
      [1, 1000],
      [2, 2000],
      [3, 0],
    ] as const) {
      await eventually(
        async () => ((await attempts()).length >= count ? true : undefined),
        `attempt ${count}`,
      );
      clock.advance(advance);
    }
    await eventually(
      async () => (warnings.includes("app_ticket event given up") ? true : undefined),
      "given up",
    );
    clock.advance(60_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const all = await attempts();
    assert.deepEqual(
      all.map((d) => d.attempt),
      [3, 2, 1],
      "no fourth attempt",
    );
    assert.equal(new Set(all.map((d) => d.eventId)).size, 1, "one event throughout");
  });

  it("pushes nothing to a self-built app or to an app without settings", async () => {
    let requests = 0;
    const url = await receiver((r) => {
      requests += 1;
      r.end("{}");
    });
    const { world, pusher, configure, storage } = await setUp();
    await configure(world.app.appId, url); // self-built: no app_ticket event
    pusher.requestTicketPush(world.app.appId);
    pusher.requestTicketPush(world.listed.appId); // no settings
    await pusher.stop();
    assert.equal(requests, 0);
    assert.deepEqual(await storage.listEventDeliveries(world.app.appId, 10), []);
  });

  it("storage failing under a push is logged, never an unhandled rejection; the pusher goes on", async () => {
    const url = await receiver((r) => r.end("{}"));
    const { world, pusher, warnings, configure, storage, attempts } = await setUp();
    await configure(world.listed.appId, url);
    const original = storage.getAppEventSettings.bind(storage);
    storage.getAppEventSettings = async () => {
      throw new Error("storage down");
    };
    pusher.requestTicketPush(world.listed.appId);
    await eventually(
      async () => (warnings.includes("app_ticket push failed before its delivery") ? true : undefined),
      "the failure was logged",
    );
    storage.getAppEventSettings = original;
    pusher.requestTicketPush(world.listed.appId);
    const delivered = await eventually(async () => (await attempts())[0], "the next push was delivered");
    assert.equal(delivered.outcome, "delivered");
  });
});
