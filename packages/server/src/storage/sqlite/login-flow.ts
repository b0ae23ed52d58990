/**
 * The login flow on SQLite: codes, the exchange, refresh rotation, access-token lookup.
 *
 * One row per login (migration 0004): the grant row holds the digests of its current access
 * and refresh tokens. An exchange is the conditional UPDATE that consumes the code and the
 * INSERT of that row; a rotation is one conditional UPDATE of that row plus the insert of the
 * spent digest (kept so that its replay is recognised). Audit events go to an `AuditBuffer`
 * and are written once per group commit, inside the same transaction.
 *
 * Every function here runs inside the write queue's transaction (or directly for reads);
 * throwing rolls back the calling operation alone.
 */
import type BetterSqlite3 from "better-sqlite3";
import { belongsTo } from "../caller-scope.ts";
import { fitsChallenge } from "../code-challenge.ts";
import { encodeGrantedScopes, scopesInForce } from "../granted-scopes.ts";
import type {
  AccessTokenSubject,
  CommittedLogin,
  ExchangeInput,
  ExchangeOutcome,
  GrantIdentity,
  LoginCodeRecord,
  RotateInput,
  RotateOutcome,
} from "../port.ts";
import type { AuditBuffer } from "./audit-buffer.ts";
import { ENSURE_OPEN_ID_SQL, fromUserRow, parseScopes, type UserRow } from "./rows.ts";

/** Grant revocation reasons this adapter writes. */
export const REVOKE_REASON = {
  codeReused: "login_code_reused",
  refreshReused: "refresh_token_reused",
} as const;

interface ConsumedCodeRow {
  tenantKey: string;
  userId: string;
  openId: string | null;
  scopes: string | null;
  granted: string | null;
  visible: number | null;
}
interface CodeStateRow {
  appId: string;
  tenantKey: string;
  userId: string;
  expiresAt: number;
  consumedAt: number | null;
  grantId: string | null;
  challenge: string | null;
  challengeMethod: string | null;
}
interface RotatedRow {
  grantId: string;
  tenantKey: string;
  userId: string;
  expiresAt: number;
  openId: string | null;
  scopes: string;
  granted: string | null;
}
interface RefreshStateRow {
  spent: number;
  grantId: string;
  appId: string;
  tenantKey: string;
  userId: string;
  revokedAt: number | null;
  expiresAt: number;
}
interface SubjectRow extends UserRow {
  grantId: string;
  appId: string;
  openId: string | null;
  scopes: string;
  granted: string | null;
}
interface CommittedRow {
  grantId: string;
  appId: string;
  tenantKey: string;
  userId: string;
  expiresAt: number;
  revokedAt: number | null;
  scopes: string;
  granted: string | null;
  openId: string | null;
}
interface RevokedRow {
  appId: string;
  tenantKey: string;
  userId: string;
}

/**
 * The visibility decision for the user and app of the login code being consumed: user active,
 * app installed in the code's tenant, and visible to all, to the user, or to one of the user's
 * departments. NULL when the user does not exist. (RETURNING cannot use a table alias.)
 */
const VISIBLE_SQL = `(SELECT u.status = 'active' AND EXISTS (
    SELECT 1 FROM installations i
    WHERE i.app_id = login_codes.app_id AND i.tenant_key = login_codes.tenant_key AND (
      i.visibility_all = 1
      OR EXISTS (SELECT 1 FROM app_visibility v
                 WHERE v.app_id = i.app_id AND v.tenant_key = i.tenant_key
                   AND v.kind = 'user' AND v.subject_id = u.user_id)
      OR EXISTS (SELECT 1 FROM user_departments d
                 JOIN app_visibility v ON v.app_id = i.app_id AND v.tenant_key = i.tenant_key
                   AND v.kind = 'department' AND v.subject_id = d.department_id
                 WHERE d.tenant_key = u.tenant_key AND d.user_id = u.user_id)))
  FROM users u WHERE u.tenant_key = login_codes.tenant_key AND u.user_id = login_codes.user_id)`;

const SUBJECT_COLUMNS = `g.grant_id AS grantId, g.app_id AS appId, a.scopes, g.scopes AS granted,
  (SELECT o.open_id FROM open_ids o
    WHERE o.app_id = g.app_id AND o.tenant_key = g.tenant_key AND o.user_id = g.user_id) AS openId,
  u.tenant_key AS tenantKey, u.user_id AS userId, u.union_id AS unionId, u.name, u.en_name AS enName,
  u.email, u.mobile, u.avatar_url AS avatarUrl, u.status`;

