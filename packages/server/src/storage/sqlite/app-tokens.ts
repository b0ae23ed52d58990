/** App and tenant access tokens on SQLite. */
import type BetterSqlite3 from "better-sqlite3";
import type { AppTokenKind, AppTokenRecord } from "../port.ts";

const APP_TOKEN_COLUMNS = `token_hash AS tokenHash, kind, app_id AS appId, tenant_key AS tenantKey, salt,
  issued_at AS issuedAt, expires_at AS expiresAt`;

function prepareAppTokens(db: BetterSqlite3.Database) {
  return {
    insertAppToken: db.prepare<[AppTokenRecord]>(
      `INSERT INTO app_tokens (token_hash, kind, app_id, tenant_key, salt, issued_at, expires_at)
       VALUES (@tokenHash, @kind, @appId, @tenantKey, @salt, @issuedAt, @expiresAt)`,
    ),
    latestAppToken: db.prepare<
      [{ kind: AppTokenKind; appId: string; tenantKey: string | null; now: number }],
      AppTokenRecord
    >(
      `SELECT ${APP_TOKEN_COLUMNS} FROM app_tokens
       WHERE kind = @kind AND app_id = @appId AND tenant_key IS @tenantKey
         AND issued_at <= @now AND expires_at > @now
       ORDER BY issued_at DESC, expires_at DESC LIMIT 1`,
    ),
    findAppToken: db.prepare<[string, number], AppTokenRecord>(
      `SELECT ${APP_TOKEN_COLUMNS} FROM app_tokens WHERE token_hash = ? AND expires_at > ?`,
    ),
  };
}

type AppTokenStatements = ReturnType<typeof prepareAppTokens>;

/** Only the record's own fields reach the statement (named parameters refuse extra keys). */
function toAppTokenRow(token: AppTokenRecord): AppTokenRecord {
  return {
    tokenHash: token.tokenHash,
    kind: token.kind,
    appId: token.appId,
    tenantKey: token.tenantKey,
    salt: token.salt,
    issuedAt: token.issuedAt,
    expiresAt: token.expiresAt,
  };
}

export class SqliteAppTokens {
  readonly #s: AppTokenStatements;

  constructor(db: BetterSqlite3.Database) {
    this.#s = prepareAppTokens(db);
  }

  save(token: AppTokenRecord): void {
    this.#s.insertAppToken.run(toAppTokenRow(token));
  }
  latest(kind: AppTokenKind, appId: string, tenantKey: string | null, now: number): AppTokenRecord | null {
    return this.#s.latestAppToken.get({ kind, appId, tenantKey, now }) ?? null;
  }
  find(tokenHash: string, now: number): AppTokenRecord | null {
    return this.#s.findAppToken.get(tokenHash, now) ?? null;
  }
}
