/**
 * The fault rules' part of the storage port (port.ts re-exports it): test tools' rules kept in
 * storage so that every instance on one database obeys the same set (test-tools/fault-rules.ts).
 */

/** A rule as stored. What `effect` means is the server's (test-tools/fault-rules.ts), not storage's. */
export interface StoredFaultRule {
  id: string;
  matchPath: string;
  matchAppId: string | null;
  matchTenantKey: string | null;
  matchUserId: string | null;
  /** The effect as JSON text. */
  effect: string;
  /** Applications left; null: no limit. 0 only after the last one (then the rule is spent). */
  timesLeft: number | null;
  probability: number | null;
  /** Unix seconds; storage does not interpret it (each server reads it on its own clock). */
  expiresAt: number | null;
  /** How often the rule applied, across every instance. */
  applied: number;
}

/** The rules in force, in the order they were added, and the version of the set they are. */
export interface StoredFaultRuleSet {
  version: number;
  rules: StoredFaultRule[];
}

export interface FaultRuleStorage {
  /** Adds a rule (its `applied` is 0) after every other, and moves the set's version. */
  addFaultRule(rule: Omit<StoredFaultRule, "applied">): Promise<void>;
  /**
   * Every rule not spent (`timesLeft` null or above 0), in the order added, with the version
   * read in the same snapshot: a change after the read moves the version past it.
   */
  listFaultRules(): Promise<StoredFaultRuleSet>;
  /**
   * The set's version alone: one read of one row. It changes (increases) whenever a rule is
   * added, deleted, cleared, or spent. The server polls it off the request path.
   */
  faultRulesVersion(): Promise<number>;
  /** Deletes the rule; whether it was there and not spent. Moves the version when it deletes. */
  removeFaultRule(id: string): Promise<boolean>;
  /** Deletes every rule; how many were not spent. Moves the version. */
  clearFaultRules(): Promise<number>;
  /**
   * Counts one application of the rule, in one conditional write: across every instance a
   * rule with `times` N applies exactly N times. Null when the rule is gone or spent (nothing
   * changed). The last of its times moves the version, so other instances drop it.
   */
  applyFaultRule(id: string): Promise<{ timesLeft: number | null; applied: number } | null>;
}