function prepareLoginFlow(db: BetterSqlite3.Database) {
  return {
    insertCode: db.prepare<[CodeRow]>(
      `INSERT INTO login_codes (code_hash, app_id, tenant_key, user_id, issued_at, expires_at, scopes,
         code_challenge, code_challenge_method)
       VALUES (@codeHash, @appId, @tenantKey, @userId, @issuedAt, @expiresAt, @scopes, @challenge, @method)`,
    ),
    // THE single-use primitive: one conditional write, exactly one winner. It also records the
    // grant the redemption creates, and reads what the rest of the exchange needs.
    // A code with a PKCE challenge is consumed only with a verifier that matches it.
    consumeCode: db.prepare<
      [
        {
          now: number;
          grantId: string;
          codeHash: string;
          appId: string;
          tenantKey: string | null;
          s256: string | null;
          plain: string | null;
        },
      ],
      ConsumedCodeRow
    >(
      `UPDATE login_codes SET consumed_at = @now, grant_id = @grantId
       WHERE code_hash = @codeHash AND app_id = @appId AND consumed_at IS NULL AND expires_at > @now
         AND (@tenantKey IS NULL OR tenant_key = @tenantKey)
         AND CASE WHEN code_challenge IS NULL THEN @s256 IS NULL
                  ELSE code_challenge = CASE code_challenge_method WHEN 'S256' THEN @s256 ELSE @plain END END
       RETURNING tenant_key AS tenantKey, user_id AS userId, scopes AS granted,
         (SELECT o.open_id FROM open_ids o WHERE o.app_id = login_codes.app_id
            AND o.tenant_key = login_codes.tenant_key AND o.user_id = login_codes.user_id) AS openId,
         (SELECT a.scopes FROM apps a WHERE a.app_id = login_codes.app_id) AS scopes,
         ${VISIBLE_SQL} AS visible`,
    ),
    clearCodeGrant: db.prepare<[string]>("UPDATE login_codes SET grant_id = NULL WHERE code_hash = ?"),
    codeState: db.prepare<[string], CodeStateRow>(
      `SELECT app_id AS appId, tenant_key AS tenantKey, user_id AS userId, expires_at AS expiresAt,
         consumed_at AS consumedAt, grant_id AS grantId, code_challenge AS challenge,
         code_challenge_method AS challengeMethod
       FROM login_codes WHERE code_hash = ?`,
    ),
    // Assigns an open_id where a code was saved without one (see `ExchangeInput` in port.ts).
    ensureOpenId: db.prepare<[string, string, string, string], string>(ENSURE_OPEN_ID_SQL).pluck(),
    // The login's one row: the grant and its current tokens.
    insertGrant: db.prepare<
      [
        {
          grantId: string;
          appId: string;
          tenantKey: string;
          userId: string;
          sessionKeyHash: string;
          codeHash: string;
          now: number;
          familyExpiresAt: number;
          accessHash: string;
          accessExpiresAt: number;
          refreshHash: string;
          granted: string | null;
        },
      ]
    >(
      `INSERT INTO grants (grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, created_at,
         expires_at, access_hash, access_expires_at, refresh_hash, scopes)
       VALUES (@grantId, @appId, @tenantKey, @userId, @sessionKeyHash, @codeHash, @now,
         @familyExpiresAt, @accessHash, @accessExpiresAt, @refreshHash, @granted)`,
    ),
    revokeGrant: db.prepare<[number, string, string], RevokedRow>(
      `UPDATE grants SET revoked_at = ?, revoke_reason = ? WHERE grant_id = ? AND revoked_at IS NULL
       RETURNING app_id AS appId, tenant_key AS tenantKey, user_id AS userId`,
    ),

    // Same primitive for refresh rotation: the presented token is the row's current one, and
    // the family lives. The row's tokens are replaced in the same write.
    rotate: db.prepare<
      [
        {
          now: number;
          presented: string;
          appId: string;
          tenantKey: string | null;
          access: string;
          accessExpiresAt: number;
          next: string;
        },
      ],
      RotatedRow
    >(
      `UPDATE grants SET access_hash = @access, access_expires_at = @accessExpiresAt, refresh_hash = @next
       WHERE refresh_hash = @presented AND app_id = @appId AND revoked_at IS NULL AND expires_at > @now
         AND (@tenantKey IS NULL OR tenant_key = @tenantKey)
       RETURNING grant_id AS grantId, tenant_key AS tenantKey, user_id AS userId, expires_at AS expiresAt,
         scopes AS granted,
         (SELECT o.open_id FROM open_ids o WHERE o.app_id = grants.app_id
            AND o.tenant_key = grants.tenant_key AND o.user_id = grants.user_id) AS openId,
         (SELECT a.scopes FROM apps a WHERE a.app_id = grants.app_id) AS scopes`,
    ),
    insertSpent: db.prepare<[string, string, number]>(
      "INSERT INTO spent_refresh_tokens (token_hash, grant_id, spent_at) VALUES (?, ?, ?)",
    ),
    // Why a rotation matched nothing: the presented digest as a current token, else as a spent one.
    refreshState: db.prepare<[string, string], RefreshStateRow>(
      `SELECT 0 AS spent, grant_id AS grantId, app_id AS appId, tenant_key AS tenantKey, user_id AS userId,
         revoked_at AS revokedAt, expires_at AS expiresAt
       FROM grants WHERE refresh_hash = ?
       UNION ALL
       SELECT 1, g.grant_id, g.app_id, g.tenant_key, g.user_id, g.revoked_at, g.expires_at
       FROM spent_refresh_tokens s JOIN grants g ON g.grant_id = s.grant_id WHERE s.token_hash = ?`,
    ),

    findAccessToken: db.prepare<[{ hash: string; now: number }], SubjectRow>(
      `SELECT ${SUBJECT_COLUMNS}
       FROM grants g
       JOIN apps a ON a.app_id = g.app_id
       JOIN users u ON u.tenant_key = g.tenant_key AND u.user_id = g.user_id
       WHERE g.access_hash = @hash AND g.access_expires_at > @now AND g.revoked_at IS NULL
         AND g.expires_at > @now`,
    ),
    // Access tokens issued before migration 0004 and replaced by a refresh since: asked only
    // when the grant rows know nothing of the digest.
    findLegacyAccessToken: db.prepare<[{ hash: string; now: number }], SubjectRow>(
      `SELECT ${SUBJECT_COLUMNS}
       FROM access_tokens t
       JOIN grants g ON g.grant_id = t.grant_id
       JOIN apps a ON a.app_id = g.app_id
       JOIN users u ON u.tenant_key = g.tenant_key AND u.user_id = g.user_id
       WHERE t.token_hash = @hash AND t.expires_at > @now AND g.revoked_at IS NULL AND g.expires_at > @now`,
    ),
    // By the ids the server proposed: the grant id, or a refresh digest current or spent.
    findCommitted: db.prepare<[{ grantId: string | null; refresh: string | null }], CommittedRow>(
      `SELECT g.grant_id AS grantId, g.app_id AS appId, g.tenant_key AS tenantKey, g.user_id AS userId,
         g.expires_at AS expiresAt, g.revoked_at AS revokedAt, a.scopes, g.scopes AS granted,
         (SELECT o.open_id FROM open_ids o
           WHERE o.app_id = g.app_id AND o.tenant_key = g.tenant_key AND o.user_id = g.user_id) AS openId
       FROM grants g JOIN apps a ON a.app_id = g.app_id
       WHERE g.grant_id = coalesce(@grantId,
         (SELECT grant_id FROM grants WHERE refresh_hash = @refresh),
         (SELECT grant_id FROM spent_refresh_tokens WHERE token_hash = @refresh))`,
    ),
    userDepartments: db
      .prepare<[string, string], string>(
        "SELECT department_id FROM user_departments WHERE tenant_key = ? AND user_id = ? ORDER BY position",
      )
      .pluck(),
  };
}

