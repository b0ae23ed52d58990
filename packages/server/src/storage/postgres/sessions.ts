/** Sessions (grants) and the audit trail on PostgreSQL, as the admin API reads them. */
import type { AuditEvent, GrantQuery, GrantSummary, SessionStorage } from "../port.ts";
import type { PgAccess } from "./access.ts";
import { revokeGrantWith } from "./flow.ts";

export function pgSessions({ query, direct }: PgAccess): SessionStorage {
  return {
    async listGrants(q: GrantQuery): Promise<GrantSummary[]> {
      const where: string[] = [];
      const values: unknown[] = [];
      const param = (value: unknown) => {
        values.push(value);
        return `$${values.length}`;
      };
      if (q.appId !== undefined) where.push(`app_id = ${param(q.appId)}`);
      if (q.tenantKey !== undefined) where.push(`tenant_key = ${param(q.tenantKey)}`);
      if (q.userId !== undefined) where.push(`user_id = ${param(q.userId)}`);
      if (q.activeAt !== undefined) {
        where.push(`revoked_at IS NULL AND expires_at > ${param(q.activeAt)}`);
      }
      const rows = await query<{
        grant_id: string;
        app_id: string;
        tenant_key: string;
        user_id: string;
        created_at: number;
        expires_at: number;
        revoked_at: number | null;
        revoke_reason: string | null;
      }>(
        `SELECT grant_id, app_id, tenant_key, user_id, created_at, expires_at, revoked_at, revoke_reason
           FROM grants ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
          ORDER BY created_at DESC, grant_id LIMIT ${param(q.limit)}`,
        values,
      );
      return rows.map((row) => ({
        grantId: row.grant_id,
        appId: row.app_id,
        tenantKey: row.tenant_key,
        userId: row.user_id,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
        revokedAt: row.revoked_at,
        revokeReason: row.revoke_reason,
      }));
    },

    async revokeGrant(grantId, now, reason) {
      return direct((q) => revokeGrantWith(q, grantId, now, reason));
    },

    async listAuditEvents(limit, beforeId): Promise<AuditEvent[]> {
      const rows = await query<{
        id: number;
        at: number;
        type: string;
        app_id: string | null;
        tenant_key: string | null;
        user_id: string | null;
        grant_id: string | null;
      }>(
        `SELECT id, at, type, app_id, tenant_key, user_id, grant_id FROM audit_events
          ${beforeId === undefined ? "" : "WHERE id < $2"} ORDER BY id DESC LIMIT $1`,
        beforeId === undefined ? [limit] : [limit, beforeId],
      );
      return rows.map((row) => ({
        id: row.id,
        at: row.at,
        type: row.type,
        appId: row.app_id,
        tenantKey: row.tenant_key,
        userId: row.user_id,
        grantId: row.grant_id,
      }));
    },
  };
}
