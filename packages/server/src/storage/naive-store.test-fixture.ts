/**
 * TEST FIXTURE — the bug this project must not have. A deliberately naive code exchange that
 * reads the code row, awaits, then writes unconditionally (ory/fosite issue 778). Under the
 * same `beforeConsume` hook that the real adapters survive, it issues twice: proof that the
 * hook really forces the interleaving that a read-then-write store loses.
 */
import type BetterSqlite3 from "better-sqlite3";
import type { ExchangeInput, ExchangeOutcome } from "./port.ts";
import type { StorageTestHooks } from "./test-hooks.ts";

interface CodeRow {
  appId: string;
  tenantKey: string;
  userId: string;
  expiresAt: number;
  consumedAt: number | null;
}

export function naiveExchange(
  db: BetterSqlite3.Database,
  hooks: StorageTestHooks,
): (input: ExchangeInput) => Promise<ExchangeOutcome> {
  const read = db.prepare<[string], CodeRow>(
    `SELECT app_id AS appId, tenant_key AS tenantKey, user_id AS userId, expires_at AS expiresAt,
       consumed_at AS consumedAt FROM login_codes WHERE code_hash = ?`,
  );
  const consume = db.prepare<[number, string, string]>(
    "UPDATE login_codes SET consumed_at = ?, grant_id = ? WHERE code_hash = ?",
  );
  // The login's one row (migration 0004).
  const insertGrant = db.prepare<
    [string, string, string, string, string, string, number, number, string, number, string]
  >(
    `INSERT INTO grants (grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, created_at, expires_at,
       access_hash, access_expires_at, refresh_hash)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const openId = db
    .prepare<[string, string, string], string>(
      "SELECT open_id FROM open_ids WHERE app_id = ? AND tenant_key = ? AND user_id = ?",
    )
    .pluck();

  return async (input) => {
    const row = read.get(input.codeHash);
    if (!row || row.expiresAt <= input.now) return { kind: "invalid" };
    if (row.appId !== input.appId) return { kind: "foreign" };
    if (row.consumedAt !== null) return { kind: "reused", revokedGrantId: null };
    await hooks.beforeConsume?.(); // the race window: another caller read the same row
    consume.run(input.now, input.grantId, input.codeHash);
    insertGrant.run(
      input.grantId,
      input.appId,
      row.tenantKey,
      row.userId,
      input.sessionKeyHash,
      input.codeHash,
      input.now,
      input.familyExpiresAt,
      input.tokens.accessTokenHash,
      input.tokens.accessExpiresAt,
      input.tokens.refreshTokenHash,
    );
    return {
      kind: "issued",
      identity: {
        grantId: input.grantId,
        appId: input.appId,
        tenantKey: row.tenantKey,
        userId: row.userId,
        openId: openId.get(input.appId, row.tenantKey, row.userId) ?? "",
        scopes: [],
      },
    };
  };
}