type LoginFlowStatements = ReturnType<typeof prepareLoginFlow>;

interface CodeRow {
  codeHash: string;
  appId: string;
  tenantKey: string;
  userId: string;
  issuedAt: number;
  expiresAt: number;
  scopes: string | null;
  challenge: string | null;
  method: string | null;
}

function saveLoginCodes(s: LoginFlowStatements, rows: readonly LoginCodeRecord[]): void {
  for (const row of rows) {
    s.insertCode.run({
      codeHash: row.codeHash,
      appId: row.appId,
      tenantKey: row.tenantKey,
      userId: row.userId,
      issuedAt: row.issuedAt,
      expiresAt: row.expiresAt,
      scopes: encodeGrantedScopes(row.scopes),
      challenge: row.codeChallenge?.value ?? null,
      method: row.codeChallenge?.method ?? null,
    });
  }
}

function exchange(
  s: LoginFlowStatements,
  audit: AuditBuffer,
  input: ExchangeInput,
  newOpenId: () => string,
): ExchangeOutcome {
  const { codeHash, appId, now, grantId } = input;
  const verifier = input.verifier ?? null;
  const won = s.consumeCode.get({
    now,
    grantId,
    codeHash,
    appId,
    tenantKey: input.tenantKey ?? null,
    s256: verifier?.s256 ?? null,
    plain: verifier?.plain ?? null,
  });
  if (won) {
    const { tenantKey, userId } = won;
    if (won.visible !== 1) {
      s.clearCodeGrant.run(codeHash);
      audit.add(now, "login_code.rejected_visibility", appId, tenantKey, userId, null);
      return { kind: "not_visible" };
    }
    // The domain assigns the open_id before minting the code; a code saved without one (an
    // import, a tool) gets one here, in the same transaction, as on PostgreSQL (`ExchangeOutcome` in port.ts).
    const openId = won.openId ?? s.ensureOpenId.get(appId, tenantKey, userId, newOpenId())!;
    const { tokens } = input;
    s.insertGrant.run({
      grantId,
      appId,
      tenantKey,
      userId,
      sessionKeyHash: input.sessionKeyHash,
      codeHash,
      now,
      familyExpiresAt: input.familyExpiresAt,
      accessHash: tokens.accessTokenHash,
      accessExpiresAt: tokens.accessExpiresAt,
      refreshHash: tokens.refreshTokenHash,
      granted: won.granted,
    });
    audit.add(now, "login_code.consumed", appId, tenantKey, userId, grantId);
    const scopes = scopesInForce(parseScopes(won.scopes), won.granted);
    return { kind: "issued", identity: { grantId, appId, tenantKey, userId, openId, scopes } };
  }

  // No row changed: classify, in the same transaction, without touching anything else.
  const code = s.codeState.get(codeHash);
  if (!code) return { kind: "invalid" };
  if (code.expiresAt <= now) return { kind: "expired" };
  if (!belongsTo(code, input)) return { kind: "foreign" };
  const verifierFits = fitsChallenge(code.challenge, code.challengeMethod, input.verifier);
  // Live, own and unconsumed: only a verifier that does not fit (or one for a code without a
  // challenge) leaves it so.
  if (code.consumedAt === null && !verifierFits) return { kind: "pkce_failed" };
  // Consumed, with a challenge the caller cannot answer: a replay that could never redeem it, so
  // it revokes nothing (RFC 7636 already protects the first login).
  if (code.challenge !== null && !verifierFits) return { kind: "pkce_failed" };
  if (code.consumedAt === null) {
    throw new Error("sqlite: a live unconsumed code was not consumed by its own app");
  }
  let revokedGrantId: string | null = null;
  if (input.revokeGrantOnReuse && code.grantId !== null) {
    revokedGrantId = code.grantId;
    if (s.revokeGrant.get(now, REVOKE_REASON.codeReused, code.grantId)) {
      audit.add(now, "grant.revoked", appId, code.tenantKey, code.userId, code.grantId);
    }
  }
  audit.add(now, "login_code.reused", appId, code.tenantKey, code.userId, code.grantId);
  return { kind: "reused", revokedGrantId };
}

