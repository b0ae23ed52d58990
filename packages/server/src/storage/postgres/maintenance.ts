/** The purge of what can no longer decide anything, on PostgreSQL (see `purgeExpired` in port.ts). */
import { ENDED_GRANT_KEPT_MS, type Millis } from "../port.ts";
import type { PgAccess } from "./access.ts";

export function pgPurge({ query }: PgAccess): (now: Millis, limit?: number) => Promise<number> {
  return async (now, limit) => {
    // One instance purges at a time, per schema: the others' calls find the lock taken and
    // delete nothing, rather than pick over the same rows. Every row is picked with SKIP
    // LOCKED, so a row a login still holds waits for the next round. LIMIT NULL is no limit.
    // Migration 0002 dropped the foreign keys to grants on the premise that no grant is
    // deleted; this is the exception, and keeps what they guarded: a grant goes only when no
    // token names it (its spent refresh digests gone, its access digest cleared), a month
    // after its family ended, long after anything could write one. The oldest `limit` ended
    // grants are picked first, so that a call reads a bounded number of them however many
    // wait; a grant goes in the call after its last tokens (this statement's NOT EXISTS and
    // access_hash still see what it deletes and clears, and a row is never both updated and
    // deleted by one statement).
    const rows = await query<{ n: number }>(
      `WITH purging AS MATERIALIZED (
                SELECT pg_try_advisory_xact_lock(
                  ('x' || substr(md5('mina-auth:purge:' || current_schema()), 1, 16))::bit(64)::bigint) AS ok
              ),
              ended AS (
                SELECT grant_id FROM grants WHERE expires_at <= $2 AND (SELECT ok FROM purging)
                 ORDER BY expires_at LIMIT $3 FOR UPDATE SKIP LOCKED
              ),
              codes AS (
                DELETE FROM login_codes WHERE code_hash IN (
                  SELECT code_hash FROM login_codes WHERE expires_at <= $1 AND (SELECT ok FROM purging)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              ),
              app AS (
                DELETE FROM app_tokens WHERE token_hash IN (
                  SELECT token_hash FROM app_tokens WHERE expires_at <= $1 AND (SELECT ok FROM purging)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              ),
              access AS (
                UPDATE grants SET access_hash = NULL WHERE grant_id IN (
                  SELECT grant_id FROM grants
                   WHERE access_expires_at <= $1 AND access_hash IS NOT NULL AND (SELECT ok FROM purging)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                  AND grant_id NOT IN (SELECT grant_id FROM ended)
                RETURNING 1
              ),
              legacy_access AS (
                DELETE FROM access_tokens WHERE token_hash IN (
                  SELECT token_hash FROM access_tokens WHERE expires_at <= $1 AND (SELECT ok FROM purging)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              ),
              ended_access AS (
                DELETE FROM access_tokens WHERE token_hash IN (
                  SELECT token_hash FROM access_tokens WHERE grant_id IN (SELECT grant_id FROM ended)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              ),
              ended_spent AS (
                DELETE FROM spent_refresh_tokens WHERE token_hash IN (
                  SELECT token_hash FROM spent_refresh_tokens WHERE grant_id IN (SELECT grant_id FROM ended)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              ),
              ended_grants AS (
                DELETE FROM grants g WHERE g.grant_id IN (SELECT grant_id FROM ended)
                   AND g.access_hash IS NULL
                   AND NOT EXISTS (SELECT 1 FROM spent_refresh_tokens r WHERE r.grant_id = g.grant_id)
                   AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = g.grant_id)
                RETURNING 1
              ),
              ended_expired_access AS (
                -- The access digest of an ended grant that still holds one: cleared here, so that
                -- the grant goes in a later call (never updated and deleted by one statement).
                UPDATE grants SET access_hash = NULL
                 WHERE grant_id IN (SELECT grant_id FROM ended) AND access_hash IS NOT NULL
                RETURNING 1
              ),
              tickets AS (
                DELETE FROM app_tickets WHERE ticket_hash IN (
                  SELECT ticket_hash FROM app_tickets WHERE expires_at <= $1 AND (SELECT ok FROM purging)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              ),
              limits AS (
                DELETE FROM rate_limits WHERE (key, window_start) IN (
                  SELECT key, window_start FROM rate_limits WHERE window_end <= $1 AND (SELECT ok FROM purging)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              )
         SELECT (SELECT count(*) FROM codes) + (SELECT count(*) FROM app) + (SELECT count(*) FROM access)
              + (SELECT count(*) FROM legacy_access) + (SELECT count(*) FROM ended_access)
              + (SELECT count(*) FROM ended_spent) + (SELECT count(*) FROM ended_grants)
              + (SELECT count(*) FROM ended_expired_access) + (SELECT count(*) FROM limits)
              + (SELECT count(*) FROM tickets) AS n`,
      [now, now - ENDED_GRANT_KEPT_MS, limit ?? null],
    );
    return rows[0]!.n;
  };
}
