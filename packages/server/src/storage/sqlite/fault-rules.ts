/** Fault rules on SQLite (storage/fault-rule-port.ts): a table and the set's version row. */
import type BetterSqlite3 from "better-sqlite3";
import { FAULT_RULE_COLUMNS, type FaultRuleRow, toStoredFaultRule } from "../fault-rule-rows.ts";
import type { StoredFaultRule, StoredFaultRuleSet } from "../port.ts";

/** Live: not spent. Spent rows stay until deleted or cleared (migration 0007). */
const LIVE = "(times_left IS NULL OR times_left > 0)";

function prepare(db: BetterSqlite3.Database) {
  return {
    version: db.prepare<[], number>("SELECT version FROM fault_rule_set WHERE id = 1").pluck(),
    bump: db.prepare("UPDATE fault_rule_set SET version = version + 1 WHERE id = 1"),
    add: db.prepare<[Omit<StoredFaultRule, "applied">]>(
      `INSERT INTO fault_rules (id, position, match_path, match_app_id, match_tenant_key, match_user_id,
                                effect, times_left, probability, expires_at)
       SELECT @id, coalesce(max(position), 0) + 1, @matchPath, @matchAppId, @matchTenantKey, @matchUserId,
              @effect, @timesLeft, @probability, @expiresAt FROM fault_rules`,
    ),
    list: db.prepare<[], FaultRuleRow>(
      `SELECT ${FAULT_RULE_COLUMNS} FROM fault_rules WHERE ${LIVE} ORDER BY position`,
    ),
    remove: db.prepare<[string], { live: number }>(
      `DELETE FROM fault_rules WHERE id = ? RETURNING ${LIVE} AS live`,
    ),
    clear: db.prepare<[], { live: number }>(`DELETE FROM fault_rules RETURNING ${LIVE} AS live`),
    apply: db.prepare<[string], { times_left: number | null; applied: number }>(
      `UPDATE fault_rules SET times_left = times_left - 1, applied = applied + 1
        WHERE id = ? AND ${LIVE}
       RETURNING times_left, applied`,
    ),
  };
}

export class SqliteFaultRules {
  readonly #s: ReturnType<typeof prepare>;
  readonly #db: BetterSqlite3.Database;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
    this.#s = prepare(db);
  }

  version(): number {
    return this.#s.version.get()!;
  }

  /** Rules and version in one read transaction: one snapshot. */
  list(): StoredFaultRuleSet {
    return this.#db.transaction(() => ({
      version: this.#s.version.get()!,
      rules: this.#s.list.all().map(toStoredFaultRule),
    }))();
  }

  // The writes below run inside the write queue's transaction: each is atomic with its bump.
  add(rule: Omit<StoredFaultRule, "applied">): void {
    this.#s.add.run(rule);
    this.#s.bump.run();
  }

  remove(id: string): boolean {
    const deleted = this.#s.remove.all(id);
    if (deleted.length > 0) this.#s.bump.run();
    return deleted.some((row) => row.live === 1);
  }

  clear(): number {
    const deleted = this.#s.clear.all();
    this.#s.bump.run();
    return deleted.filter((row) => row.live === 1).length;
  }

  apply(id: string): { timesLeft: number | null; applied: number } | null {
    const row = this.#s.apply.get(id);
    if (row === undefined) return null;
    if (row.times_left === 0) this.#s.bump.run();
    return { timesLeft: row.times_left, applied: row.applied };
  }
}
