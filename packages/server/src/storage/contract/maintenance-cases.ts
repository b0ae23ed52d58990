/** Storage contract cases: The purge, write isolation and shutdown. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AppTokenRecord, LoginCodeRecord, Tenant } from "../port.ts";
import { ENDED_GRANT_KEPT_MS } from "../port.ts";
import {
  ACCESS_TTL,
  CODE_TTL,
  exchangeInput,
  FAMILY_TTL,
  freshCode,
  HOUR,
  hex,
  type Login,
  login,
  mintCode,
  newSecret,
  rotate,
  SECOND,
  type SuiteContext,
  seedWorld,
  sha256,
  T0,
} from "./fixtures.ts";

export function maintenanceCases({ openWorld, makeStorage, teardown }: SuiteContext): void {
  describe("purgeExpired", () => {
    it("deletes what can no longer decide anything, keeps what still can", async () => {
      const { s, w } = await openWorld();
      const cut = T0 + FAMILY_TTL + 10 * HOUR;
      // Gone after the purge:
      const oldCode = await mintCode(s, w.app, w.alice, cut - CODE_TTL - SECOND);
      const oldAppToken: AppTokenRecord = {
        tokenHash: sha256(newSecret("t-")),
        kind: "app",
        appId: w.app.appId,
        tenantKey: w.tenant.tenantKey,
        salt: hex(16),
        issuedAt: cut - 3 * HOUR,
        expiresAt: cut - HOUR,
      };
      await s.saveAppToken(oldAppToken);
      const oldLogin = await login(s, w.app, w.alice, cut - ACCESS_TTL - HOUR);
      // A family that ended just over ENDED_GRANT_KEPT_MS ago, rotated in its last second: a
      // spent and a current refresh token; its access tokens expired long before.
      const endedLogin = await login(s, w.app, w.bob, cut - ENDED_GRANT_KEPT_MS - FAMILY_TTL - SECOND);
      const lastRotation = await rotate(
        s,
        endedLogin.refreshTokenHash,
        w.app.appId,
        endedLogin.familyExpiresAt - SECOND,
      );
      assert.equal(lastRotation.outcome.kind, "rotated");
      const rlKey = `k:${hex(4)}`;
      await s.hitRateLimit({ key: rlKey, now: cut - 2 * HOUR, windowMs: HOUR, limit: 1 });
      // Kept:
      const liveCode = await mintCode(s, w.app, w.alice, cut - SECOND);
      const liveLogin = await login(s, w.app, w.eve, cut - 2 * HOUR);
      const spent = await rotate(s, liveLogin.refreshTokenHash, w.app.appId, cut - HOUR);
      assert.equal(spent.outcome.kind, "rotated");
      const revokedLogin = await login(s, w.app, w.bob, cut - 2 * HOUR);
      await s.revokeGrant(revokedLogin.grantId, cut - HOUR, "admin");
      const recentlyEnded = await login(s, w.app, w.eve, cut - ENDED_GRANT_KEPT_MS - FAMILY_TTL + SECOND);

      let deleted = 0;
      let calls = 0;
      for (let n = -1; n !== 0; calls++) {
        n = await s.purgeExpired(cut);
        deleted += n;
      }
      // old code, app token and rate-limit window; three access tokens (two of the ended
      // family); the ended grant and its two refresh tokens; more when the database is shared.
      assert.ok(deleted >= 9, `deleted ${deleted}`);
      assert.ok(calls <= 3, `a grant goes at the latest one call after its tokens (${calls} calls)`);

      const before = cut - CODE_TTL;
      assert.deepEqual(
        await s.exchangeLoginCode(exchangeInput(oldCode.record.codeHash, w.app.appId, before).input),
        { kind: "invalid" },
        "the expired code is gone (it would redeem at an earlier now otherwise)",
      );
      assert.equal(await s.findAppToken(oldAppToken.tokenHash, cut - 2 * HOUR), null);
      assert.equal(await s.findAccessToken(oldLogin.accessTokenHash, oldLogin.now), null);
      assert.equal(
        await s.findAccessToken(lastRotation.next.accessTokenHash, endedLogin.familyExpiresAt - SECOND),
        null,
      );
      for (const spentOrLast of [endedLogin.refreshTokenHash, lastRotation.next.refreshTokenHash]) {
        assert.deepEqual((await rotate(s, spentOrLast, w.app.appId, cut)).outcome, { kind: "invalid" });
      }
      const grants = (await s.listGrants({ appId: w.app.appId, limit: 20 })).map((g) => g.grantId);
      assert.ok(!grants.includes(endedLogin.grantId), "the ended grant is gone");
      assert.equal(await s.revokeGrant(endedLogin.grantId, cut, "admin"), false);
      assert.deepEqual(
        await s.hitRateLimit({ key: rlKey, now: cut - 2 * HOUR, windowMs: HOUR, limit: 1 }),
        { allowed: true, retryAfterMs: 0 },
        "the old window was deleted",
      );

      assert.equal(
        (await s.exchangeLoginCode(exchangeInput(liveCode.record.codeHash, w.app.appId, cut).input)).kind,
        "issued",
      );
      assert.ok(await s.findAccessToken(spent.next.accessTokenHash, cut));
      assert.deepEqual(
        (await rotate(s, liveLogin.refreshTokenHash, w.app.appId, cut + 1)).outcome,
        { kind: "reused", revokedGrantId: liveLogin.grantId },
        "a spent refresh token of a live family is kept, so its replay is still detected",
      );
      assert.deepEqual((await rotate(s, revokedLogin.refreshTokenHash, w.app.appId, cut)).outcome, {
        kind: "revoked",
      });
      assert.deepEqual((await rotate(s, recentlyEnded.refreshTokenHash, w.app.appId, cut)).outcome, {
        kind: "expired",
      });
      for (const kept of [liveLogin, revokedLogin, recentlyEnded]) {
        assert.ok(grants.includes(kept.grantId), "live, revoked and recently ended grants are kept");
      }
    });

    it("with a limit deletes at most that many of each kind per call, until it returns 0", async () => {
      const { s, w } = await openWorld();
      const cut = T0 + 10 * HOUR;
      const old = [];
      for (let i = 0; i < 3; i++) old.push(await mintCode(s, w.app, w.alice, cut - CODE_TTL - SECOND));
      const ended = await login(s, w.app, w.bob, cut - ENDED_GRANT_KEPT_MS - FAMILY_TTL - SECOND);
      for (let i = 0, token = ended.refreshTokenHash; i < 3; i++) {
        const next = await rotate(s, token, w.app.appId, ended.now + (i + 1) * HOUR);
        assert.equal(next.outcome.kind, "rotated");
        token = next.next.refreshTokenHash;
      }
      let calls = 0;
      for (let deleted = -1; deleted !== 0; calls++) {
        assert.ok(calls < 10_000, "the purge ends");
        deleted = await s.purgeExpired(cut, 1);
      }
      // Four refresh tokens (and four expired access tokens) of an ended family, and whatever
      // else the database holds, at one per call and kind: at least four calls that deleted
      // something (the grant with the last of its tokens, or in the call after), then the one
      // that found nothing left.
      assert.ok(calls >= 5, `${calls} calls`);
      const grants = await s.listGrants({ appId: w.app.appId, limit: 10 });
      assert.ok(!grants.some((g) => g.grantId === ended.grantId), "the ended grant is gone");
      for (const code of old) {
        const redeemed = await s.exchangeLoginCode(
          exchangeInput(code.record.codeHash, w.app.appId, cut - CODE_TTL).input,
        );
        assert.deepEqual(redeemed, { kind: "invalid" }, "every expired code is gone");
      }
    });

    it("a backlog of ended grants goes a bounded number of tokens per call, oldest first", async () => {
      const { s, w } = await openWorld();
      const cut = T0 + 10 * HOUR;
      const start = cut - ENDED_GRANT_KEPT_MS - FAMILY_TTL - HOUR;
      const ended: Login[] = [];
      for (let i = 0; i < 12; i++) {
        const l = await login(s, w.app, w.bob, start + i * SECOND);
        for (let r = 1, token = l.refreshTokenHash; r <= 4; r++) {
          const next = await rotate(s, token, w.app.appId, l.now + r * HOUR);
          assert.equal(next.outcome.kind, "rotated");
          token = next.next.refreshTokenHash;
        }
        ended.push(l);
      }
      const remaining = async () => {
        const ids = new Set((await s.listGrants({ appId: w.app.appId, limit: 50 })).map((g) => g.grantId));
        return ended.filter((l) => ids.has(l.grantId)).length;
      };
      let calls = 0;
      let sawPartial = false;
      for (let deleted = -1; deleted !== 0; calls++) {
        assert.ok(calls < 10_000, "the purge ends");
        deleted = await s.purgeExpired(cut, 5);
        const left = await remaining();
        if (left > 0 && left < ended.length) sawPartial = true;
      }
      assert.equal(await remaining(), 0, "every ended grant is gone");
      // 60 refresh tokens (five a family) at 5 per call: at least twelve calls.
      assert.ok(calls >= 12, `${calls} calls`);
      assert.ok(sawPartial, "grants went over several calls, not all in one");
    });
  });

  describe("write isolation and shutdown", () => {
    it("one failing write among concurrent writes rejects alone; the others commit", async () => {
      const { s, w } = await openWorld();
      const existing = await mintCode(s, w.app, w.alice, T0);
      await s.ensureOpenId(w.app.appId, w.bob.tenantKey, w.bob.userId, `ou_${hex(16)}`);
      const a = freshCode(w.app, w.bob);
      const b = freshCode(w.app, w.alice);
      const renamed: Tenant = { tenantKey: w.tenant.tenantKey, name: "Committed" };
      const results = await Promise.allSettled([
        s.saveLoginCodes([a]),
        // A duplicate hash must never overwrite a code (that would reset a consumed one).
        s.saveLoginCodes([{ ...existing.record, userId: w.bob.userId, expiresAt: T0 + 10 * HOUR }]),
        s.saveLoginCodes([b]),
        s.upsertTenant(renamed),
        s.hitRateLimit({ key: `k:${hex(4)}`, now: T0, windowMs: HOUR, limit: 5 }),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ["fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled"],
      );
      assert.deepEqual(await s.getTenant(w.tenant.tenantKey), renamed);
      const redeem = (code: LoginCodeRecord) =>
        s.exchangeLoginCode(exchangeInput(code.codeHash, w.app.appId, T0 + SECOND).input);
      const outcomes = await Promise.all([redeem(a), redeem(b), redeem(existing.record)]);
      assert.deepEqual(
        outcomes.map((o) => (o.kind === "issued" ? o.identity.userId : o.kind)),
        [w.bob.userId, w.alice.userId, w.alice.userId],
        "the duplicate changed nothing of the existing code",
      );
    });

    it("close() waits for queued writes; a write after close rejects", async () => {
      const s = await makeStorage();
      await s.migrate();
      const w = await seedWorld(s);
      const settled: string[] = [];
      const writes = [
        ...Array.from({ length: 20 }, (_, i) =>
          s.hitRateLimit({ key: `close:${i}`, now: T0, windowMs: HOUR, limit: 5 }),
        ),
        s.upsertTenant({ tenantKey: w.tenant.tenantKey, name: "Last write" }),
      ].map((p, i) =>
        p.then(
          () => settled.push(`ok${i}`),
          (error: unknown) =>
            settled.push(`failed${i}: ${error instanceof Error ? error.message : String(error)}`),
        ),
      );
      await s.close();
      assert.equal(settled.length, writes.length, "every queued write settled before close resolved");
      assert.ok(
        settled.every((x) => x.startsWith("ok")),
        settled.join(","),
      );
      await assert.rejects(s.upsertTenant({ tenantKey: hex(7), name: "too late" }));
      await teardown?.(s);
    });
  });
}
