/** Storage contract cases: Sessions (grants), the audit trail and rate limits. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Millis } from "../port.ts";
import { exchangeInput, hex, login, mintCode, rotate, SECOND, type SuiteContext, T0 } from "./fixtures.ts";

export function sessionCases({ open, openWorld }: SuiteContext): void {
  describe("grants and audit", () => {
    it("listGrants filters by app, tenant, user and activity, newest first, limited", async () => {
      const { s, w } = await openWorld();
      const a1 = await login(s, w.app, w.alice, T0 + 1 * SECOND);
      const a2 = await login(s, w.app, w.bob, T0 + 2 * SECOND);
      const a3 = await login(s, w.app, w.alice, T0 + 3 * SECOND);
      const l1 = await login(s, w.listed, w.dave, T0 + 4 * SECOND);
      await s.revokeGrant(a2.grantId, T0 + 5 * SECOND, "admin");

      const ids = (grants: Array<{ grantId: string }>) => grants.map((g) => g.grantId);
      assert.deepEqual(ids(await s.listGrants({ appId: w.app.appId, limit: 10 })), [
        a3.grantId,
        a2.grantId,
        a1.grantId,
      ]);
      assert.deepEqual(ids(await s.listGrants({ appId: w.app.appId, limit: 2 })), [a3.grantId, a2.grantId]);
      assert.deepEqual(ids(await s.listGrants({ appId: w.app.appId, userId: w.alice.userId, limit: 10 })), [
        a3.grantId,
        a1.grantId,
      ]);
      assert.deepEqual(ids(await s.listGrants({ tenantKey: w.other.tenantKey, limit: 10 })), [l1.grantId]);
      assert.deepEqual(
        ids(await s.listGrants({ tenantKey: w.tenant.tenantKey, userId: w.bob.userId, limit: 10 })),
        [a2.grantId],
      );
      assert.deepEqual(
        ids(await s.listGrants({ appId: w.app.appId, activeAt: T0 + 6 * SECOND, limit: 10 })),
        [a3.grantId, a1.grantId],
      );
      assert.deepEqual(
        ids(await s.listGrants({ appId: w.app.appId, activeAt: a1.familyExpiresAt, limit: 10 })),
        [a3.grantId],
      );
      const revoked = (await s.listGrants({ appId: w.app.appId, userId: w.bob.userId, limit: 1 }))[0];
      assert.equal(revoked?.revokedAt, T0 + 5 * SECOND);
      assert.equal(revoked?.revokeReason, "admin");
    });

    it("revokeGrant: true once, false when already revoked or unknown; every token of the grant dies", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0);
      const r = await rotate(s, first.refreshTokenHash, w.app.appId, T0 + SECOND);
      assert.equal(await s.revokeGrant(first.grantId, T0 + 2 * SECOND, "user_logout"), true);
      assert.equal(await s.revokeGrant(first.grantId, T0 + 3 * SECOND, "again"), false);
      assert.equal(await s.revokeGrant(`grant_${hex(12)}`, T0 + 3 * SECOND, "admin"), false);
      assert.equal(await s.findAccessToken(first.accessTokenHash, T0 + 4 * SECOND), null);
      assert.equal(await s.findAccessToken(r.next.accessTokenHash, T0 + 4 * SECOND), null);
      assert.equal(
        (await rotate(s, r.next.refreshTokenHash, w.app.appId, T0 + 4 * SECOND)).outcome.kind,
        "revoked",
      );
      const grant = (await s.listGrants({ appId: w.app.appId, limit: 1 }))[0];
      assert.equal(grant?.revokedAt, T0 + 2 * SECOND);
      assert.equal(grant?.revokeReason, "user_logout");
    });

    it("audit events: every consume, reuse, rejection, rotation and revocation, newest first, paged", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0 + SECOND);
      await s.exchangeLoginCode(
        exchangeInput(first.code.record.codeHash, w.app.appId, T0 + 2 * SECOND).input,
      );
      const hidden = await mintCode(s, w.app, w.carol, T0 + 3 * SECOND);
      await s.exchangeLoginCode(exchangeInput(hidden.record.codeHash, w.app.appId, T0 + 4 * SECOND).input);
      const second = await login(s, w.app, w.bob, T0 + 5 * SECOND);
      await rotate(s, second.refreshTokenHash, w.app.appId, T0 + 6 * SECOND);
      await rotate(s, second.refreshTokenHash, w.app.appId, T0 + 7 * SECOND);
      const third = await login(s, w.app, w.alice, T0 + 8 * SECOND);
      await s.revokeGrant(third.grantId, T0 + 9 * SECOND, "admin");

      const events = (await s.listAuditEvents(500)).filter((e) => e.appId === w.app.appId);
      for (let i = 1; i < events.length; i++) assert.ok(events[i - 1]!.id > events[i]!.id, "newest first");
      const summary = events
        .slice()
        .reverse()
        .map((e) => `${e.type}@${(e.at - T0) / SECOND}`);
      assert.deepEqual(
        summary.filter((x) => !x.startsWith("grant.revoked")),
        [
          "login_code.consumed@1",
          "login_code.reused@2",
          "login_code.rejected_visibility@4",
          "login_code.consumed@5",
          "refresh_token.rotated@6",
          "refresh_token.reused@7",
          "login_code.consumed@8",
        ],
      );
      assert.deepEqual(
        summary.filter((x) => x.startsWith("grant.revoked")),
        ["grant.revoked@2", "grant.revoked@7", "grant.revoked@9"],
      );
      const consumed = events.find((e) => e.type === "login_code.consumed" && e.at === T0 + SECOND);
      assert.deepEqual(
        {
          appId: consumed?.appId,
          tenantKey: consumed?.tenantKey,
          userId: consumed?.userId,
          grantId: consumed?.grantId,
        },
        {
          appId: w.app.appId,
          tenantKey: w.tenant.tenantKey,
          userId: w.alice.userId,
          grantId: first.grantId,
        },
      );
      const rejected = events.find((e) => e.type === "login_code.rejected_visibility");
      assert.equal(rejected?.userId, w.carol.userId);
      assert.equal(rejected?.grantId, null);

      const page1 = await s.listAuditEvents(2);
      assert.equal(page1.length, 2);
      const page2 = await s.listAuditEvents(2, page1[1]!.id);
      assert.equal(page2.length, 2);
      assert.ok(page2[0]!.id < page1[1]!.id);
    });
  });

  describe("hitRateLimit", () => {
    it("counts attempts in a fixed window, refuses past the limit, resets in the next window", async () => {
      const s = await open();
      const key = `redeem-ip:${hex(4)}`;
      const windowMs = 60 * SECOND;
      const start = Math.floor(T0 / windowMs) * windowMs + windowMs;
      const hit = (now: Millis, k = key) => s.hitRateLimit({ key: k, now, windowMs, limit: 3 });
      assert.deepEqual(await hit(start), { allowed: true, retryAfterMs: 0 });
      assert.deepEqual(await hit(start + 10 * SECOND), { allowed: true, retryAfterMs: 0 });
      assert.deepEqual(await hit(start + 20 * SECOND), { allowed: true, retryAfterMs: 0 });
      assert.deepEqual(await hit(start + 45 * SECOND), { allowed: false, retryAfterMs: 15 * SECOND });
      assert.deepEqual(await hit(start + 59 * SECOND), { allowed: false, retryAfterMs: SECOND });
      assert.deepEqual(await hit(start + 30 * SECOND, `${key}:other`), { allowed: true, retryAfterMs: 0 });
      assert.deepEqual(await hit(start + windowMs), { allowed: true, retryAfterMs: 0 }, "a new window");

      const burst = await Promise.all(Array.from({ length: 10 }, () => hit(start + 5 * windowMs)));
      assert.equal(burst.filter((r) => r.allowed).length, 3, "concurrent hits are counted exactly");
    });
  });
}
