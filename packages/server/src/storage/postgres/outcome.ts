/**
 * Outcome-aware failures of the login flow's writes on PostgreSQL.
 *
 * When the connection fails once COMMIT was sent (or once the single statement of a batch was
 * sent: its implicit transaction commits before PostgreSQL answers), the write may have
 * committed. Answering "retry" then would be a lie: the client's retry meets a consumed code
 * (10213, the session revoked) or a spent refresh token (20038, the family revoked). So the
 * adapter reads back what it proposed itself (the grant id, the new refresh digest) on another
 * connection and answers with what committed, or "nothing happened" when nothing did.
 *
 * The read must not run before the write is over: PostgreSQL may still be executing a COMMIT
 * that the cut connection delivered. So it first waits for the backend that ran the write to
 * be gone from `pg_stat_activity` (a backend whose client went away ends once it finds out,
 * after the commit or the rollback), then looks, in a new snapshot. Should that backend
 * linger (a network partition that PostgreSQL has not noticed), the outcome stays unknown.
 */

import { belongsTo } from "../caller-scope.ts";
import { scopesInForce } from "../granted-scopes.ts";
import type {
  CommittedLogin,
  ExchangeInput,
  ExchangeOutcome,
  GrantIdentity,
  RotateInput,
  RotateOutcome,
} from "../port.ts";
import { StorageOutcomeUnknownError, StorageUnavailableError } from "../port.ts";
import type { Queryable } from "./access.ts";
import { hasSqlState } from "./errors.ts";
import { RevokeReasons } from "./flow.ts";

/**
 * Whether a failure leaves a commit possible. An ERROR PostgreSQL reported (a serialization
 * failure, a lock or statement timeout, a constraint) aborted the statement or the COMMIT;
 * a lost connection, or a FATAL (admin shutdown, class 57P; connection class 08), may have come
 * after the commit was done (a backend terminated while waiting for a synchronous standby has
 * committed locally), so it is resolved by reading back.
 */
export function mayHaveCommitted(error: unknown): boolean {
  if (error instanceof StorageOutcomeUnknownError) return true;
  if (!hasSqlState(error)) return true;
  const state = (error as { code: string }).code;
  return state.startsWith("57P") || state.startsWith("08");
}

/**
 * How long to keep trying the read-back, waiting for the write's backend included (ms): it is
 * read-only, and a restart of PostgreSQL, the usual cause of a cut commit, takes a second or
 * two. The caller waits this long at most before 9502.
 */
const READ_BACK_MS = 4000;
/** Pauses between attempts (ms), the last one repeated. */
const READ_BACK_PAUSES = [100, 300, 1000];

type Settled<T> = { ok: true; outcome: T } | { ok: false; error: Error };

/** A write whose connection failed once its commit was sent, and the backend that ran it. */
export class CommitInDoubtError extends StorageOutcomeUnknownError {
  constructor(
    readonly backendPid: number | null,
    cause: unknown,
  ) {
    super("postgres: the connection failed once the commit was sent", { cause });
  }
}

/** The PostgreSQL backend process serving a connection (`pg` keeps it, untyped). */
export function backendPidOf(client: object): number | null {
  const pid = (client as { processID?: unknown }).processID;
  return typeof pid === "number" ? pid : null;
}

/** Waits until `pid` no longer runs: its transaction, committed or not, is over. */
async function waitForBackendEnd(q: Queryable, pid: number | null, deadline: number): Promise<void> {
  if (pid === null) throw new Error("postgres: the write's backend is not known");
  for (;;) {
    const { rows } = await q.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid]);
    if (rows.length === 0) return;
    if (Date.now() >= deadline) throw new Error("postgres: the write's backend is still running");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Runs `read` until it answers, or fails as "outcome unknown" once {@link READ_BACK_MS} passed. */
