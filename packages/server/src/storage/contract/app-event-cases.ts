/** Storage contract cases: store apps' event settings, app_tickets and delivery attempts. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AppEventSettings, EventDelivery } from "../port.ts";
import { HOUR, hex, newSecret, SECOND, type SuiteContext, sha256, T0 } from "./fixtures.ts";

const settingsOf = (appId: string, patch: Partial<AppEventSettings> = {}): AppEventSettings => ({
  appId,
  eventUrl: `http://127.0.0.1:9/events/${hex(4)}`,
  verificationTokenSealed: `sealed:${hex(8)}`,
  encryptKeySealed: null,
  updatedAt: T0,
  ...patch,
});

const attempt = (appId: string, n: number): Omit<EventDelivery, "id"> => ({
  appId,
  eventId: hex(16),
  eventType: "app_ticket",
  attempt: n,
  at: T0 + n * SECOND,
  outcome: n % 2 === 0 ? "delivered" : "failed",
  httpStatus: n % 2 === 0 ? 200 : null,
  detail: n % 2 === 0 ? null : "connection refused",
});

export function appEventCases({ openWorld }: SuiteContext): void {
  describe("store apps' events", () => {
    it("event settings: set, replace, read, list and delete, one row per app", async () => {
      const { s, w } = await openWorld();
      assert.equal(await s.getAppEventSettings(w.listed.appId), null);
      const first = settingsOf(w.listed.appId);
      await s.setAppEventSettings(first);
      assert.deepEqual(await s.getAppEventSettings(w.listed.appId), first);
      const second = settingsOf(w.listed.appId, {
        encryptKeySealed: `sealed:${hex(8)}`,
        updatedAt: T0 + HOUR,
      });
      await s.setAppEventSettings(second);
      assert.deepEqual(await s.getAppEventSettings(w.listed.appId), second, "replaced, not added");
      const mine = (await s.listAppEventSettings()).filter((x) => x.appId === w.listed.appId);
      assert.deepEqual(mine, [second]);
      assert.equal(await s.deleteAppEventSettings(w.listed.appId), true);
      assert.equal(await s.getAppEventSettings(w.listed.appId), null);
      assert.equal(await s.deleteAppEventSettings(w.listed.appId), false, "nothing left to delete");
    });

    it("app tickets: found by their own app until they expire; a digest is stored once", async () => {
      const { s, w } = await openWorld();
      const ticket = newSecret("tk-");
      const record = {
        ticketHash: sha256(ticket),
        appId: w.listed.appId,
        issuedAt: T0,
        expiresAt: T0 + 2 * HOUR,
      };
      await s.saveAppTicket(record);
      assert.deepEqual(await s.findAppTicket(w.listed.appId, record.ticketHash, T0 + HOUR), record);
      assert.equal(await s.findAppTicket(w.app.appId, record.ticketHash, T0), null, "another app's");
      assert.equal(await s.findAppTicket(w.listed.appId, record.ticketHash, T0 + 2 * HOUR), null, "expired");
      assert.equal(await s.findAppTicket(w.listed.appId, sha256(newSecret("tk-")), T0), null, "unknown");
      await assert.rejects(
        s.saveAppTicket({ ...record, issuedAt: T0 + SECOND }),
        "a digest is never replaced",
      );
      assert.deepEqual(await s.findAppTicket(w.listed.appId, record.ticketHash, T0), record);
    });

    it("the newest live ticket's issue time: per app, expired ones left out", async () => {
      const { s, w } = await openWorld();
      const at = (issuedAt: number, appId = w.listed.appId) => ({
        ticketHash: sha256(newSecret("tk-")),
        appId,
        issuedAt,
        expiresAt: issuedAt + 2 * HOUR,
      });
      assert.equal(await s.newestAppTicketIssuedAt(w.listed.appId, T0), null, "none yet");
      await s.saveAppTicket(at(T0 + HOUR));
      await s.saveAppTicket(at(T0));
      await s.saveAppTicket(at(T0 + 2 * HOUR, w.app.appId));
      assert.equal(await s.newestAppTicketIssuedAt(w.listed.appId, T0 + HOUR), T0 + HOUR);
      assert.equal(await s.newestAppTicketIssuedAt(w.listed.appId, T0 + 3 * HOUR), null, "all expired");
      assert.equal(await s.newestAppTicketIssuedAt(w.app.appId, T0 + 2 * HOUR), T0 + 2 * HOUR);
    });

    it("purgeExpired deletes expired app tickets and keeps live ones", async () => {
      const { s, w } = await openWorld();
      const expired = {
        ticketHash: sha256(newSecret("tk-")),
        appId: w.listed.appId,
        issuedAt: T0,
        expiresAt: T0 + HOUR,
      };
      const live = { ...expired, ticketHash: sha256(newSecret("tk-")), expiresAt: T0 + 3 * HOUR };
      await s.saveAppTicket(expired);
      await s.saveAppTicket(live);
      for (let n = 1; n > 0; ) n = await s.purgeExpired(T0 + 2 * HOUR);
      // The expired digest is gone (so storing it again is accepted); the live one is kept.
      await s.saveAppTicket({ ...expired, expiresAt: T0 + 4 * HOUR });
      assert.deepEqual(await s.findAppTicket(w.listed.appId, live.ticketHash, T0 + 2 * HOUR), live);
      await assert.rejects(s.saveAppTicket(live), "the live one is still stored");
    });

    it("delivery attempts: newest first, bounded per app, apps apart", async () => {
      const { s, w } = await openWorld();
      for (let n = 1; n <= 5; n++) await s.recordEventDelivery(attempt(w.listed.appId, n), 3);
      await s.recordEventDelivery(attempt(w.app.appId, 1), 3);
      const listed = await s.listEventDeliveries(w.listed.appId, 10);
      assert.deepEqual(
        listed.map((d) => d.attempt),
        [5, 4, 3],
        "only the newest 3 kept",
      );
      const { id, ...fields } = listed[0]!;
      assert.ok(Number.isInteger(id) && id > 0);
      assert.equal(fields.appId, w.listed.appId);
      assert.equal(fields.outcome, "failed");
      assert.equal(fields.httpStatus, null);
      assert.equal(fields.detail, "connection refused");
      assert.equal(listed[1]!.httpStatus, 200);
      assert.deepEqual(
        (await s.listEventDeliveries(w.listed.appId, 2)).map((d) => d.attempt),
        [5, 4],
        "limit",
      );
      assert.equal((await s.listEventDeliveries(w.app.appId, 10)).length, 1, "the other app's untouched");
    });
  });
}