function rotate(s: LoginFlowStatements, audit: AuditBuffer, input: RotateInput): RotateOutcome {
  const { refreshTokenHash, appId, now, next } = input;
  const row = s.rotate.get({
    now,
    presented: refreshTokenHash,
    appId,
    tenantKey: input.tenantKey ?? null,
    access: next.accessTokenHash,
    accessExpiresAt: next.accessExpiresAt,
    next: next.refreshTokenHash,
  });
  if (row) {
    if (row.openId === null) {
      throw new Error(`sqlite: no open_id for the user of grant ${row.grantId}`);
    }
    s.insertSpent.run(refreshTokenHash, row.grantId, now);
    audit.add(now, "refresh_token.rotated", appId, row.tenantKey, row.userId, row.grantId);
    const identity: GrantIdentity = {
      grantId: row.grantId,
      appId,
      tenantKey: row.tenantKey,
      userId: row.userId,
      openId: row.openId,
      scopes: scopesInForce(parseScopes(row.scopes), row.granted),
    };
    return { kind: "rotated", identity, familyExpiresAt: row.expiresAt };
  }

  const state = s.refreshState.get(refreshTokenHash, refreshTokenHash);
  if (!state) return { kind: "invalid" };
  if (!belongsTo(state, input)) return { kind: "foreign" };
  if (state.revokedAt !== null) return { kind: "revoked" };
  if (state.expiresAt <= now) return { kind: "expired" };
  if (state.spent === 0) {
    throw new Error("sqlite: a live unspent refresh token was not spent by its own app");
  }
  // RFC 9700 §4.14.2: a spent refresh token presented again kills the whole family.
  if (s.revokeGrant.get(now, REVOKE_REASON.refreshReused, state.grantId)) {
    audit.add(now, "grant.revoked", appId, state.tenantKey, state.userId, state.grantId);
  }
  audit.add(now, "refresh_token.reused", appId, state.tenantKey, state.userId, state.grantId);
  return { kind: "reused", revokedGrantId: state.grantId };
}

