/** The purge of what can no longer decide anything, on SQLite (see `purgeExpired` in port.ts). */
import type BetterSqlite3 from "better-sqlite3";
import type { Millis } from "../port.ts";

/** `limit` -1: no limit (SQLite's LIMIT -1). */
type Purge = { now: Millis; endedBy: Millis; limit: number };
type GrantPurge = { grantId: string; limit: number };

function prepareMaintenance(db: BetterSqlite3.Database) {
  return {
    // Each purge deletes at most `limit` rows (-1: all), picked by primary key through an index,
    // so that a large backlog goes out in short write transactions between logins.
    purgeCodes: db.prepare<[Purge]>(
      `DELETE FROM login_codes WHERE code_hash IN (
         SELECT code_hash FROM login_codes WHERE expires_at <= @now LIMIT @limit)`,
    ),
    purgeAppTokens: db.prepare<[Purge]>(
      `DELETE FROM app_tokens WHERE token_hash IN (
         SELECT token_hash FROM app_tokens WHERE expires_at <= @now LIMIT @limit)`,
    ),
    // An expired access token's digest leaves its login's row (and the lookup index).
    clearExpiredAccess: db.prepare<[Purge]>(
      `UPDATE grants SET access_hash = NULL WHERE rowid IN (
         SELECT rowid FROM grants WHERE access_expires_at <= @now AND access_hash IS NOT NULL LIMIT @limit)`,
    ),
    // Access tokens from before migration 0004, replaced by a refresh but not yet expired then.
    purgeLegacyAccessTokens: db.prepare<[Purge]>(
      `DELETE FROM access_tokens WHERE token_hash IN (
         SELECT token_hash FROM access_tokens WHERE expires_at <= @now LIMIT @limit)`,
    ),
    // A grant goes once its family ended ENDED_GRANT_KEPT_MS ago: the oldest `limit` of them
    // are picked by index, their spent refresh digests deleted within the call's budget (a long
    // family has hundreds), and each grant in a later call that finds none of its tokens left.
    // Picking first bounds a call's reads by `limit` however many ended grants wait.
    endedGrants: db
      .prepare<[Purge], string>(
        "SELECT grant_id FROM grants WHERE expires_at <= @endedBy ORDER BY expires_at LIMIT @limit",
      )
      .pluck(),
    purgeGrantSpentTokens: db.prepare<[GrantPurge]>(
      `DELETE FROM spent_refresh_tokens WHERE token_hash IN (
         SELECT token_hash FROM spent_refresh_tokens WHERE grant_id = @grantId LIMIT @limit)`,
    ),
    purgeGrantLegacyAccessTokens: db.prepare<[GrantPurge]>(
      `DELETE FROM access_tokens WHERE token_hash IN (
         SELECT token_hash FROM access_tokens WHERE grant_id = @grantId LIMIT @limit)`,
    ),
    purgeTokenFreeGrant: db.prepare<[{ grantId: string }]>(
      `DELETE FROM grants WHERE grant_id = @grantId AND access_hash IS NULL
          AND NOT EXISTS (SELECT 1 FROM spent_refresh_tokens WHERE grant_id = @grantId)
          AND NOT EXISTS (SELECT 1 FROM access_tokens WHERE grant_id = @grantId)`,
    ),
    purgeAppTickets: db.prepare<[Purge]>(
      `DELETE FROM app_tickets WHERE ticket_hash IN (
         SELECT ticket_hash FROM app_tickets WHERE expires_at <= @now LIMIT @limit)`,
    ),
    purgeRateLimits: db.prepare<[Purge]>(
      `DELETE FROM rate_limits WHERE (key, window_start) IN (
         SELECT key, window_start FROM rate_limits WHERE window_end <= @now LIMIT @limit)`,
    ),
  };
}

type MaintenanceStatements = ReturnType<typeof prepareMaintenance>;

/** One call of `purgeExpired`, inside one write transaction; returns how many went. */
function purgeExpired(s: MaintenanceStatements, purge: Purge): number {
  const { limit } = purge;
  let deleted =
    s.purgeCodes.run(purge).changes +
    s.purgeAppTokens.run(purge).changes +
    s.purgeLegacyAccessTokens.run(purge).changes +
    s.purgeRateLimits.run(purge).changes +
    s.purgeAppTickets.run(purge).changes;
  // Budgets of rows per kind; -1 (no limit) stays -1.
  let spentLeft = limit;
  let accessLeft = limit;
  for (const grantId of s.endedGrants.all(purge)) {
    if (spentLeft === 0 || accessLeft === 0) break;
    const spent = s.purgeGrantSpentTokens.run({ grantId, limit: spentLeft }).changes;
    const access = s.purgeGrantLegacyAccessTokens.run({ grantId, limit: accessLeft }).changes;
    if (limit >= 0) {
      spentLeft -= spent;
      accessLeft -= access;
    }
    deleted += spent + access;
    // Only in a call that found none of its tokens: the grant goes in the call after its last.
    if (spent === 0 && access === 0) deleted += s.purgeTokenFreeGrant.run({ grantId }).changes;
  }
  // After the grants: a grant whose access digest is cleared now goes in a later call.
  return deleted + s.clearExpiredAccess.run(purge).changes;
}

export class SqliteMaintenance {
  readonly #s: MaintenanceStatements;

  constructor(db: BetterSqlite3.Database) {
    this.#s = prepareMaintenance(db);
  }

  purgeExpired(purge: Purge): number {
    return purgeExpired(this.#s, purge);
  }
}
