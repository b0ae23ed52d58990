/** Storage contract cases: Refresh rotation and access-token lookup. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RotateOutcome } from "../port.ts";
import {
  barrierHooks,
  countKinds,
  HOUR,
  login,
  newSecret,
  rotate,
  SECOND,
  type SuiteContext,
  sha256,
  T0,
} from "./fixtures.ts";

export function refreshCases({ openWorld }: SuiteContext): void {
  describe("rotateRefreshToken", () => {
    it("rotated: same grant and family end; the old token is spent, the new one works", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0);
      const r1 = await rotate(s, first.refreshTokenHash, w.app.appId, T0 + HOUR);
      assert.deepEqual(r1.outcome, {
        kind: "rotated",
        identity: first.identity,
        familyExpiresAt: first.familyExpiresAt,
      });
      const subject = await s.findAccessToken(r1.next.accessTokenHash, T0 + HOUR);
      assert.equal(subject?.identity.grantId, first.grantId);
      const r2 = await rotate(s, r1.next.refreshTokenHash, w.app.appId, T0 + 2 * HOUR);
      assert.equal(r2.outcome.kind, "rotated");
      assert.equal(
        (r2.outcome as Extract<RotateOutcome, { kind: "rotated" }>).familyExpiresAt,
        first.familyExpiresAt,
        "rotation never extends the family",
      );
      // The spent token no longer rotates.
      assert.notEqual(
        (await rotate(s, first.refreshTokenHash, w.app.appId, T0 + 3 * HOUR)).outcome.kind,
        "rotated",
      );
    });

    it("reused: a spent token presented again revokes the whole family", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0);
      const r1 = await rotate(s, first.refreshTokenHash, w.app.appId, T0 + HOUR);
      assert.equal(r1.outcome.kind, "rotated");
      const replay = await rotate(s, first.refreshTokenHash, w.app.appId, T0 + 2 * HOUR);
      assert.deepEqual(replay.outcome, { kind: "reused", revokedGrantId: first.grantId });
      assert.equal(
        (await rotate(s, r1.next.refreshTokenHash, w.app.appId, T0 + 3 * HOUR)).outcome.kind,
        "revoked",
      );
      assert.equal(await s.findAccessToken(r1.next.accessTokenHash, T0 + 3 * HOUR), null);
      assert.equal(await s.findAccessToken(first.accessTokenHash, T0 + 3 * HOUR), null);
      assert.equal(await s.findAccessToken(replay.next.accessTokenHash, T0 + 3 * HOUR), null);
      const grant = (await s.listGrants({ appId: w.app.appId, limit: 1 }))[0];
      assert.equal(grant?.revokedAt, T0 + 2 * HOUR);
    });

    it("reused: ANY token the family spent, not only the last, revokes it when presented again", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0);
      let token = first.refreshTokenHash;
      const spent: string[] = [];
      for (let i = 1; i <= 3; i++) {
        const r = await rotate(s, token, w.app.appId, T0 + i * HOUR);
        assert.equal(r.outcome.kind, "rotated");
        spent.push(token);
        token = r.next.refreshTokenHash;
      }
      assert.deepEqual((await rotate(s, spent[0]!, w.app.appId, T0 + 4 * HOUR)).outcome, {
        kind: "reused",
        revokedGrantId: first.grantId,
      });
      assert.deepEqual((await rotate(s, token, w.app.appId, T0 + 5 * HOUR)).outcome, { kind: "revoked" });
    });

    it("rotated: the refresh ends the access token it replaces; the new one lives its full term", async () => {
      // The platform's rule (refreshing invalidates the previous user_access_token): one row
      // per login holds one current access token.
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0);
      assert.ok(await s.findAccessToken(first.accessTokenHash, T0 + HOUR));
      const r = await rotate(s, first.refreshTokenHash, w.app.appId, T0 + HOUR);
      assert.equal(r.outcome.kind, "rotated");
      assert.equal(await s.findAccessToken(first.accessTokenHash, T0 + HOUR), null);
      assert.ok(await s.findAccessToken(r.next.accessTokenHash, r.next.accessExpiresAt - 1));
      assert.equal(await s.findAccessToken(r.next.accessTokenHash, r.next.accessExpiresAt), null);
    });

    it("expired: at the family's absolute end (exclusive), whatever the token", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0);
      const end = first.familyExpiresAt;
      const r1 = await rotate(s, first.refreshTokenHash, w.app.appId, end - 1);
      assert.equal(r1.outcome.kind, "rotated");
      assert.deepEqual((await rotate(s, r1.next.refreshTokenHash, w.app.appId, end)).outcome, {
        kind: "expired",
      });
      assert.deepEqual((await rotate(s, r1.next.refreshTokenHash, w.app.appId, end + HOUR)).outcome, {
        kind: "expired",
      });
    });

    it("invalid: unknown token; foreign: another app's token, which stays usable by its owner", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0);
      assert.deepEqual((await rotate(s, sha256(newSecret("ur-")), w.app.appId, T0 + 1)).outcome, {
        kind: "invalid",
      });
      assert.deepEqual((await rotate(s, first.refreshTokenHash, w.rival.appId, T0 + 1)).outcome, {
        kind: "foreign",
      });
      assert.equal((await rotate(s, first.refreshTokenHash, w.app.appId, T0 + 2)).outcome.kind, "rotated");
    });

    it("foreign: a tenant token's rotation of another tenant's refresh token changes nothing", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.listed, w.dave, T0);
      const asTenant = async (tenantKey: string, now: number) =>
        (await rotate(s, first.refreshTokenHash, w.listed.appId, now, tenantKey)).outcome;
      assert.deepEqual(await asTenant(w.tenant.tenantKey, T0 + 1), { kind: "foreign" });
      assert.ok(await s.findAccessToken(first.accessTokenHash, T0 + 2), "its access token still works");
      assert.equal((await asTenant(w.other.tenantKey, T0 + 2)).kind, "rotated");
    });

    it("revoked: the grant was revoked before", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0);
      assert.equal(await s.revokeGrant(first.grantId, T0 + 1, "admin"), true);
      assert.deepEqual((await rotate(s, first.refreshTokenHash, w.app.appId, T0 + 2)).outcome, {
        kind: "revoked",
      });
    });

    it("16 concurrent rotations of one token: exactly one rotated (3 rounds)", async () => {
      const { s, w } = await openWorld();
      for (let round = 0; round < 3; round++) {
        const first = await login(s, w.app, w.alice, T0 + round * HOUR);
        const outcomes = await Promise.all(
          Array.from({ length: 16 }, () =>
            rotate(s, first.refreshTokenHash, w.app.appId, T0 + round * HOUR + SECOND).then((r) => r.outcome),
          ),
        );
        const kinds = countKinds(outcomes);
        assert.equal(kinds.rotated, 1, `round ${round}: ${JSON.stringify(kinds)}`);
        assert.equal(kinds.rotated + (kinds.reused ?? 0) + (kinds.revoked ?? 0), 16);
      }
    });

    it("beforeConsume race: two rotations released together at the spend point, one rotated", async () => {
      const barrier = barrierHooks(2);
      const { s, w } = await openWorld(barrier.hooks);
      const first = await login(s, w.app, w.alice, T0);
      barrier.arm();
      const outcomes = await Promise.all([
        rotate(s, first.refreshTokenHash, w.app.appId, T0 + SECOND).then((r) => r.outcome),
        rotate(s, first.refreshTokenHash, w.app.appId, T0 + SECOND).then((r) => r.outcome),
      ]);
      assert.equal(barrier.arrived(), 2);
      assert.deepEqual(countKinds(outcomes), { rotated: 1, reused: 1 });
    });
  });

  describe("findAccessToken", () => {
    it("live until its expiry (exclusive), with the full user and the app's current scopes", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0);
      const subject = await s.findAccessToken(first.accessTokenHash, first.accessExpiresAt - 1);
      assert.deepEqual(subject, { identity: first.identity, user: w.alice });
      assert.equal(await s.findAccessToken(first.accessTokenHash, first.accessExpiresAt), null);
      assert.equal(await s.findAccessToken(sha256(newSecret("u-")), T0), null);

      await s.upsertApp({ ...w.app, scopes: ["contact:user.base:readonly"] });
      const later = await s.findAccessToken(first.accessTokenHash, T0 + SECOND);
      assert.deepEqual(later?.identity.scopes, ["contact:user.base:readonly"]);
    });

    it("dead once its grant is revoked or its family has ended", async () => {
      const { s, w } = await openWorld();
      const revoked = await login(s, w.app, w.alice, T0);
      await s.revokeGrant(revoked.grantId, T0 + SECOND, "admin");
      assert.equal(await s.findAccessToken(revoked.accessTokenHash, T0 + 2 * SECOND), null);

      // An access token outliving its family (rotated just before the end) dies with it.
      const ending = await login(s, w.app, w.bob, T0);
      const r = await rotate(s, ending.refreshTokenHash, w.app.appId, ending.familyExpiresAt - SECOND);
      assert.equal(r.outcome.kind, "rotated");
      assert.ok(await s.findAccessToken(r.next.accessTokenHash, ending.familyExpiresAt - 1));
      assert.equal(await s.findAccessToken(r.next.accessTokenHash, ending.familyExpiresAt), null);
    });
  });

  describe("findCommitted", () => {
    it("finds an exchange by its grant id and a rotation by its new refresh digest, current or spent", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0);
      const committed = { identity: first.identity, familyExpiresAt: first.familyExpiresAt, revokedAt: null };
      assert.deepEqual(await s.findCommitted({ grantId: first.grantId }), committed);
      assert.deepEqual(await s.findCommitted({ refreshTokenHash: first.refreshTokenHash }), committed);
      const r1 = await rotate(s, first.refreshTokenHash, w.app.appId, T0 + HOUR);
      assert.equal(r1.outcome.kind, "rotated");
      assert.deepEqual(await s.findCommitted({ refreshTokenHash: r1.next.refreshTokenHash }), committed);
      const r2 = await rotate(s, r1.next.refreshTokenHash, w.app.appId, T0 + 2 * HOUR);
      assert.equal(r2.outcome.kind, "rotated");
      assert.deepEqual(
        await s.findCommitted({ refreshTokenHash: r1.next.refreshTokenHash }),
        committed,
        "a rotation is still found once its token was spent",
      );
      await s.revokeGrant(first.grantId, T0 + 3 * HOUR, "admin");
      assert.equal((await s.findCommitted({ grantId: first.grantId }))?.revokedAt, T0 + 3 * HOUR);
    });

    it("null for what never committed: an unknown grant id, an unknown refresh digest", async () => {
      const { s, w } = await openWorld();
      await login(s, w.app, w.alice, T0);
      assert.equal(await s.findCommitted({ grantId: `grant_${newSecret("")}` }), null);
      assert.equal(await s.findCommitted({ refreshTokenHash: sha256(newSecret("ur-")) }), null);
    });
  });
}
