/**
 * The login flow's writes on PostgreSQL: code exchange and refresh rotation.
 *
 * Each function runs on a client that is already inside a transaction (or a savepoint of a
 * batch) and never commits itself: the caller commits, and only then resolves the promise.
 *
 * Why this is safe under READ COMMITTED with many connections (ory/hydra#1719, ory/fosite#778):
 * the decision "still unused" is taken by ONE conditional UPDATE, never by a prior SELECT.
 * Two concurrent UPDATEs of the same row serialise on its row lock; the second, once the
 * first commits, re-evaluates its WHERE against the committed row (`consumed_at IS NULL`
 * is now false) and updates nothing. Only the transaction whose UPDATE returned the row
 * issues anything; every other caller classifies the row it can now see.
 */
import { randomBytes } from "node:crypto";
import type pg from "pg";
import { belongsTo } from "../caller-scope.ts";
import { fitsChallenge } from "../code-challenge.ts";
import { scopesInForce } from "../granted-scopes.ts";
import type { ExchangeInput, ExchangeOutcome, RotateInput, RotateOutcome } from "../port.ts";
import { StorageUnavailableError } from "../port.ts";

type Queryable = Pick<pg.ClientBase, "query">;

/** Why a grant was revoked, as stored in `grants.revoke_reason`. */
export const RevokeReasons = {
  codeReused: "login_code_reused",
  refreshReused: "refresh_token_reused",
} as const;

async function audit(
  q: Queryable,
  at: number,
  type: string,
  ids: { appId?: string | null; tenantKey?: string | null; userId?: string | null; grantId?: string | null },
): Promise<void> {
  await q.query(
    "INSERT INTO audit_events (at, type, app_id, tenant_key, user_id, grant_id) VALUES ($1, $2, $3, $4, $5, $6)",
    [at, type, ids.appId ?? null, ids.tenantKey ?? null, ids.userId ?? null, ids.grantId ?? null],
  );
}

/** Revokes a live grant; true when this call revoked it. */
export async function revokeGrantWith(
  q: Queryable,
  grantId: string,
  now: number,
  reason: string,
): Promise<boolean> {
  const { rows } = await q.query<{ grant_id: string }>(
    `WITH revoked AS (
       UPDATE grants SET revoked_at = $2, revoke_reason = $3
        WHERE grant_id = $1 AND revoked_at IS NULL
       RETURNING grant_id, app_id, tenant_key, user_id
     ), event AS (
       INSERT INTO audit_events (at, type, app_id, tenant_key, user_id, grant_id)
       SELECT $2, 'grant.revoked', app_id, tenant_key, user_id, grant_id FROM revoked
     )
     SELECT grant_id FROM revoked`,
    [grantId, now, reason],
  );
  return rows.length > 0;
}

