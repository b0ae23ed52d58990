/** Sessions (grants) and the audit trail on SQLite, as the admin API reads them. */
import type BetterSqlite3 from "better-sqlite3";
import type { AuditEvent, GrantQuery, GrantSummary } from "../port.ts";

const GRANT_COLUMNS = `grant_id AS grantId, app_id AS appId, tenant_key AS tenantKey, user_id AS userId,
  created_at AS createdAt, expires_at AS expiresAt, revoked_at AS revokedAt, revoke_reason AS revokeReason`;

type GrantFilter = {
  appId: string | null;
  tenantKey: string | null;
  userId: string | null;
  activeAt: number | null;
  limit: number;
};

function prepareSessions(db: BetterSqlite3.Database) {
  return {
    listGrants: db.prepare<[GrantFilter], GrantSummary>(
      `SELECT ${GRANT_COLUMNS} FROM grants
       WHERE (@appId IS NULL OR app_id = @appId)
         AND (@tenantKey IS NULL OR tenant_key = @tenantKey)
         AND (@userId IS NULL OR user_id = @userId)
         AND (@activeAt IS NULL OR (revoked_at IS NULL AND expires_at > @activeAt))
       ORDER BY created_at DESC, grant_id LIMIT @limit`,
    ),
    listAudit: db.prepare<[number | null, number | null, number], AuditEvent>(
      `SELECT id, at, type, app_id AS appId, tenant_key AS tenantKey, user_id AS userId, grant_id AS grantId
       FROM audit_events WHERE (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?`,
    ),
  };
}

type SessionStatements = ReturnType<typeof prepareSessions>;

function listGrants(s: SessionStatements, query: GrantQuery): GrantSummary[] {
  return s.listGrants.all({
    appId: query.appId ?? null,
    tenantKey: query.tenantKey ?? null,
    userId: query.userId ?? null,
    activeAt: query.activeAt ?? null,
    limit: query.limit,
  });
}

export class SqliteSessions {
  readonly #s: SessionStatements;

  constructor(db: BetterSqlite3.Database) {
    this.#s = prepareSessions(db);
  }

  listGrants(query: GrantQuery): GrantSummary[] {
    return listGrants(this.#s, query);
  }
  listAuditEvents(limit: number, beforeId: number | null): AuditEvent[] {
    return this.#s.listAudit.all(beforeId, beforeId, limit);
  }
}