function findAccessToken(s: LoginFlowStatements, hash: string, now: number): AccessTokenSubject | null {
  const row = s.findAccessToken.get({ hash, now }) ?? s.findLegacyAccessToken.get({ hash, now });
  if (!row || row.openId === null) return null;
  const user = fromUserRow(row, s.userDepartments.all(row.tenantKey, row.userId));
  const identity: GrantIdentity = {
    grantId: row.grantId,
    appId: row.appId,
    tenantKey: row.tenantKey,
    userId: row.userId,
    openId: row.openId,
    scopes: scopesInForce(parseScopes(row.scopes), row.granted),
  };
  return { identity, user };
}

function findCommitted(
  s: LoginFlowStatements,
  ref: { grantId: string } | { refreshTokenHash: string },
): CommittedLogin | null {
  const row = s.findCommitted.get(
    "grantId" in ref
      ? { grantId: ref.grantId, refresh: null }
      : { grantId: null, refresh: ref.refreshTokenHash },
  );
  if (!row || row.openId === null) return null;
  const { grantId, appId, tenantKey, userId, openId } = row;
  return {
    identity: {
      grantId,
      appId,
      tenantKey,
      userId,
      openId,
      scopes: scopesInForce(parseScopes(row.scopes), row.granted),
    },
    familyExpiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
  };
}

/** Revokes a live grant; true when this call revoked it. */
function revokeGrant(
  s: LoginFlowStatements,
  audit: AuditBuffer,
  grantId: string,
  now: number,
  reason: string,
): boolean {
  const row = s.revokeGrant.get(now, reason, grantId);
  if (!row) return false;
  audit.add(now, "grant.revoked", row.appId, row.tenantKey, row.userId, grantId);
  return true;
}

export class SqliteLoginFlow {
  readonly #s: LoginFlowStatements;
  readonly #audit: AuditBuffer;

  constructor(db: BetterSqlite3.Database, audit: AuditBuffer) {
    this.#s = prepareLoginFlow(db);
    this.#audit = audit;
  }

  saveLoginCodes(rows: readonly LoginCodeRecord[]): void {
    saveLoginCodes(this.#s, rows);
  }
  exchange(input: ExchangeInput, newOpenId: () => string): ExchangeOutcome {
    return exchange(this.#s, this.#audit, input, newOpenId);
  }
  rotate(input: RotateInput): RotateOutcome {
    return rotate(this.#s, this.#audit, input);
  }
  findAccessToken(hash: string, now: number): AccessTokenSubject | null {
    return findAccessToken(this.#s, hash, now);
  }
  revokeGrant(grantId: string, now: number, reason: string): boolean {
    return revokeGrant(this.#s, this.#audit, grantId, now, reason);
  }
  findCommitted(ref: { grantId: string } | { refreshTokenHash: string }): CommittedLogin | null {
    return findCommitted(this.#s, ref);
  }
}
