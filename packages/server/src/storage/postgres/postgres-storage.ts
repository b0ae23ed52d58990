/**
 * The PostgreSQL adapter of the storage port (`--db postgres://…`).
 *
 * - One bounded `pg` pool per process; every instance of mina-auth shares the database and
 *   nothing else: no validity state lives in process memory (security.md S4).
 * - Time is the `now` handed in, stored as bigint milliseconds; int8 values are parsed to
 *   numbers and refused when beyond `Number.MAX_SAFE_INTEGER`.
 * - Transient failures (connection lost, admin shutdown, serialization failure…) reject with
 *   `StorageUnavailableError`, never with a domain outcome (S3). A failure once a COMMIT was
 *   sent is not one of them: an exchange or rotation reads back what committed (outcome.ts).
 *   A broken connection is destroyed rather than returned to the pool, and the pool opens
 *   fresh ones when PostgreSQL is back, so the adapter recovers by itself after a restart.
 */
import pg from "pg";
import { encodeGrantedScopes, scopesInForce } from "../granted-scopes.ts";
import type {
  AccessTokenSubject,
  ExchangeInput,
  ExchangeOutcome,
  GrantIdentity,
  LoginCodeRecord,
  RotateInput,
  RotateOutcome,
  Storage,
} from "../port.ts";
import { StorageUnavailableError } from "../port.ts";
import type { StorageTestHooks } from "../test-hooks.ts";
import type { PgAccess, Queryable } from "./access.ts";
import { pgAppEvents } from "./app-events.ts";
import { type BatchOptions, ExchangeBatcher } from "./batcher.ts";
import { pgCatalogue, toUser, type UserRow } from "./catalogue.ts";
import { hasSqlState, isTransient, translateError } from "./errors.ts";
import { pgFaultRules } from "./fault-rules.ts";
import { exchangeBatchWith, exchangeWith, rotateWith } from "./flow.ts";
import { pgPurge } from "./maintenance.ts";
import { migrate } from "./migrate.ts";
import {
  backendPidOf,
  CommitInDoubtError,
  findCommittedWith,
  mayHaveCommitted,
  resolveExchange,
  resolveRotation,
  settleUnknown,
} from "./outcome.ts";
import { pgAppTokens, pgRateLimits, pgServerKeys } from "./records.ts";
import { pgSessions } from "./sessions.ts";
import { pgTokenExpiry } from "./token-expiry.ts";

export interface PostgresStorageOptions {
  /** `postgres://user[:password]@host[:port]/database[?…]`. */
  url: string;
  /** Upper bound on open connections from this process. Default 10. */
  poolSize?: number;
  /** Test-only pauses (see test-hooks.ts). Never set in production. */
  hooks?: StorageTestHooks;
  /**
   * Group concurrent code exchanges: one statement (one round trip, one commit) for a whole
   * batch, the rare exchanges it leaves undecided then in one transaction with a savepoint
   * each (see batcher.ts). Default true; false runs every exchange in its own transaction.
   * Each caller still gets only its own outcome.
   */
  batchExchanges?: boolean | BatchOptions;
  /** How long to wait for a free or new connection before failing (ms). Default 5000. */
  connectTimeoutMs?: number;
  /** Server-side statement_timeout (ms). Default 15000. */
  statementTimeoutMs?: number;
  /**
   * Server-side lock_timeout (ms): how long a statement waits for a row another transaction
   * holds before it fails as retryable. Default 2000. Rows are held for milliseconds in normal
   * operation; a longer wait means a stalled or cut-off transaction elsewhere, and a login
   * queued behind it should fail fast (and be retried) rather than wait for the statement
   * timeout while its batch holds a connection.
   */
  lockTimeoutMs?: number;
  /** Told about errors of idle connections (PostgreSQL restarted, say). Default: ignored. */
  onPoolError?: (error: Error) => void;
}

