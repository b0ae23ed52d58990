/** "Expire this token now" on PostgreSQL (storage/token-expiry-port.ts): one statement each. */
import type { TokenExpiryStorage } from "../port.ts";
import type { PgAccess } from "./access.ts";

export function pgTokenExpiry({ query }: PgAccess): TokenExpiryStorage {
  return {
    async expireAccessTokens(grantId, now) {
      // The current token on the grant's row, and one from before migration 0004 still in force.
      const rows = await query<{ ended: number }>(
        `WITH live AS (SELECT grant_id FROM grants WHERE grant_id = $1 AND revoked_at IS NULL),
              current AS (
                UPDATE grants g SET access_expires_at = $2
                  FROM live WHERE g.grant_id = live.grant_id AND g.access_expires_at > $2
                RETURNING 1
              ),
              legacy AS (
                UPDATE access_tokens t SET expires_at = $2
                  FROM live WHERE t.grant_id = live.grant_id AND t.expires_at > $2
                RETURNING 1
              )
         SELECT ((SELECT count(*) FROM current) + (SELECT count(*) FROM legacy))::int AS ended`,
        [grantId, now],
      );
      return (rows[0]?.ended ?? 0) > 0;
    },

    async expireAppTokens(appId, kind, now) {
      const rows = await query<{ ended: number }>(
        `WITH ended AS (
           UPDATE app_tokens SET expires_at = $3
            WHERE app_id = $1 AND ($2::text IS NULL OR kind = $2) AND expires_at > $3
           RETURNING 1
         )
         SELECT count(*)::int AS ended FROM ended`,
        [appId, kind, now],
      );
      return rows[0]?.ended ?? 0;
    },
  };
}
