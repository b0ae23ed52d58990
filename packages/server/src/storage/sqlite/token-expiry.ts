/** "Expire this token now" on SQLite (storage/token-expiry-port.ts). */
import type BetterSqlite3 from "better-sqlite3";
import type { AppTokenKind } from "../port.ts";

function prepare(db: BetterSqlite3.Database) {
  return {
    current: db.prepare<[{ grantId: string; now: number }]>(
      `UPDATE grants SET access_expires_at = @now
        WHERE grant_id = @grantId AND revoked_at IS NULL AND access_expires_at > @now`,
    ),
    // Access tokens from before migration 0004, replaced by a refresh but not expired yet.
    legacy: db.prepare<[{ grantId: string; now: number }]>(
      `UPDATE access_tokens SET expires_at = @now
        WHERE grant_id = @grantId AND expires_at > @now
          AND EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = @grantId AND g.revoked_at IS NULL)`,
    ),
    appTokens: db.prepare<[{ appId: string; kind: AppTokenKind | null; now: number }]>(
      `UPDATE app_tokens SET expires_at = @now
        WHERE app_id = @appId AND (@kind IS NULL OR kind = @kind) AND expires_at > @now`,
    ),
  };
}

export class SqliteTokenExpiry {
  readonly #s: ReturnType<typeof prepare>;

  constructor(db: BetterSqlite3.Database) {
    this.#s = prepare(db);
  }

  // Both run inside the write queue's transaction.
  expireAccessTokens(grantId: string, now: number): boolean {
    const current = this.#s.current.run({ grantId, now }).changes;
    const legacy = this.#s.legacy.run({ grantId, now }).changes;
    return current + legacy > 0;
  }

  expireAppTokens(appId: string, kind: AppTokenKind | null, now: number): number {
    return this.#s.appTokens.run({ appId, kind, now }).changes;
  }
}
