/** A fault_rules row as both dialects read it (migration 0007), and its port shape. */
import type { StoredFaultRule } from "./fault-rule-port.ts";

export interface FaultRuleRow {
  id: string;
  match_path: string;
  match_app_id: string | null;
  match_tenant_key: string | null;
  match_user_id: string | null;
  effect: string;
  times_left: number | null;
  probability: number | null;
  expires_at: number | null;
  applied: number;
}

export const FAULT_RULE_COLUMNS =
  "id, match_path, match_app_id, match_tenant_key, match_user_id, effect, times_left, probability, expires_at, applied";

export const toStoredFaultRule = (row: FaultRuleRow): StoredFaultRule => ({
  id: row.id,
  matchPath: row.match_path,
  matchAppId: row.match_app_id,
  matchTenantKey: row.match_tenant_key,
  matchUserId: row.match_user_id,
  effect: row.effect,
  timesLeft: row.times_left,
  probability: row.probability,
  expiresAt: row.expires_at,
  applied: row.applied,
});
