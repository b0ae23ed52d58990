/** Storage contract cases: "expire this token now" (storage/token-expiry-port.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AppTokenRecord } from "../port.ts";
import { HOUR, hex, login, newSecret, rotate, SECOND, type SuiteContext, sha256, T0 } from "./fixtures.ts";

export function tokenExpiryCases({ openWorld }: SuiteContext): void {
  describe("expire now", () => {
    it("expireAccessTokens ends the grant's access token at `now`; the refresh token still rotates", async () => {
      const { s, w } = await openWorld();
      const session = await login(s, w.app, w.alice);
      const other = await login(s, w.app, w.bob);
      const now = T0 + 10 * SECOND;
      assert.ok(await s.findAccessToken(session.accessTokenHash, now));
      assert.equal(await s.expireAccessTokens(session.grantId, now), true);
      assert.equal(await s.findAccessToken(session.accessTokenHash, now), null);
      // Once ended, nothing live is left to end; other sessions are untouched.
      assert.equal(await s.expireAccessTokens(session.grantId, now + SECOND), false);
      assert.ok(await s.findAccessToken(other.accessTokenHash, now + SECOND));
      const rotated = await rotate(s, session.refreshTokenHash, w.app.appId, now + 2 * SECOND);
      assert.equal(rotated.outcome.kind, "rotated");
      assert.ok(await s.findAccessToken(rotated.next.accessTokenHash, now + 2 * SECOND));
      assert.equal(await s.expireAccessTokens(`g_${hex(12)}`, now), false);
    });

    it("expireAccessTokens leaves a revoked grant alone (false)", async () => {
      const { s, w } = await openWorld();
      const session = await login(s, w.app, w.alice);
      assert.equal(await s.revokeGrant(session.grantId, T0 + 5 * SECOND, "admin"), true);
      assert.equal(await s.expireAccessTokens(session.grantId, T0 + 6 * SECOND), false);
    });

    it("expireAppTokens ends the app's live tokens of that kind (or both), not another app's", async () => {
      const { s, w } = await openWorld();
      const token = (kind: "app" | "tenant", appId: string): AppTokenRecord => ({
        tokenHash: sha256(newSecret("t-")),
        kind,
        appId,
        tenantKey: w.tenant.tenantKey,
        salt: hex(16),
        issuedAt: T0,
        expiresAt: T0 + 2 * HOUR,
      });
      const appToken = token("app", w.app.appId);
      const tenantToken = token("tenant", w.app.appId);
      const foreign = token("app", w.listed.appId);
      for (const t of [appToken, tenantToken, foreign]) await s.saveAppToken(t);
      const now = T0 + HOUR;
      assert.equal(await s.expireAppTokens(w.app.appId, "app", now), 1);
      assert.equal(await s.findAppToken(appToken.tokenHash, now), null);
      assert.ok(await s.findAppToken(tenantToken.tokenHash, now));
      assert.equal(await s.latestAppToken("app", w.app.appId, w.tenant.tenantKey, now), null);
      assert.equal(await s.expireAppTokens(w.app.appId, null, now), 1);
      assert.equal(await s.findAppToken(tenantToken.tokenHash, now), null);
      assert.ok(await s.findAppToken(foreign.tokenHash, now));
      assert.equal(await s.expireAppTokens(w.app.appId, null, now), 0);
    });
  });
}
