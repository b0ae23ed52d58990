/**
 * Storage contract cases: what a login code carries beyond its owner (migration 0005): the
 * scopes it was granted, kept by its login and intersected with the app's, and an RFC 7636
 * challenge that is part of the one conditional write that consumes it.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import type { CodeChallenge, ExchangeOutcome, VerifierChallenges } from "../port.ts";
import {
  countKinds,
  exchangeInput,
  freshCode,
  hex,
  rotate,
  SECOND,
  type SuiteContext,
  T0,
} from "./fixtures.ts";

const EMPLOYEE_ID = "contact:user.employee_id:readonly";
const BASE = "contact:user.base:readonly";

function challengesOf(verifier: string): VerifierChallenges {
  return { s256: createHash("sha256").update(verifier).digest("base64url"), plain: verifier };
}
const newVerifier = () => `v${hex(24)}`;
const s256 = (verifier: string): CodeChallenge => ({ value: challengesOf(verifier).s256, method: "S256" });

export function codeGrantCases({ openWorld }: SuiteContext): void {
  describe("a code's granted scopes", () => {
    it("the login keeps them: exchange, access token, rotation and findCommitted report them, in the app's order", async () => {
      const { s, w } = await openWorld();
      // listed holds [BASE, EMPLOYEE_ID]; alice (deptA) may use it in `tenant`.
      await s.ensureOpenId(w.listed.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`);
      const code = { ...freshCode(w.listed, w.alice), scopes: [EMPLOYEE_ID, BASE] };
      const narrow = { ...freshCode(w.listed, w.alice), scopes: [EMPLOYEE_ID] };
      const none = { ...freshCode(w.listed, w.alice), scopes: [] };
      await s.saveLoginCodes([code, narrow, none]);

      const all = exchangeInput(code.codeHash, w.listed.appId, T0 + SECOND);
      const issued = (await s.exchangeLoginCode(all.input)) as Extract<ExchangeOutcome, { kind: "issued" }>;
      assert.deepEqual(issued.identity.scopes, [BASE, EMPLOYEE_ID]);

      const one = exchangeInput(narrow.codeHash, w.listed.appId, T0 + SECOND);
      const narrowed = await s.exchangeLoginCode(one.input);
      assert.equal(narrowed.kind, "issued");
      assert.deepEqual((narrowed as Extract<ExchangeOutcome, { kind: "issued" }>).identity.scopes, [
        EMPLOYEE_ID,
      ]);
      const subject = await s.findAccessToken(one.input.tokens.accessTokenHash, T0 + 2 * SECOND);
      assert.deepEqual(subject?.identity.scopes, [EMPLOYEE_ID]);
      const rotated = await rotate(s, one.input.tokens.refreshTokenHash, w.listed.appId, T0 + 3 * SECOND);
      assert.equal(rotated.outcome.kind, "rotated");
      assert.deepEqual(
        (rotated.outcome as Extract<typeof rotated.outcome, { kind: "rotated" }>).identity.scopes,
        [EMPLOYEE_ID],
      );
      const committed = await s.findCommitted({ grantId: one.input.grantId });
      assert.deepEqual(committed?.identity.scopes, [EMPLOYEE_ID]);

      const bare = exchangeInput(none.codeHash, w.listed.appId, T0 + SECOND);
      const identityOnly = await s.exchangeLoginCode(bare.input);
      assert.deepEqual((identityOnly as Extract<ExchangeOutcome, { kind: "issued" }>).identity.scopes, []);
      assert.deepEqual(
        (await s.findAccessToken(bare.input.tokens.accessTokenHash, T0 + SECOND))?.identity.scopes,
        [],
      );
    });

    it("a code without scopes grants every scope of the app; a scope the app loses leaves every login at once", async () => {
      const { s, w } = await openWorld();
      await s.ensureOpenId(w.listed.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`);
      const legacy = freshCode(w.listed, w.alice);
      const granted = { ...freshCode(w.listed, w.alice), scopes: [BASE, EMPLOYEE_ID] };
      await s.saveLoginCodes([legacy, granted]);
      const a = exchangeInput(legacy.codeHash, w.listed.appId, T0 + SECOND);
      const b = exchangeInput(granted.codeHash, w.listed.appId, T0 + SECOND);
      assert.deepEqual(
        ((await s.exchangeLoginCode(a.input)) as Extract<ExchangeOutcome, { kind: "issued" }>).identity
          .scopes,
        [BASE, EMPLOYEE_ID],
      );
      assert.equal((await s.exchangeLoginCode(b.input)).kind, "issued");

      await s.upsertApp({ ...w.listed, scopes: [BASE] });
      for (const input of [a.input, b.input]) {
        const subject = await s.findAccessToken(input.tokens.accessTokenHash, T0 + 2 * SECOND);
        assert.deepEqual(subject?.identity.scopes, [BASE]);
      }
    });
  });

  describe("a code's PKCE challenge", () => {
    it("S256: consumed only with the matching verifier; a missing or wrong one changes nothing", async () => {
      const { s, w } = await openWorld();
      await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`);
      const verifier = newVerifier();
      const code = { ...freshCode(w.app, w.alice), codeChallenge: s256(verifier) };
      await s.saveLoginCodes([code]);
      const at = (now: number, presented?: VerifierChallenges) => {
        const { input } = exchangeInput(code.codeHash, w.app.appId, now);
        return s.exchangeLoginCode({ ...input, verifier: presented ?? null });
      };
      assert.deepEqual(await at(T0 + SECOND), { kind: "pkce_failed" });
      assert.deepEqual(await at(T0 + SECOND, challengesOf(newVerifier())), { kind: "pkce_failed" });
      // The plain form of the right verifier is not the S256 challenge.
      assert.deepEqual(await at(T0 + SECOND, { s256: verifier, plain: verifier }), { kind: "pkce_failed" });
      assert.deepEqual(await s.listGrants({ appId: w.app.appId, limit: 10 }), []);
      assert.equal((await at(T0 + 2 * SECOND, challengesOf(verifier))).kind, "issued");
      // Consumed now: a replay that cannot answer the challenge could never redeem it, so it
      // revokes nothing; one with the right verifier is a reuse.
      assert.deepEqual(await at(T0 + 3 * SECOND), { kind: "pkce_failed" });
      assert.deepEqual(await at(T0 + 3 * SECOND, challengesOf(newVerifier())), { kind: "pkce_failed" });
      const [grant] = await s.listGrants({ appId: w.app.appId, limit: 10 });
      assert.equal(grant?.revokedAt, null, "the first login stands");
      assert.equal((await at(T0 + 3 * SECOND, challengesOf(verifier))).kind, "reused");
    });

    it("no downgrade: a verifier for a code without a challenge changes nothing (RFC 9700 §2.1.1)", async () => {
      const { s, w } = await openWorld();
      await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`);
      const code = freshCode(w.app, w.alice);
      await s.saveLoginCodes([code]);
      const { input } = exchangeInput(code.codeHash, w.app.appId, T0 + SECOND);
      assert.deepEqual(await s.exchangeLoginCode({ ...input, verifier: challengesOf(newVerifier()) }), {
        kind: "pkce_failed",
      });
      assert.equal((await s.exchangeLoginCode({ ...input, verifier: null })).kind, "issued");
    });

    it("plain: the verifier itself; an expired or foreign code answers as without a challenge", async () => {
      const { s, w } = await openWorld();
      await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`);
      const verifier = newVerifier();
      const code = {
        ...freshCode(w.app, w.alice),
        codeChallenge: { value: verifier, method: "plain" as const },
      };
      await s.saveLoginCodes([code]);
      const { input } = exchangeInput(code.codeHash, w.app.appId, T0 + SECOND);
      assert.equal((await s.exchangeLoginCode({ ...input, appId: w.rival.appId })).kind, "foreign");
      assert.equal(
        (await s.exchangeLoginCode({ ...input, now: T0 + 180 * SECOND, verifier: challengesOf(verifier) }))
          .kind,
        "expired",
      );
      assert.equal(
        (await s.exchangeLoginCode({ ...input, verifier: challengesOf(verifier) })).kind,
        "issued",
      );
    });

    it("16 concurrent redemptions with the right verifier: exactly one issued", async () => {
      const { s, w } = await openWorld();
      await s.ensureOpenId(w.app.appId, w.alice.tenantKey, w.alice.userId, `ou_${hex(16)}`);
      const verifier = newVerifier();
      const code = { ...freshCode(w.app, w.alice), codeChallenge: s256(verifier) };
      await s.saveLoginCodes([code]);
      const outcomes = await Promise.all(
        Array.from({ length: 16 }, () =>
          s.exchangeLoginCode({
            ...exchangeInput(code.codeHash, w.app.appId, T0 + SECOND).input,
            verifier: challengesOf(verifier),
          }),
        ),
      );
      assert.deepEqual(countKinds(outcomes), { issued: 1, reused: 15 });
    });
  });
}
