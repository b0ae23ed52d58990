/** App and tenant tokens, server keys and rate-limit counters on PostgreSQL. */

import type {
  AppTokenKind,
  AppTokenRecord,
  AppTokenStorage,
  Millis,
  RateLimitInput,
  RateLimitResult,
  RateLimitStorage,
  ServerKey,
  ServerKeyStorage,
} from "../port.ts";
import { StorageUnavailableError } from "../port.ts";
import type { PgAccess } from "./access.ts";

interface AppTokenRow {
  token_hash: string;
  kind: AppTokenKind;
  app_id: string;
  tenant_key: string | null;
  salt: string;
  issued_at: number;
  expires_at: number;
}

const APP_TOKEN_COLUMNS = "token_hash, kind, app_id, tenant_key, salt, issued_at, expires_at";

function toAppToken(row: AppTokenRow): AppTokenRecord {
  return {
    tokenHash: row.token_hash,
    kind: row.kind,
    appId: row.app_id,
    tenantKey: row.tenant_key,
    salt: row.salt,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
  };
}

interface ServerKeyRow {
  name: string;
  version: number;
  value: string;
  created_at: string | number;
}

function toServerKey(row: ServerKeyRow): ServerKey {
  return { name: row.name, version: row.version, value: row.value, createdAt: Number(row.created_at) };
}

export function pgAppTokens({ query }: PgAccess): AppTokenStorage {
  return {
    async saveAppToken(token: AppTokenRecord) {
      // A token hash already stored is refused (unique violation), as on SQLite: a token is
      // never replaced (port.ts).
      await query(`INSERT INTO app_tokens (${APP_TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
        token.tokenHash,
        token.kind,
        token.appId,
        token.tenantKey,
        token.salt,
        token.issuedAt,
        token.expiresAt,
      ]);
    },

    async latestAppToken(kind: AppTokenKind, appId: string, tenantKey: string | null, now: Millis) {
      const rows = await query<AppTokenRow>(
        `SELECT ${APP_TOKEN_COLUMNS} FROM app_tokens
          WHERE app_id = $1 AND kind = $2 AND tenant_key IS NOT DISTINCT FROM $3 AND issued_at <= $4 AND expires_at > $4
          ORDER BY issued_at DESC, expires_at DESC LIMIT 1`,
        [appId, kind, tenantKey, now],
      );
      return rows[0] ? toAppToken(rows[0]) : null;
    },

    async findAppToken(tokenHash, now) {
      const rows = await query<AppTokenRow>(
        `SELECT ${APP_TOKEN_COLUMNS} FROM app_tokens WHERE token_hash = $1 AND expires_at > $2`,
        [tokenHash, now],
      );
      return rows[0] ? toAppToken(rows[0]) : null;
    },
  };
}

export function pgServerKeys({ query }: PgAccess): ServerKeyStorage {
  const keys: ServerKeyStorage = {
    async ensureServerKey(name, candidate, now) {
      // Version 1 always exists once the name does, so a conflict on it means "already there".
      await query(
        `INSERT INTO server_keys (name, version, value, created_at) VALUES ($1, 1, $2, $3)
         ON CONFLICT (name, version) DO NOTHING`,
        [name, candidate, now],
      );
      return (await keys.listServerKeys(name))[0]!;
    },

    async rotateServerKey(name, value, now) {
      // Two instances rotating at once compute the same next version: the loser of the insert
      // takes the one after it, so both values are kept and the later one is newest.
      for (let attempt = 0; attempt < 8; attempt++) {
        const rows = await query<ServerKeyRow>(
          `INSERT INTO server_keys (name, version, value, created_at)
           SELECT $1, coalesce(max(version), 0) + 1, $2, $3 FROM server_keys WHERE name = $1
           ON CONFLICT (name, version) DO NOTHING
           RETURNING name, version, value, created_at`,
          [name, value, now],
        );
        if (rows[0]) return toServerKey(rows[0]);
      }
      throw new StorageUnavailableError("postgres: the server key kept changing under rotation");
    },

    async listServerKeys(name) {
      const rows = await query<ServerKeyRow>(
        "SELECT name, version, value, created_at FROM server_keys WHERE name = $1 ORDER BY version DESC",
        [name],
      );
      return rows.map(toServerKey);
    },
  };
  return keys;
}

export function pgRateLimits({ query }: PgAccess): RateLimitStorage {
  return {
    async hitRateLimit(input: RateLimitInput): Promise<RateLimitResult> {
      const windowStart = Math.floor(input.now / input.windowMs) * input.windowMs;
      const windowEnd = windowStart + input.windowMs;
      // One statement: concurrent hits from every instance serialise on the row.
      const rows = await query<{ count: number }>(
        `INSERT INTO rate_limits (key, window_start, window_end, count) VALUES ($1, $2, $3, 1)
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
         RETURNING count`,
        [input.key, windowStart, windowEnd],
      );
      const count = rows[0]!.count;
      return count <= input.limit
        ? { allowed: true, retryAfterMs: 0 }
        : { allowed: false, retryAfterMs: windowEnd - input.now };
    },
  };
}