/** Exchanges a login code: see `ExchangeOutcome` in port.ts. */
export async function exchangeWith(q: Queryable, input: ExchangeInput): Promise<ExchangeOutcome> {
  // A code with a PKCE challenge is consumed only with a verifier that matches it, and one without
  // only without a verifier (RFC 9700 §2.1.1: no downgrade).
  const consumed = await q.query<{ tenant_key: string; user_id: string; scopes: string | null }>(
    `UPDATE login_codes SET consumed_at = $1
      WHERE code_hash = $2 AND app_id = $3 AND consumed_at IS NULL AND expires_at > $1
        AND ($6::text IS NULL OR tenant_key = $6)
        AND CASE WHEN code_challenge IS NULL THEN $4::text IS NULL
                 ELSE code_challenge = CASE code_challenge_method WHEN 'S256' THEN $4::text ELSE $5::text END END
      RETURNING tenant_key, user_id, scopes`,
    [
      input.now,
      input.codeHash,
      input.appId,
      input.verifier?.s256 ?? null,
      input.verifier?.plain ?? null,
      input.tenantKey ?? null,
    ],
  );
  const code = consumed.rows[0];
  if (!code) return classifyCode(q, input);

  const { tenant_key: tenantKey, user_id: userId, scopes: granted } = code;
  const ids = { appId: input.appId, tenantKey, userId };
  const check = await q.query<{ scopes: string[]; open_id: string | null; visible: boolean }>(
    `SELECT a.scopes, o.open_id,
            coalesce(u.status = 'active' AND (
              i.visibility_all
              OR u.user_id = ANY (i.visible_user_ids)
              OR u.department_ids && i.visible_department_ids
            ), false) AS visible
       FROM apps a
       LEFT JOIN installations i ON i.app_id = a.app_id AND i.tenant_key = $2
       LEFT JOIN users u ON u.tenant_key = $2 AND u.user_id = $3
       LEFT JOIN open_ids o ON o.app_id = a.app_id AND o.tenant_key = $2 AND o.user_id = $3
      WHERE a.app_id = $1`,
    [input.appId, tenantKey, userId],
  );
  const app = check.rows[0];
  if (!app?.visible) {
    await audit(q, input.now, "login_code.rejected_visibility", ids);
    return { kind: "not_visible" };
  }

  // The domain assigns the open_id when it mints the code; this only covers codes saved
  // without one (an import, a test), and never replaces an existing open_id.
  const openId = app.open_id ?? (await ensureOpenIdWith(q, input.appId, tenantKey, userId, newOpenId()));
  // The login's one row, with its current tokens; the code names its grant; the event.
  await q.query(
    `WITH grant_row AS (
       INSERT INTO grants (grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, created_at, expires_at,
                           access_hash, access_expires_at, refresh_hash, scopes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       RETURNING grant_id
     ), code AS (
       UPDATE login_codes SET grant_id = $1 WHERE code_hash = $6
     )
     INSERT INTO audit_events (at, type, app_id, tenant_key, user_id, grant_id)
     SELECT $7, 'login_code.consumed', $2, $3, $4, grant_id FROM grant_row`,
    [
      input.grantId,
      input.appId,
      tenantKey,
      userId,
      input.sessionKeyHash,
      input.codeHash,
      input.now,
      input.familyExpiresAt,
      input.tokens.accessTokenHash,
      input.tokens.accessExpiresAt,
      input.tokens.refreshTokenHash,
      granted,
    ],
  );
  const scopes = scopesInForce(app.scopes, granted);
  return {
    kind: "issued",
    identity: { grantId: input.grantId, appId: input.appId, tenantKey, userId, openId, scopes },
  };
}

/** Why the conditional UPDATE matched nothing, read after it (so after any concurrent winner committed). */
async function classifyCode(q: Queryable, input: ExchangeInput): Promise<ExchangeOutcome> {
  const { rows } = await q.query<{
    app_id: string;
    tenant_key: string;
    user_id: string;
    expires_at: number;
    consumed_at: number | null;
    grant_id: string | null;
    code_challenge: string | null;
    code_challenge_method: string | null;
  }>(
    `SELECT app_id, tenant_key, user_id, expires_at, consumed_at, grant_id, code_challenge, code_challenge_method
       FROM login_codes WHERE code_hash = $1`,
    [input.codeHash],
  );
  const row = rows[0];
  if (!row) return { kind: "invalid" };
  if (row.expires_at <= input.now) return { kind: "expired" };
  if (!belongsTo({ appId: row.app_id, tenantKey: row.tenant_key }, input)) return { kind: "foreign" };
  const verifierFits = fitsChallenge(row.code_challenge, row.code_challenge_method, input.verifier);
  // Live, own and unconsumed: only a verifier that does not fit (or one for a code without a
  // challenge) leaves it so.
  if (row.consumed_at === null && !verifierFits) return { kind: "pkce_failed" };
  // Consumed, with a challenge the caller cannot answer: a replay that could never redeem it, so
  // it revokes nothing (RFC 7636 already protects the first login).
  if (row.code_challenge !== null && !verifierFits) return { kind: "pkce_failed" };
  if (row.consumed_at === null) {
    // Own, live and unconsumed, yet the UPDATE matched nothing: never guess (S3).
    throw new StorageUnavailableError("login code changed during the exchange; retry");
  }
  let revokedGrantId: string | null = null;
  if (input.revokeGrantOnReuse && row.grant_id !== null) {
    // Revoked now, or already by an earlier replay: either way the first redemption's grant is dead.
    await revokeGrantWith(q, row.grant_id, input.now, RevokeReasons.codeReused);
    revokedGrantId = row.grant_id;
  }
  const ids = { appId: row.app_id, tenantKey: row.tenant_key, userId: row.user_id, grantId: row.grant_id };
  await audit(q, input.now, "login_code.reused", ids);
  return { kind: "reused", revokedGrantId };
}

/**
 * Rotates a refresh token: see `RotateOutcome` in port.ts. One conditional UPDATE of the
 * login's row replaces both of its tokens; the same statement keeps the spent digest (for
 * replay detection) and writes the event, only when the UPDATE matched.
 */
