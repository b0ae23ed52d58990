/**
 * Fault rules on PostgreSQL (storage/fault-rule-port.ts). Every operation is one statement, so
 * one snapshot or one atomic write with the version's move; the count-down is a conditional
 * UPDATE, which PostgreSQL re-checks on the row it locks: exact under any number of instances.
 */
import { type FaultRuleRow, toStoredFaultRule } from "../fault-rule-rows.ts";
import type { FaultRuleStorage } from "../port.ts";
import type { PgAccess } from "./access.ts";

/** Not spent. Spent rows stay until deleted or cleared (migration 0007). */
const live = (alias: string) => `(${alias}.times_left IS NULL OR ${alias}.times_left > 0)`;
const BUMP = "UPDATE fault_rule_set SET version = version + 1 WHERE id = 1";

export function pgFaultRules({ query }: PgAccess): FaultRuleStorage {
  return {
    async addFaultRule(rule) {
      await query(
        `WITH added AS (
           INSERT INTO fault_rules (id, match_path, match_app_id, match_tenant_key, match_user_id, effect,
                                    times_left, probability, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         )
         ${BUMP}`,
        [
          rule.id,
          rule.matchPath,
          rule.matchAppId,
          rule.matchTenantKey,
          rule.matchUserId,
          rule.effect,
          rule.timesLeft,
          rule.probability,
          rule.expiresAt,
        ],
      );
    },

    async listFaultRules() {
      // The version row joined to the live rules: one statement, so the rules are the version's.
      const rows = await query<{ version: number } & { [K in keyof FaultRuleRow]: FaultRuleRow[K] | null }>(
        `SELECT s.version, r.id, r.match_path, r.match_app_id, r.match_tenant_key, r.match_user_id, r.effect,
                r.times_left, r.probability, r.expires_at, r.applied
           FROM fault_rule_set s
           LEFT JOIN fault_rules r ON ${live("r")}
          WHERE s.id = 1
          ORDER BY r.position`,
      );
      return {
        version: rows[0]?.version ?? 0,
        rules: rows.filter((row) => row.id !== null).map((row) => toStoredFaultRule(row as FaultRuleRow)),
      };
    },

    async faultRulesVersion() {
      const rows = await query<{ version: number }>("SELECT version FROM fault_rule_set WHERE id = 1");
      return rows[0]?.version ?? 0;
    },

    async removeFaultRule(id) {
      const rows = await query<{ live: number }>(
        `WITH deleted AS (DELETE FROM fault_rules d WHERE d.id = $1 RETURNING ${live("d")} AS live),
              bumped AS (${BUMP} AND EXISTS (SELECT 1 FROM deleted))
         SELECT count(*) FILTER (WHERE live)::int AS live FROM deleted`,
        [id],
      );
      return (rows[0]?.live ?? 0) > 0;
    },

    async clearFaultRules() {
      const rows = await query<{ live: number }>(
        `WITH deleted AS (DELETE FROM fault_rules d RETURNING ${live("d")} AS live),
              bumped AS (${BUMP})
         SELECT count(*) FILTER (WHERE live)::int AS live FROM deleted`,
      );
      return rows[0]?.live ?? 0;
    },

    async applyFaultRule(id) {
      const rows = await query<{ times_left: number | null; applied: number }>(
        `WITH hit AS (
           UPDATE fault_rules r SET times_left = r.times_left - 1, applied = r.applied + 1
            WHERE r.id = $1 AND ${live("r")}
           RETURNING r.times_left, r.applied
         ),
         bumped AS (${BUMP} AND EXISTS (SELECT 1 FROM hit WHERE times_left = 0))
         SELECT times_left, applied FROM hit`,
        [id],
      );
      const row = rows[0];
      return row === undefined ? null : { timesLeft: row.times_left, applied: row.applied };
    },
  };
}
