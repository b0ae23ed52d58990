/**
 * Audit events of one group commit, written together just before its COMMIT.
 *
 * An operation adds its events while it runs; they are written in ONE statement for the whole
 * batch, inside the same transaction, so an event exists exactly when the operation that
 * caused it committed: never lost for a committed login, never kept for one rolled back. The
 * login itself pays an array push instead of an INSERT (docs/performance.md, "One row per
 * login").
 */
import type BetterSqlite3 from "better-sqlite3";

type AuditRow = [
  at: number,
  type: string,
  appId: string | null,
  tenantKey: string | null,
  userId: string | null,
  grantId: string | null,
];

export class AuditBuffer {
  #rows: AuditRow[] = [];
  readonly #db: BetterSqlite3.Database;
  /** Prepared on first use: the table exists only once the schema was migrated. */
  #insert: BetterSqlite3.Statement<[string]> | null = null;

  constructor(db: BetterSqlite3.Database) {
    this.#db = db;
  }

  add(
    at: number,
    type: string,
    appId: string | null,
    tenantKey: string | null,
    userId: string | null,
    grantId: string | null,
  ): void {
    this.#rows.push([at, type, appId, tenantKey, userId, grantId]);
  }

  /** Runs `operation`; when it throws, the events it added are dropped with it. */
  within<T>(operation: () => T): T {
    const mark = this.#rows.length;
    try {
      return operation();
    } catch (error) {
      this.#rows.length = mark;
      throw error;
    }
  }

  /** Forgets every event (a batch's transaction begins, or begins again). */
  clear(): void {
    this.#rows = [];
  }

  /** Writes the batch's events; called inside its transaction, before COMMIT. */
  flush(): void {
    if (this.#rows.length === 0) return;
    const rows = this.#rows;
    this.#rows = [];
    // One statement whatever the batch size: the rows travel as one JSON array, in order.
    this.#insert ??= this.#db.prepare<[string]>(
      `INSERT INTO audit_events (at, type, app_id, tenant_key, user_id, grant_id)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5
       FROM json_each(?) ORDER BY key`,
    );
    this.#insert.run(JSON.stringify(rows));
  }
}