export async function rotateWith(q: Queryable, input: RotateInput): Promise<RotateOutcome> {
  const { rows } = await q.query<{
    grant_id: string;
    tenant_key: string;
    user_id: string;
    expires_at: number;
    scopes: string[] | null;
    granted: string | null;
    open_id: string | null;
  }>(
    `WITH rotated AS (
       UPDATE grants SET access_hash = $4, access_expires_at = $5, refresh_hash = $6
        WHERE refresh_hash = $2 AND app_id = $3 AND revoked_at IS NULL AND expires_at > $1
          AND ($7::text IS NULL OR tenant_key = $7)
        RETURNING grant_id, app_id, tenant_key, user_id, expires_at, scopes
     ), spent AS (
       INSERT INTO spent_refresh_tokens (token_hash, grant_id, spent_at) SELECT $2, grant_id, $1 FROM rotated
     ), event AS (
       INSERT INTO audit_events (at, type, app_id, tenant_key, user_id, grant_id)
       SELECT $1, 'refresh_token.rotated', app_id, tenant_key, user_id, grant_id FROM rotated
     )
     SELECT r.grant_id, r.tenant_key, r.user_id, r.expires_at, r.scopes AS granted,
            (SELECT scopes FROM apps WHERE app_id = r.app_id) AS scopes,
            (SELECT open_id FROM open_ids o
              WHERE o.app_id = r.app_id AND o.tenant_key = r.tenant_key AND o.user_id = r.user_id) AS open_id
       FROM rotated r`,
    [
      input.now,
      input.refreshTokenHash,
      input.appId,
      input.next.accessTokenHash,
      input.next.accessExpiresAt,
      input.next.refreshTokenHash,
      input.tenantKey ?? null,
    ],
  );
  const grant = rows[0];
  if (!grant) return classifyRefresh(q, input);
  if (!grant.open_id) {
    // Never issue an identity without its open_id; throwing rolls the rotation back.
    throw new Error(`postgres: no open_id for the user of grant ${grant.grant_id}`);
  }
  return {
    kind: "rotated",
    identity: {
      grantId: grant.grant_id,
      appId: input.appId,
      tenantKey: grant.tenant_key,
      userId: grant.user_id,
      openId: grant.open_id,
      scopes: scopesInForce(grant.scopes ?? [], grant.granted),
    },
    familyExpiresAt: grant.expires_at,
  };
}

/** Why the rotation matched nothing: the digest as a current token, else as a spent one. */
async function classifyRefresh(q: Queryable, input: RotateInput): Promise<RotateOutcome> {
  const { rows } = await q.query<{
    spent: boolean;
    grant_id: string;
    app_id: string;
    tenant_key: string;
    user_id: string;
    revoked_at: number | null;
    expires_at: number;
  }>(
    `SELECT false AS spent, grant_id, app_id, tenant_key, user_id, revoked_at, expires_at
       FROM grants WHERE refresh_hash = $1
     UNION ALL
     SELECT true, g.grant_id, g.app_id, g.tenant_key, g.user_id, g.revoked_at, g.expires_at
       FROM spent_refresh_tokens s JOIN grants g ON g.grant_id = s.grant_id
      WHERE s.token_hash = $1`,
    [input.refreshTokenHash],
  );
  const row = rows[0];
  if (!row) return { kind: "invalid" };
  if (!belongsTo({ appId: row.app_id, tenantKey: row.tenant_key }, input)) return { kind: "foreign" };
  if (row.revoked_at !== null) return { kind: "revoked" };
  if (row.expires_at <= input.now) return { kind: "expired" };
  if (!row.spent) {
    throw new StorageUnavailableError("refresh token changed during the rotation; retry");
  }
  // RFC 9700 §4.14.2: a spent refresh token presented again kills the whole family.
  await revokeGrantWith(q, row.grant_id, input.now, RevokeReasons.refreshReused);
  await audit(q, input.now, "refresh_token.reused", {
    appId: row.app_id,
    tenantKey: row.tenant_key,
    userId: row.user_id,
    grantId: row.grant_id,
  });
  return { kind: "reused", revokedGrantId: row.grant_id };
}