async function readBack<T>(read: (deadline: number) => Promise<T>, what: string): Promise<T> {
  const deadline = Date.now() + READ_BACK_MS;
  let last: unknown;
  for (let attempt = 0; ; attempt++) {
    try {
      return await read(deadline);
    } catch (error) {
      last = error;
    }
    const pause = READ_BACK_PAUSES[Math.min(attempt, READ_BACK_PAUSES.length - 1)]!;
    if (Date.now() + pause >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  // The cause keeps the driver's message for the log; the answer itself never shows it.
  throw new StorageOutcomeUnknownError(`postgres: ${what} may have committed and could not be read back`, {
    cause: last,
  });
}

/**
 * What each exchange of `inputs` committed, after a failure that may have come after its
 * commit: `issued` when its grant exists, `not_visible` when it consumed its code without
 * one, `reused` when its code's first grant was revoked for reuse, else `StorageUnavailableError` (nothing of it committed: the caller may retry).
 */
export async function resolveExchanges(
  q: Queryable,
  inputs: readonly ExchangeInput[],
  backendPid: number | null,
): Promise<Array<Settled<ExchangeOutcome>>> {
  return readBack(async (deadline) => {
    await waitForBackendEnd(q, backendPid, deadline);
    const results: Array<Settled<ExchangeOutcome>> = [];
    for (const input of inputs) {
      const committed = await findCommittedWith(q, { grantId: input.grantId });
      if (committed) {
        results.push({ ok: true, outcome: { kind: "issued", identity: committed.identity } });
        continue;
      }
      // A not-visible user's code is consumed without a grant, by this exchange when at its `now`.
      const { rows } = await q.query<{
        consumed_at: number | null;
        grant_id: string | null;
        app_id: string;
        tenant_key: string;
      }>("SELECT consumed_at, grant_id, app_id, tenant_key FROM login_codes WHERE code_hash = $1", [
        input.codeHash,
      ]);
      const row = rows[0];
      // Only a code the presenter speaks for (its app; a tenant token's tenant) is answered from.
      const code =
        row && belongsTo({ appId: row.app_id, tenantKey: row.tenant_key }, input) ? row : undefined;
      if (code && code.grant_id === null && code.consumed_at === input.now) {
        results.push({ ok: true, outcome: { kind: "not_visible" } });
        continue;
      }
      // A replay of a redeemed code revokes the first grant: once that revocation is visible, the
      // login is dead whatever this exchange's COMMIT did, so "retry" would be a lie (S3).
      if (code && code.grant_id !== null && input.revokeGrantOnReuse) {
        const revoked = await q.query<{ revoke_reason: string | null }>(
          "SELECT revoke_reason FROM grants WHERE grant_id = $1 AND revoked_at IS NOT NULL",
          [code.grant_id],
        );
        if (revoked.rows[0]?.revoke_reason === RevokeReasons.codeReused) {
          results.push({ ok: true, outcome: { kind: "reused", revokedGrantId: code.grant_id } });
          continue;
        }
      }
      results.push({ ok: false, error: nothingCommitted("exchange") });
    }
    return results;
  }, "a code exchange");
}

/** One exchange: see {@link resolveExchanges}. */
export async function resolveExchange(
  q: Queryable,
  input: ExchangeInput,
  doubt: CommitInDoubtError,
): Promise<ExchangeOutcome> {
  const [result] = await resolveExchanges(q, [input], doubt.backendPid);
  if (!result!.ok) throw result!.error;
  return result!.outcome;
}

/**
 * What a rotation committed, after a failure that may have come after its commit: `rotated`
 * when its new refresh digest exists (current or spent since), else `StorageUnavailableError`.
 */
export async function resolveRotation(
  q: Queryable,
  input: RotateInput,
  doubt: CommitInDoubtError,
): Promise<RotateOutcome> {
  const committed = await readBack(async (deadline) => {
    await waitForBackendEnd(q, doubt.backendPid, deadline);
    return findCommittedWith(q, { refreshTokenHash: input.next.refreshTokenHash });
  }, "a refresh token rotation");
  if (!committed) throw nothingCommitted("rotation");
  return { kind: "rotated", identity: committed.identity, familyExpiresAt: committed.familyExpiresAt };
}

function nothingCommitted(what: string): StorageUnavailableError {
  return new StorageUnavailableError(`postgres: the connection failed; the ${what} did not commit`);
}

/** See `LoginFlowStorage.findCommitted`: the grant by its id, or by a refresh digest current or spent. */
export async function findCommittedWith(
  q: Queryable,
  ref: { grantId: string } | { refreshTokenHash: string },
): Promise<CommittedLogin | null> {
  const { rows } = await q.query<{
    grant_id: string;
    app_id: string;
    tenant_key: string;
    user_id: string;
    expires_at: number;
    revoked_at: number | null;
    scopes: string[];
    granted: string | null;
    open_id: string | null;
  }>(
    `SELECT g.grant_id, g.app_id, g.tenant_key, g.user_id, g.expires_at, g.revoked_at, a.scopes,
            g.scopes AS granted, o.open_id
       FROM grants g
       JOIN apps a ON a.app_id = g.app_id
       LEFT JOIN open_ids o ON o.app_id = g.app_id AND o.tenant_key = g.tenant_key AND o.user_id = g.user_id
      WHERE g.grant_id = coalesce($1,
              (SELECT grant_id FROM grants WHERE refresh_hash = $2),
              (SELECT grant_id FROM spent_refresh_tokens WHERE token_hash = $2))`,
    "grantId" in ref ? [ref.grantId, null] : [null, ref.refreshTokenHash],
  );
  const row = rows[0];
  if (!row?.open_id) return null;
  const identity: GrantIdentity = {
    grantId: row.grant_id,
    appId: row.app_id,
    tenantKey: row.tenant_key,
    userId: row.user_id,
    openId: row.open_id,
    scopes: scopesInForce(row.scopes, row.granted),
  };
  return { identity, familyExpiresAt: row.expires_at, revokedAt: row.revoked_at };
}

/** Settles a batch's callers from {@link resolveExchanges}; a failed read-back fails them all. */
export async function settleUnknown(
  q: Queryable,
  items: ReadonlyArray<{
    input: ExchangeInput;
    resolve: (outcome: ExchangeOutcome) => void;
    reject: (error: unknown) => void;
  }>,
  cause: unknown,
): Promise<void> {
  let results: Array<Settled<ExchangeOutcome>>;
  try {
    const pid = cause instanceof CommitInDoubtError ? cause.backendPid : null;
    results = await resolveExchanges(
      q,
      items.map((item) => item.input),
      pid,
    );
  } catch (error) {
    for (const item of items) item.reject(error);
    return;
  }
  for (const [index, item] of items.entries()) {
    const result = results[index]!;
    if (result.ok) item.resolve(result.outcome);
    else item.reject(result.error);
  }
}