/** int8 (bigint) as a JavaScript number, refusing silent precision loss. */
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} exceeds Number.MAX_SAFE_INTEGER`);
  return n;
}

/**
 * Creates the adapter. Connections open lazily; call `migrate()` before first use.
 *
 * @example
 * ```ts
 * const storage = createPostgresStorage({ url: "postgres://postgres@127.0.0.1:5432/mina_auth" });
 * await storage.migrate();
 * ```
 */
export function createPostgresStorage(options: PostgresStorageOptions): Storage {
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, parseInt8);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: "mina-auth",
    statement_timeout: options.statementTimeoutMs ?? 15_000,
    lock_timeout: options.lockTimeoutMs ?? 2_000,
    // A process that dies mid-transaction must not hold row locks for long.
    idle_in_transaction_session_timeout: 60_000,
    types,
  });
  // An idle connection dies when PostgreSQL restarts: the pool drops it and opens a new one
  // on demand. Without this listener the 'error' event would end the process.
  pool.on("error", (error) => options.onPoolError?.(error));

  const hooks = options.hooks;
  let closed = false;
  // Every operation under way, so that close() can let them finish before ending the pool
  // (pg-pool serves no waiting caller once end() was called).
  const inFlight = new Set<Promise<unknown>>();

  /** Refuses new work after close(); tracks the rest. */
  function guard<T>(operation: () => Promise<T>): Promise<T> {
    if (closed) return Promise.reject(new StorageUnavailableError("storage is closed"));
    return track(operation());
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    inFlight.add(promise);
    const forget = () => inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  function query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]> {
    return guard(async () => {
      try {
        return (await pool.query<R>(text, values)).rows;
      } catch (error) {
        throw translateError(error);
      }
    });
  }

  /** One statement (or a few) on any pooled connection, outside a transaction. */
  function direct<T>(run: (q: Queryable) => Promise<T>): Promise<T> {
    return guard(async () => {
      try {
        return await run(pool);
      } catch (error) {
        throw translateError(error);
      }
    });
  }

  function transaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return guard(() => runTransaction(body));
  }

  /**
   * Runs `body` in one transaction on one pooled connection, and resolves only after COMMIT.
   * A connection that failed (or whose state is unknown) is destroyed, not reused.
   */
  async function runTransaction<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw translateError(error);
    }
    // While checked out, a client's own 'error' event has no listener of the pool's: keep one.
    let connectionError: Error | undefined;
    const onError = (error: Error) => {
      connectionError = error;
    };
    client.on("error", onError);
    let discard: Error | undefined;
    let commitSent = false;
    try {
      await client.query("BEGIN");
      const result = await body(client);
      commitSent = true;
      await client.query("COMMIT");
      return result;
    } catch (error) {
      if (commitSent && mayHaveCommitted(error)) {
        // Never "retry" for a commit that may have happened; the login flow reads it back.
        discard = asError(error);
        throw new CommitInDoubtError(backendPidOf(client), error);
      }
      discard = connectionError;
      if (!discard && isTransient(error) && !hasSqlState(error)) discard = asError(error);
      if (!discard) {
        try {
          await client.query("ROLLBACK");
        } catch (rollbackError) {
          discard = asError(rollbackError);
        }
      }
      throw translateError(error);
    } finally {
      client.off("error", onError);
      client.release(discard ?? connectionError);
    }
  }

  const batcher =
    options.batchExchanges === false
      ? null
      : new ExchangeBatcher(
          // Not guarded: batches queued before close() still run while it waits for them.
          (body) => track(runTransaction(body)),
          exchangeWith,
          options.batchExchanges === true || options.batchExchanges === undefined
            ? {}
            : options.batchExchanges,
          // Outside any transaction: the statement's own commit is the one its callers wait for.
          // The connection is taken first, so that failing to get one (nothing was sent) is
          // told apart from failing once the statement went out (it may have committed).
          async (inputs) => {
            let client: pg.PoolClient;
            try {
              client = await pool.connect();
            } catch (error) {
              throw new StorageUnavailableError("postgres: no connection for the exchange batch", {
                cause: translateError(error),
              });
            }
            const onError = () => {};
            client.on("error", onError);
            let failure: Error | undefined;
            try {
              return await exchangeBatchWith(client, inputs);
            } catch (error) {
              if (!hasSqlState(error)) failure = asError(error);
              if (mayHaveCommitted(error)) throw new CommitInDoubtError(backendPidOf(client), error);
              throw error;
            } finally {
              client.off("error", onError);
              client.release(failure);
            }
          },
          // On a fresh pooled connection: the one that failed was destroyed.
          (items, cause) => settleUnknown(pool, items, cause),
        );

  const db: PgAccess = { query, direct, transaction };
  const storage: Storage = {
    ...pgCatalogue(db),
    ...pgAppTokens(db),
    ...pgSessions(db),
    ...pgServerKeys(db),
    ...pgRateLimits(db),
    ...pgFaultRules(db),
    ...pgTokenExpiry(db),
    ...pgAppEvents(db),
    purgeExpired: pgPurge(db),
    dialect: "postgres",

    migrate: () =>
      guard(async () => {
        let client: pg.PoolClient;
        try {
          client = await pool.connect();
        } catch (error) {
          throw translateError(error);
        }
        const onError = () => {};
        client.on("error", onError);
        let failure: Error | undefined;
        try {
          return await migrate(client);
        } catch (error) {
          failure = asError(error);
          throw translateError(error);
        } finally {
          client.off("error", onError);
          // After a failure the session may still hold the advisory lock: never reuse it.
          client.release(failure);
        }
      }),

    async ping() {
      await query("SELECT 1");
    },

    async close() {
      if (closed) return;
      closed = true;
      await batcher?.drain();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await pool.end();
    },

    // One statement, so one implicit transaction: every code or none.
    async saveLoginCodes(codes: readonly LoginCodeRecord[]) {
      if (codes.length === 0) return;
      await query(
        `INSERT INTO login_codes (code_hash, app_id, tenant_key, user_id, issued_at, expires_at, scopes,
                                  code_challenge, code_challenge_method)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[],
                              $7::text[], $8::text[], $9::text[])`,
        [
          codes.map((c) => c.codeHash),
          codes.map((c) => c.appId),
          codes.map((c) => c.tenantKey),
          codes.map((c) => c.userId),
          codes.map((c) => c.issuedAt),
          codes.map((c) => c.expiresAt),
          codes.map((c) => encodeGrantedScopes(c.scopes)),
          codes.map((c) => c.codeChallenge?.value ?? null),
          codes.map((c) => c.codeChallenge?.method ?? null),
        ],
      );
    },

    // The test hook is awaited before a connection is taken: a test barrier wider than the pool
    // must not hold every connection while it waits. Nothing is read before the conditional
    // write, so where the pause sits does not change the race it lines callers up for.
    async exchangeLoginCode(input: ExchangeInput): Promise<ExchangeOutcome> {
      if (hooks?.beforeConsume) await hooks.beforeConsume();
      if (batcher)
        return closed
          ? Promise.reject(new StorageUnavailableError("storage is closed"))
          : batcher.submit(input);
      return transaction((client) => exchangeWith(client, input)).catch((error: unknown) => {
        if (error instanceof CommitInDoubtError) return track(resolveExchange(pool, input, error));
        throw error;
      });
    },

    findCommitted: (ref) => direct((q) => findCommittedWith(q, ref)),

    async rotateRefreshToken(input: RotateInput): Promise<RotateOutcome> {
      if (hooks?.beforeConsume) await hooks.beforeConsume();
      return transaction((client) => rotateWith(client, input)).catch((error: unknown) => {
        if (error instanceof CommitInDoubtError) return track(resolveRotation(pool, input, error));
        throw error;
      });
    },

    async findAccessToken(tokenHash, now): Promise<AccessTokenSubject | null> {
      const rows = await query<
        UserRow & {
          grant_id: string;
          app_id: string;
          open_id: string;
          scopes: string[];
          granted: string | null;
        }
      >(
        // The login's row by its current access digest; else an access token from before
        // migration 0004, replaced by a refresh but not expired yet (LIMIT 1: the first branch
        // answers alone whenever it finds the token).
        `WITH subject AS (
           SELECT g.grant_id FROM grants g
            WHERE g.access_hash = $1 AND g.access_expires_at > $2
           UNION ALL
           SELECT t.grant_id FROM access_tokens t WHERE t.token_hash = $1 AND t.expires_at > $2
           LIMIT 1
         )
         SELECT g.grant_id, g.app_id, o.open_id, a.scopes, g.scopes AS granted,
                u.tenant_key, u.user_id, u.union_id, u.name, u.en_name, u.email, u.mobile,
                u.avatar_url, u.status, u.department_ids
           FROM subject s
           JOIN grants g ON g.grant_id = s.grant_id
           JOIN apps a ON a.app_id = g.app_id
           JOIN users u ON u.tenant_key = g.tenant_key AND u.user_id = g.user_id
           JOIN open_ids o ON o.app_id = g.app_id AND o.tenant_key = g.tenant_key AND o.user_id = g.user_id
          WHERE g.revoked_at IS NULL AND g.expires_at > $2`,
        [tokenHash, now],
      );
      const row = rows[0];
      if (!row) return null;
      return { identity: toIdentity(row, row.open_id), user: toUser(row) };
    },
  };

  return storage;
}

function toIdentity(
  row: {
    grant_id: string;
    app_id: string;
    tenant_key: string;
    user_id: string;
    scopes: string[];
    granted: string | null;
  },
  openId: string,
): GrantIdentity {
  return {
    grantId: row.grant_id,
    appId: row.app_id,
    tenantKey: row.tenant_key,
    userId: row.user_id,
    openId,
    scopes: scopesInForce(row.scopes, row.granted),
  };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