/** The open_id of (app, tenant, user), assigning `candidate` if none exists; one statement. */
export async function ensureOpenIdWith(
  q: Queryable,
  appId: string,
  tenantKey: string,
  userId: string,
  candidate: string,
): Promise<string> {
  const { rows } = await q.query<{ open_id: string }>(
    `INSERT INTO open_ids (app_id, tenant_key, user_id, open_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (app_id, tenant_key, user_id) DO UPDATE SET open_id = open_ids.open_id
     RETURNING open_id`,
    [appId, tenantKey, userId, candidate],
  );
  return rows[0]!.open_id;
}

function newOpenId(): string {
  return `ou_${randomBytes(16).toString("hex")}`;
}

/**
 * The fast path of a batch of exchanges: ONE statement, so one round trip and, run outside an
 * explicit transaction, its own implicit transaction whose COMMIT completes before PostgreSQL
 * answers (the `pg` driver settles a query only on ReadyForQuery, which follows the commit).
 *
 * It decides only the exchanges whose conditional UPDATE consumed their code, and answers
 * `null` for every other one (unknown, expired, foreign, already consumed, lost a race,
 * visible but without an open_id yet): those go through `exchangeWith` afterwards, which
 * consumes nothing that this statement did not, and classifies them as before.
 *
 * Why one statement keeps the promises of `exchangeWith`:
 * - The decision is still the UPDATE's own `WHERE consumed_at IS NULL AND expires_at > now`,
 *   re-checked by PostgreSQL against the newest committed row when another transaction held
 *   it; the `known` read only supplies what never changes for a code (its tenant and user)
 *   and the catalogue as of this statement, as `exchangeWith`'s check did.
 * - Two entries of one batch presenting the same code join the same row; PostgreSQL updates a
 *   row at most once per statement, so RETURNING names one entry and the other gets `null`
 *   (and then `reused`).
 * - One statement is atomic: when it fails, nothing of it exists, and the caller may run every
 *   entry again on the per-exchange path.
 * - `grant_id` is set in the same UPDATE that consumes the code: a statement cannot update
 *   one row twice, and visibility is known before the UPDATE, so it is never set for a code
 *   that was not visible.
 */
/** The exchange batch's prepared-statement name (a new version whenever its text changes). */
export const EXCHANGE_BATCH_STATEMENT = "mina_auth_exchange_batch_v5";

const EXCHANGE_BATCH = {
  // Named: parsed and planned once per connection.
  name: EXCHANGE_BATCH_STATEMENT,
  text: `WITH known AS MATERIALIZED (
     SELECT i.idx, i.code_hash, i.app_id, i.grant_id, i.session_key_hash, i.access_hash, i.refresh_hash,
            i.now, i.access_expires, i.family_expires, c.ctid AS code_row, c.tenant_key, c.user_id, c.granted,
            a.scopes, o.open_id,
            coalesce(u.status = 'active' AND (
              ins.visibility_all
              OR u.user_id = ANY (ins.visible_user_ids)
              OR u.department_ids && ins.visible_department_ids
            ), false) AS visible
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                   $7::int8[], $8::int8[], $9::int8[], $10::text[])
            WITH ORDINALITY AS i(code_hash, app_id, grant_id, session_key_hash, access_hash, refresh_hash,
                                 now, access_expires, family_expires, tenant_only, idx)
       -- LIMIT keeps this a lookup by primary key per entry, whatever the table's statistics say.
       JOIN LATERAL (
         SELECT ctid, app_id, tenant_key, user_id, scopes AS granted, code_challenge
           FROM login_codes WHERE code_hash = i.code_hash LIMIT 1
       ) c ON c.app_id = i.app_id COLLATE "C"
            -- A tenant token's exchange: only that tenant's code (another's is decided, as
            -- foreign, on the per-exchange path). '' for an app token: any tenant of the app.
            AND (i.tenant_only = '' OR c.tenant_key = i.tenant_only COLLATE "C")
            -- A code with a PKCE challenge is left to the per-exchange path, which checks it.
            AND c.code_challenge IS NULL
       JOIN apps a ON a.app_id = c.app_id
       LEFT JOIN installations ins ON ins.app_id = c.app_id AND ins.tenant_key = c.tenant_key
       LEFT JOIN users u ON u.tenant_key = c.tenant_key AND u.user_id = c.user_id
       LEFT JOIN open_ids o ON o.app_id = c.app_id AND o.tenant_key = c.tenant_key AND o.user_id = c.user_id
      WHERE o.open_id IS NOT NULL OR NOT coalesce(u.status = 'active' AND (
              ins.visibility_all
              OR u.user_id = ANY (ins.visible_user_ids)
              OR u.department_ids && ins.visible_department_ids
            ), false)
   ), consumed AS (
     -- Reaches the row version the read found by its ctid (no second index lookup). Should
     -- another transaction have updated the row since, PostgreSQL waits for it and re-checks
     -- this WHERE on the newest version: once consumed, the entry is left undecided.
     UPDATE login_codes c
        SET consumed_at = k.now, grant_id = CASE WHEN k.visible THEN k.grant_id END
       FROM known k
      WHERE c.ctid = k.code_row AND c.code_hash = k.code_hash
        AND c.consumed_at IS NULL AND c.expires_at > k.now
     RETURNING k.idx, k.code_hash, k.app_id, k.grant_id, k.session_key_hash, k.access_hash, k.refresh_hash,
               k.now, k.access_expires, k.family_expires, c.tenant_key, c.user_id, k.visible, k.open_id, k.scopes,
               k.granted
   ), granted AS (
     -- The login's one row, with its current tokens.
     INSERT INTO grants (grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, created_at, expires_at,
                         access_hash, access_expires_at, refresh_hash, scopes)
     SELECT grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, now, family_expires,
            access_hash, access_expires, refresh_hash, granted
       FROM consumed WHERE visible
   ), events AS (
     INSERT INTO audit_events (at, type, app_id, tenant_key, user_id, grant_id)
     SELECT now, CASE WHEN visible THEN 'login_code.consumed' ELSE 'login_code.rejected_visibility' END,
            app_id, tenant_key, user_id, CASE WHEN visible THEN grant_id END
       FROM consumed ORDER BY idx
   )
   SELECT idx, visible, tenant_key, user_id, open_id, scopes, granted FROM consumed`,
} as const;

