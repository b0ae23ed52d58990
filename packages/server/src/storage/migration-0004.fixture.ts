/**
 * TEST FIXTURE for migration 0004 (one row per login): a database as today's adapters left it
 * at schema version 3, written with the statements those adapters ran, and the checks that
 * every login, token and family in it keeps working through the port once migrated.
 *
 * The rows: grant A, rotated twice (spent refresh tokens R0 and R1, current R2; access tokens
 * A0 expired, A1 replaced but still live, A2 current); grant B, never rotated; grant C,
 * revoked; a consumed code (A's) and an unconsumed one; audit events.
 */
import assert from "node:assert/strict";
import { ACCESS_TTL, exchangeInput, FAMILY_TTL, SECOND, sha256, T0 } from "./contract-suite.ts";
import type { Storage } from "./port.ts";

const HOUR = 3600 * SECOND;

export interface LegacyGrant {
  grantId: string;
  createdAt: number;
  revokedAt: number | null;
  codeHash: string;
  /** [hash, expiresAt] in issue order; the last one is the newest. */
  access: Array<[string, number]>;
  /** [hash, usedAt] in issue order; the last one is unspent (usedAt null). */
  refresh: Array<[string, number | null]>;
}

export interface LegacyWorld {
  tenantKey: string;
  userId: string;
  appId: string;
  openId: string;
  secretHash: string;
  grants: { a: LegacyGrant; b: LegacyGrant; c: LegacyGrant };
  /** A code of A's login (consumed) and one never redeemed. */
  codes: { consumed: string; fresh: string };
  /** Audit events, as (at, type, grantId). */
  audit: Array<[number, string, string]>;
}

export function legacyWorld(tag: string): LegacyWorld {
  const h = (label: string) => sha256(`${tag}:${label}`);
  const grant = (id: string, at: number, rotations: number, revokedAt: number | null): LegacyGrant => ({
    grantId: `g_${tag}_${id}`,
    createdAt: at,
    revokedAt,
    codeHash: h(`code-${id}`),
    access: Array.from({ length: rotations + 1 }, (_, i) => [
      h(`access-${id}${i}`),
      at + i * HOUR + ACCESS_TTL,
    ]),
    refresh: Array.from({ length: rotations + 1 }, (_, i) => [
      h(`refresh-${id}${i}`),
      i < rotations ? at + (i + 1) * HOUR : null,
    ]),
  });
  const a = grant("a", T0, 2, null);
  const b = grant("b", T0 + HOUR, 0, null);
  const c = grant("c", T0 + HOUR + 20 * SECOND, 0, T0 + HOUR + 30 * SECOND);
  return {
    tenantKey: `t${tag}`,
    userId: `u${tag}`,
    appId: `cli_${tag}`,
    openId: `ou_${tag}`,
    secretHash: h("secret"),
    grants: { a, b, c },
    codes: { consumed: a.codeHash, fresh: h("code-fresh") },
    audit: [
      [T0, "login_code.consumed", a.grantId],
      [T0 + HOUR, "refresh_token.rotated", a.grantId],
      [T0 + HOUR + 30 * SECOND, "grant.revoked", c.grantId],
    ],
  };
}

/** The instant the checks run at: after A's second rotation, while A1 is still live. */
export const CHECK_AT = T0 + 2 * HOUR + 60 * SECOND;
/** When the fresh code was issued: it is live at CHECK_AT. */
export const FRESH_CODE_AT = CHECK_AT - 10 * SECOND;

/** Checks, through the port, that everything in `world` works as it did before migrating. */
export async function assertCarriedOver(s: Storage, world: LegacyWorld): Promise<void> {
  const { a, b, c } = world.grants;
  const now = CHECK_AT;
  const grants = await s.listGrants({ appId: world.appId, limit: 10 });
  assert.deepEqual(
    grants.map((g) => [g.grantId, g.revokedAt]).sort(),
    [
      [a.grantId, null],
      [b.grantId, null],
      [c.grantId, c.revokedAt],
    ].sort(),
  );
  assert.equal(grants.find((g) => g.grantId === a.grantId)?.expiresAt, a.createdAt + FAMILY_TTL);
  // Access tokens: the current ones and a replaced one still live work; expired and revoked do not.
  assert.equal((await s.findAccessToken(a.access[2]![0], now))?.identity.grantId, a.grantId);
  assert.equal((await s.findAccessToken(a.access[1]![0], now))?.identity.openId, world.openId);
  assert.equal(await s.findAccessToken(a.access[0]![0], now), null, "expired before the upgrade");
  assert.equal((await s.findAccessToken(b.access[0]![0], now))?.identity.grantId, b.grantId);
  assert.equal(await s.findAccessToken(c.access[0]![0], now), null, "revoked before the upgrade");
  // Audit events are kept.
  const events = await s.listAuditEvents(50);
  for (const [at, type, grantId] of world.audit) {
    assert.ok(
      events.some((e) => e.at === at && e.type === type && e.grantId === grantId),
      `${type} kept`,
    );
  }
  // Codes: the consumed one is still consumed (and its replay revokes A... later), the fresh one redeems.
  const fresh = exchangeInput(world.codes.fresh, world.appId, now);
  assert.equal((await s.exchangeLoginCode(fresh.input)).kind, "issued");

  // Families: B's only refresh token rotates; C's answers revoked; A's current one rotates,
  // which ends A's replaced access tokens, and then a token A spent before the upgrade revokes A.
  const next = (i: number) => ({
    accessTokenHash: sha256(`next-access-${world.appId}-${i}`),
    accessExpiresAt: now + ACCESS_TTL,
    refreshTokenHash: sha256(`next-refresh-${world.appId}-${i}`),
  });
  const rotate = (hash: string, i: number) =>
    s.rotateRefreshToken({ refreshTokenHash: hash, appId: world.appId, now, next: next(i) });
  assert.equal((await rotate(b.refresh[0]![0], 1)).kind, "rotated");
  assert.deepEqual(await rotate(c.refresh[0]![0], 2), { kind: "revoked" });
  const rotated = await rotate(a.refresh[2]![0], 3);
  assert.equal(rotated.kind, "rotated");
  assert.equal(rotated.kind === "rotated" && rotated.familyExpiresAt, a.createdAt + FAMILY_TTL);
  assert.equal(
    await s.findAccessToken(a.access[2]![0], now),
    null,
    "a refresh ends the access token it replaces",
  );
  assert.equal((await s.findAccessToken(next(3).accessTokenHash, now))?.identity.grantId, a.grantId);
  assert.deepEqual(await rotate(a.refresh[0]![0], 4), { kind: "reused", revokedGrantId: a.grantId });
  assert.equal(await s.findAccessToken(a.access[1]![0], now), null, "the revoked family's tokens die");
  assert.equal(await s.findAccessToken(next(3).accessTokenHash, now), null);
  const replay = exchangeInput(world.codes.consumed, world.appId, now);
  assert.equal((await s.exchangeLoginCode(replay.input)).kind, "expired", "A's code expired long ago");

  // The purge empties what the migration left behind, and in time the grants.
  const end = a.createdAt + FAMILY_TTL + 31 * 24 * HOUR + ACCESS_TTL;
  for (let n = -1, calls = 0; n !== 0; calls++) {
    assert.ok(calls < 20, "the purge ends");
    n = await s.purgeExpired(end);
  }
  const left = (await s.listGrants({ appId: world.appId, limit: 10 })).map((g) => g.grantId);
  assert.deepEqual(left, [], "every grant went once its family had ended long enough");
}
