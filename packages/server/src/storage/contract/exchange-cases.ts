/** Storage contract cases: Codes and their exchange: single use, every outcome, races. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ExchangeOutcome, LoginCodeRecord, Millis } from "../port.ts";
import {
  barrierHooks,
  countKinds,
  exchangeInput,
  freshCode,
  HOUR,
  hex,
  login,
  type MintedCode,
  mintCode,
  newSecret,
  rotate,
  SECOND,
  type SuiteContext,
  sha256,
  T0,
} from "./fixtures.ts";

export function exchangeCases({ openWorld }: SuiteContext): void {
  describe("saveLoginCodes", () => {
    it("stores every code of the call, each redeemable once; an empty call stores nothing", async () => {
      const { s, w } = await openWorld();
      await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`);
      await s.saveLoginCodes([]);
      const codes = Array.from({ length: 5 }, () => freshCode(w.app, w.alice));
      await s.saveLoginCodes(codes);
      for (const code of codes) {
        const redeem = () =>
          s.exchangeLoginCode(exchangeInput(code.codeHash, w.app.appId, T0 + SECOND).input);
        assert.equal((await redeem()).kind, "issued");
        assert.equal((await redeem()).kind, "reused");
      }
    });

    it("stores none of them when one fails (a duplicate hash)", async () => {
      const { s, w } = await openWorld();
      const existing = await mintCode(s, w.app, w.alice, T0);
      const batch = [
        freshCode(w.app, w.alice),
        { ...existing.record, expiresAt: T0 + 10 * HOUR },
        freshCode(w.app, w.alice),
      ];
      await assert.rejects(s.saveLoginCodes(batch));
      for (const code of [batch[0]!, batch[2]!]) {
        const outcome = await s.exchangeLoginCode(
          exchangeInput(code.codeHash, w.app.appId, T0 + SECOND).input,
        );
        assert.equal(outcome.kind, "invalid", "no code of the failed call was stored");
      }
      const kept = await s.exchangeLoginCode(
        exchangeInput(existing.record.codeHash, w.app.appId, T0 + SECOND).input,
      );
      assert.equal(kept.kind, "issued", "the existing code is unchanged");
    });
  });

  describe("exchangeLoginCode", () => {
    it("issued: identity fields, grant, session and tokens", async () => {
      const { s, w } = await openWorld();
      const code = await mintCode(s, w.app, w.alice, T0);
      const now = T0 + 5 * SECOND;
      const { input } = exchangeInput(code.record.codeHash, w.app.appId, now);
      const outcome = await s.exchangeLoginCode(input);
      assert.deepEqual(outcome, {
        kind: "issued",
        identity: {
          grantId: input.grantId,
          appId: w.app.appId,
          tenantKey: w.tenant.tenantKey,
          userId: w.alice.userId,
          openId: code.openId,
          scopes: w.app.scopes,
        },
      });
      const subject = await s.findAccessToken(input.tokens.accessTokenHash, now);
      assert.deepEqual(subject?.user, w.alice);
      const grants = await s.listGrants({ appId: w.app.appId, limit: 10 });
      assert.deepEqual(grants, [
        {
          grantId: input.grantId,
          appId: w.app.appId,
          tenantKey: w.tenant.tenantKey,
          userId: w.alice.userId,
          createdAt: now,
          expiresAt: input.familyExpiresAt,
          revokedAt: null,
          revokeReason: null,
        },
      ]);
    });

    it("issued for a code saved without an open_id: the exchange assigns one, kept from then on", async () => {
      // The adapters once disagreed here (SQLite threw, PostgreSQL assigned): port.ts says which.
      const { s, w } = await openWorld();
      const record: LoginCodeRecord = { ...freshCode(w.app, w.alice), codeHash: sha256(newSecret("")) };
      await s.saveLoginCodes([record]);
      const { input } = exchangeInput(record.codeHash, w.app.appId, T0 + SECOND);
      const outcome = await s.exchangeLoginCode(input);
      assert.equal(outcome.kind, "issued");
      const openId = (outcome as Extract<ExchangeOutcome, { kind: "issued" }>).identity.openId;
      assert.match(openId, /^ou_[0-9a-f]{32}$/);
      assert.equal(await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, "ou_other"), openId);
      const subject = await s.findAccessToken(input.tokens.accessTokenHash, T0 + SECOND);
      assert.equal(subject?.identity.openId, openId);
    });

    it("invalid: unknown code; nothing created", async () => {
      const { s, w } = await openWorld();
      const { input } = exchangeInput(sha256(newSecret("")), w.app.appId, T0);
      assert.deepEqual(await s.exchangeLoginCode(input), { kind: "invalid" });
      assert.deepEqual(await s.listGrants({ appId: w.app.appId, limit: 10 }), []);
    });

    it("expired: issued+179 s redeems, issued+180 s and +181 s do not", async () => {
      const { s, w } = await openWorld();
      const ok = await mintCode(s, w.app, w.alice, T0);
      const atLimit = await mintCode(s, w.app, w.alice, T0);
      const late = await mintCode(s, w.app, w.alice, T0);
      const exchange = (code: MintedCode, now: Millis) =>
        s.exchangeLoginCode(exchangeInput(code.record.codeHash, w.app.appId, now).input);
      assert.equal((await exchange(ok, T0 + 179 * SECOND)).kind, "issued");
      assert.deepEqual(await exchange(atLimit, T0 + 180 * SECOND), { kind: "expired" });
      assert.deepEqual(await exchange(late, T0 + 181 * SECOND), { kind: "expired" });
      // Expired stays expired on every later try, and nothing was consumed by those tries.
      assert.deepEqual(await exchange(late, T0 + 181 * SECOND), { kind: "expired" });
      assert.equal(
        (await exchange(late, T0 + 179 * SECOND)).kind,
        "issued",
        "the refused tries consumed nothing (same code, judged at an earlier now)",
      );
    });

    it("foreign: another app's code changes nothing; the owner redeems it afterwards", async () => {
      const { s, w } = await openWorld();
      const code = await mintCode(s, w.app, w.alice, T0);
      const foreign = exchangeInput(code.record.codeHash, w.rival.appId, T0 + SECOND);
      assert.deepEqual(await s.exchangeLoginCode(foreign.input), { kind: "foreign" });
      assert.deepEqual(
        await s.exchangeLoginCode(foreign.input),
        { kind: "foreign" },
        "still foreign, not reused",
      );
      assert.deepEqual(await s.listGrants({ appId: w.rival.appId, limit: 10 }), []);
      const own = exchangeInput(code.record.codeHash, w.app.appId, T0 + 2 * SECOND);
      assert.equal((await s.exchangeLoginCode(own.input)).kind, "issued");
    });

    it("foreign: a tenant token's exchange of another tenant's code (used or not) changes nothing", async () => {
      const { s, w } = await openWorld();
      const code = await mintCode(s, w.listed, w.dave, T0);
      const asTenant = (tenantKey: string, now: Millis) => {
        const { input } = exchangeInput(code.record.codeHash, w.listed.appId, now);
        return s.exchangeLoginCode({ ...input, tenantKey });
      };
      assert.deepEqual(await asTenant(w.tenant.tenantKey, T0 + SECOND), { kind: "foreign" });
      assert.deepEqual(await s.listGrants({ appId: w.listed.appId, limit: 10 }), []);
      const own = await asTenant(w.other.tenantKey, T0 + 2 * SECOND);
      assert.equal(own.kind, "issued", "the code's own tenant redeems it afterwards");
      assert.deepEqual(
        await asTenant(w.tenant.tenantKey, T0 + 3 * SECOND),
        { kind: "foreign" },
        "a replay from another tenant is foreign, not a reuse that revokes the login",
      );
      const grants = await s.listGrants({ appId: w.listed.appId, limit: 10 });
      assert.deepEqual(
        grants.map((grant) => grant.revokedAt),
        [null],
      );
    });

    it("reused: the replay revokes the first redemption's grant and tokens; later replays stay reused", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0 + SECOND);
      assert.ok(await s.findAccessToken(first.accessTokenHash, T0 + 2 * SECOND));

      const replay = exchangeInput(first.code.record.codeHash, w.app.appId, T0 + 3 * SECOND);
      assert.deepEqual(await s.exchangeLoginCode(replay.input), {
        kind: "reused",
        revokedGrantId: first.grantId,
      });
      assert.equal(await s.findAccessToken(first.accessTokenHash, T0 + 4 * SECOND), null);
      assert.equal(
        (await rotate(s, first.refreshTokenHash, w.app.appId, T0 + 4 * SECOND)).outcome.kind,
        "revoked",
      );
      const [grant] = await s.listGrants({ appId: w.app.appId, limit: 10 });
      assert.equal(grant?.revokedAt, T0 + 3 * SECOND);
      assert.equal(typeof grant?.revokeReason, "string");
      assert.deepEqual(await s.findAccessToken(replay.input.tokens.accessTokenHash, T0 + 4 * SECOND), null);

      const third = exchangeInput(first.code.record.codeHash, w.app.appId, T0 + 170 * SECOND);
      assert.deepEqual(await s.exchangeLoginCode(third.input), {
        kind: "reused",
        revokedGrantId: first.grantId,
      });
      assert.equal(
        (await s.listGrants({ appId: w.app.appId, limit: 10 }))[0]?.revokedAt,
        T0 + 3 * SECOND,
        "a later replay does not move the revocation time",
      );
    });

    it("reused with revokeGrantOnReuse=false: nothing revoked, the replay is still reused", async () => {
      const { s, w } = await openWorld();
      const first = await login(s, w.app, w.alice, T0 + SECOND);
      for (const at of [T0 + 2 * SECOND, T0 + 3 * SECOND]) {
        const replay = exchangeInput(first.code.record.codeHash, w.app.appId, at, false);
        assert.deepEqual(await s.exchangeLoginCode(replay.input), { kind: "reused", revokedGrantId: null });
      }
      assert.ok(await s.findAccessToken(first.accessTokenHash, T0 + 4 * SECOND));
      assert.equal((await s.listGrants({ appId: w.app.appId, limit: 10 }))[0]?.revokedAt, null);
    });

    it("not_visible: a deactivated user; the code is consumed anyway, no grant", async () => {
      const { s, w } = await openWorld();
      const code = await mintCode(s, w.app, w.carol, T0);
      const { input } = exchangeInput(code.record.codeHash, w.app.appId, T0 + SECOND);
      assert.deepEqual(await s.exchangeLoginCode(input), { kind: "not_visible" });
      assert.equal(await s.findAccessToken(input.tokens.accessTokenHash, T0 + SECOND), null);
      assert.deepEqual(await s.listGrants({ appId: w.app.appId, limit: 10 }), []);
      const replay = exchangeInput(code.record.codeHash, w.app.appId, T0 + 2 * SECOND);
      assert.deepEqual(await s.exchangeLoginCode(replay.input), { kind: "reused", revokedGrantId: null });
    });

    it("not_visible: a user outside the listed users and departments", async () => {
      const { s, w } = await openWorld();
      const code = await mintCode(s, w.listed, w.eve, T0);
      const { input } = exchangeInput(code.record.codeHash, w.listed.appId, T0 + SECOND);
      assert.deepEqual(await s.exchangeLoginCode(input), { kind: "not_visible" });
      assert.deepEqual(await s.listGrants({ appId: w.listed.appId, limit: 10 }), []);
    });

    it("visible: a listed user, a member of a listed department, everyone where visibility is all", async () => {
      const { s, w } = await openWorld();
      const bob = await login(s, w.listed, w.bob);
      assert.equal(bob.identity.userId, w.bob.userId);
      const alice = await login(s, w.listed, w.alice);
      assert.equal(alice.identity.userId, w.alice.userId, "visible through department deptA");
      const dave = await login(s, w.listed, w.dave);
      assert.equal(dave.identity.tenantKey, w.other.tenantKey, "store app, installed with visibility all");
      // Moving eve into deptA makes her visible; visibility is judged at redemption time.
      await s.upsertUser({ ...w.eve, departmentIds: [w.deptB, w.deptA] });
      assert.equal((await login(s, w.listed, w.eve)).identity.userId, w.eve.userId);
    });

    it("not_visible: the app is not installed in the code's tenant", async () => {
      const { s, w } = await openWorld();
      const code = await mintCode(s, w.rival, w.dave, T0);
      const { input } = exchangeInput(code.record.codeHash, w.rival.appId, T0 + SECOND);
      assert.deepEqual(await s.exchangeLoginCode(input), { kind: "not_visible" });
    });

    it("64 concurrent redemptions of one code: exactly one issued, 63 reused (5 rounds)", async () => {
      const { s, w } = await openWorld();
      for (let round = 0; round < 5; round++) {
        const code = await mintCode(s, w.app, w.alice, T0 + round * SECOND);
        const now = T0 + round * SECOND + 500;
        const outcomes = await Promise.all(
          Array.from({ length: 64 }, () =>
            s.exchangeLoginCode(exchangeInput(code.record.codeHash, w.app.appId, now).input),
          ),
        );
        assert.deepEqual(countKinds(outcomes), { issued: 1, reused: 63 }, `round ${round}`);
        const issued = outcomes.find((o) => o.kind === "issued") as Extract<
          ExchangeOutcome,
          { kind: "issued" }
        >;
        for (const o of outcomes) {
          if (o.kind === "reused") assert.equal(o.revokedGrantId, issued.identity.grantId);
        }
      }
      assert.equal((await s.listGrants({ appId: w.app.appId, limit: 100 })).length, 5, "one grant per code");
    });

    it("beforeConsume race: two redemptions released together at the consume point, one issued", async () => {
      const barrier = barrierHooks(2);
      const { s, w } = await openWorld(barrier.hooks);
      const code = await mintCode(s, w.app, w.alice, T0);
      barrier.arm();
      const outcomes = await Promise.all([
        s.exchangeLoginCode(exchangeInput(code.record.codeHash, w.app.appId, T0 + SECOND).input),
        s.exchangeLoginCode(exchangeInput(code.record.codeHash, w.app.appId, T0 + SECOND).input),
      ]);
      assert.equal(barrier.arrived(), 2, "both callers waited at the hook");
      assert.deepEqual(countKinds(outcomes), { issued: 1, reused: 1 });
      assert.equal((await s.listGrants({ appId: w.app.appId, limit: 10 })).length, 1);
    });
  });
}