type BatchRow = [
  idx: number,
  visible: boolean,
  tenantKey: string,
  userId: string,
  openId: string | null,
  scopes: string[],
  granted: string | null,
];

/**
 * Runs {@link EXCHANGE_BATCH} for `inputs` on `q`, which must not be inside a transaction
 * (the statement's own commit is what the caller waits for). Entry `i` of the answer is the
 * outcome of `inputs[i]`, or `null` when the per-exchange path must decide it.
 */
export async function exchangeBatchWith(
  q: Queryable,
  inputs: readonly ExchangeInput[],
): Promise<Array<ExchangeOutcome | null>> {
  const n = inputs.length;
  const codeHashes = new Array<string>(n);
  const appIds = new Array<string>(n);
  const grantIds = new Array<string>(n);
  const sessionKeyHashes = new Array<string>(n);
  const accessHashes = new Array<string>(n);
  const refreshHashes = new Array<string>(n);
  const nows = new Array<number>(n);
  const accessExpiries = new Array<number>(n);
  const familyExpiries = new Array<number>(n);
  const tenantsOnly = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const input = inputs[i]!;
    codeHashes[i] = input.codeHash;
    // A verifier is checked on the per-exchange path: an empty app id matches no code, so the
    // entry is left undecided (a verifier for a code without a challenge must be refused too).
    appIds[i] = input.verifier ? "" : input.appId;
    tenantsOnly[i] = input.tenantKey ?? "";
    grantIds[i] = input.grantId;
    sessionKeyHashes[i] = input.sessionKeyHash;
    accessHashes[i] = input.tokens.accessTokenHash;
    refreshHashes[i] = input.tokens.refreshTokenHash;
    nows[i] = input.now;
    accessExpiries[i] = input.tokens.accessExpiresAt;
    familyExpiries[i] = input.familyExpiresAt;
  }
  const { rows } = await q.query<BatchRow>({
    ...EXCHANGE_BATCH,
    rowMode: "array",
    values: [
      codeHashes,
      appIds,
      grantIds,
      sessionKeyHashes,
      accessHashes,
      refreshHashes,
      nows,
      accessExpiries,
      familyExpiries,
      tenantsOnly,
    ],
  });
  const outcomes = new Array<ExchangeOutcome | null>(n).fill(null);
  for (const [idx, visible, tenantKey, userId, openId, appScopes, granted] of rows) {
    const scopes = scopesInForce(appScopes, granted);
    const input = inputs[idx - 1]!;
    outcomes[idx - 1] =
      visible && openId !== null
        ? {
            kind: "issued",
            identity: { grantId: input.grantId, appId: input.appId, tenantKey, userId, openId, scopes },
          }
        : { kind: "not_visible" };
  }
  return outcomes;
}
