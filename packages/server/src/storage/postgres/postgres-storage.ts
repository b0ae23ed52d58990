/**
 * The PostgreSQL adapter of the storage port (`--db postgres://…`).
 *
 * - One bounded `pg` pool per process; every instance of mina-auth shares the database and
 *   nothing else: no validity state lives in process memory (security.md S4).
 * - Time is the `now` handed in, stored as bigint milliseconds; int8 values are parsed to
 *   numbers and refused when beyond `Number.MAX_SAFE_INTEGER`.
 * - Transient failures (connection lost, admin shutdown, serialization failure…) reject with
 *   `StorageUnavailableError`, never with a domain outcome (S3). A broken connection is
 *   destroyed rather than returned to the pool, and the pool opens fresh ones when
 *   PostgreSQL is back, so the adapter recovers by itself after a restart.
 */
import pg from "pg";
import type {
  AccessTokenSubject,
  App,
  AppTokenKind,
  AppTokenRecord,
  AuditEvent,
  CatalogSnapshot,
  ExchangeInput,
  ExchangeOutcome,
  GrantQuery,
  GrantSummary,
  Installation,
  LoginCodeRecord,
  Millis,
  RateLimitInput,
  RateLimitResult,
  RotateInput,
  RotateOutcome,
  ServerKey,
  Storage,
  Tenant,
  User,
} from "../port.ts";
import { ENDED_GRANT_KEPT_MS, StorageUnavailableError } from "../port.ts";

import type { StorageTestHooks } from "../test-hooks.ts";
import { type BatchOptions, ExchangeBatcher } from "./batcher.ts";
import { hasSqlState, isTransient, translateError } from "./errors.ts";
import { ensureOpenIdWith, exchangeBatchWith, exchangeWith, revokeGrantWith, rotateWith } from "./flow.ts";
import { migrate } from "./migrate.ts";

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

type Queryable = Pick<pg.ClientBase, "query">;

/** int8 (bigint) as a JavaScript number, refusing silent precision loss. */
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} exceeds Number.MAX_SAFE_INTEGER`);
  return n;
}

interface UserRow {
  tenant_key: string;
  user_id: string;
  union_id: string;
  name: string;
  en_name: string;
  email: string | null;
  mobile: string | null;
  avatar_url: string;
  status: User["status"];
  department_ids: string[];
}

interface AppRow {
  app_id: string;
  name: string;
  type: App["type"];
  scopes: string[];
  secret_hash: string;
}

interface InstallationRow {
  app_id: string;
  tenant_key: string;
  visibility_all: boolean;
  visible_user_ids: string[];
  visible_department_ids: string[];
}

interface AppTokenRow {
  token_hash: string;
  kind: AppTokenKind;
  app_id: string;
  tenant_key: string | null;
  salt: string;
  issued_at: number;
  expires_at: number;
}

const USER_COLUMNS =
  "tenant_key, user_id, union_id, name, en_name, email, mobile, avatar_url, status, department_ids";
const APP_COLUMNS = "app_id, name, type, scopes, secret_hash";
const INSTALLATION_COLUMNS = "app_id, tenant_key, visibility_all, visible_user_ids, visible_department_ids";
const APP_TOKEN_COLUMNS = "token_hash, kind, app_id, tenant_key, salt, issued_at, expires_at";

function toUser(row: UserRow): User {
  return {
    tenantKey: row.tenant_key,
    userId: row.user_id,
    unionId: row.union_id,
    name: row.name,
    enName: row.en_name,
    email: row.email,
    mobile: row.mobile,
    avatarUrl: row.avatar_url,
    status: row.status,
    departmentIds: row.department_ids,
  };
}

function toApp(row: AppRow): App {
  return {
    appId: row.app_id,
    name: row.name,
    type: row.type,
    scopes: row.scopes,
    secretHash: row.secret_hash,
  };
}

function toInstallation(row: InstallationRow): Installation {
  return {
    appId: row.app_id,
    tenantKey: row.tenant_key,
    visibility: row.visibility_all
      ? { all: true }
      : { all: false, userIds: row.visible_user_ids, departmentIds: row.visible_department_ids },
  };
}

function toAppToken(row: AppTokenRow): AppTokenRecord {
  return {
    tokenHash: row.token_hash,
    kind: row.kind,
    appId: row.app_id,
    tenantKey: row.tenant_key,
    salt: row.salt,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
  };
}

async function upsertTenantWith(q: Queryable, tenant: Tenant): Promise<void> {
  await q.query(
    "INSERT INTO tenants (tenant_key, name) VALUES ($1, $2) ON CONFLICT (tenant_key) DO UPDATE SET name = EXCLUDED.name",
    [tenant.tenantKey, tenant.name],
  );
}

async function upsertUserWith(q: Queryable, user: User): Promise<void> {
  await q.query(
    `INSERT INTO users (${USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (tenant_key, user_id) DO UPDATE SET
       union_id = EXCLUDED.union_id, name = EXCLUDED.name, en_name = EXCLUDED.en_name,
       email = EXCLUDED.email, mobile = EXCLUDED.mobile, avatar_url = EXCLUDED.avatar_url,
       status = EXCLUDED.status, department_ids = EXCLUDED.department_ids`,
    [
      user.tenantKey,
      user.userId,
      user.unionId,
      user.name,
      user.enName,
      user.email,
      user.mobile,
      user.avatarUrl,
      user.status,
      user.departmentIds,
    ],
  );
}

async function upsertAppWith(q: Queryable, app: App): Promise<void> {
  await q.query(
    `INSERT INTO apps (${APP_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (app_id) DO UPDATE SET
       name = EXCLUDED.name, type = EXCLUDED.type, scopes = EXCLUDED.scopes, secret_hash = EXCLUDED.secret_hash`,
    [app.appId, app.name, app.type, app.scopes, app.secretHash],
  );
}

async function upsertInstallationWith(q: Queryable, installation: Installation): Promise<void> {
  const v = installation.visibility;
  await q.query(
    `INSERT INTO installations (${INSTALLATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (app_id, tenant_key) DO UPDATE SET
       visibility_all = EXCLUDED.visibility_all,
       visible_user_ids = EXCLUDED.visible_user_ids,
       visible_department_ids = EXCLUDED.visible_department_ids`,
    [installation.appId, installation.tenantKey, v.all, v.all ? [] : v.userIds, v.all ? [] : v.departmentIds],
  );
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
    try {
      await client.query("BEGIN");
      const result = await body(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
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
          (inputs) => exchangeBatchWith(pool, inputs),
        );

  const storage: Storage = {
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

    async upsertTenant(tenant) {
      await direct((q) => upsertTenantWith(q, tenant));
    },

    async getTenant(tenantKey) {
      const rows = await query<{ tenant_key: string; name: string }>(
        "SELECT tenant_key, name FROM tenants WHERE tenant_key = $1",
        [tenantKey],
      );
      const row = rows[0];
      return row ? { tenantKey: row.tenant_key, name: row.name } : null;
    },

    async listTenants() {
      const rows = await query<{ tenant_key: string; name: string }>(
        "SELECT tenant_key, name FROM tenants ORDER BY tenant_key",
      );
      return rows.map((row) => ({ tenantKey: row.tenant_key, name: row.name }));
    },

    async upsertUser(user) {
      await direct((q) => upsertUserWith(q, user));
    },

    async getUser(tenantKey, userId) {
      const rows = await query<UserRow>(
        `SELECT ${USER_COLUMNS} FROM users WHERE tenant_key = $1 AND user_id = $2`,
        [tenantKey, userId],
      );
      return rows[0] ? toUser(rows[0]) : null;
    },

    async listUsers(tenantKey) {
      const rows =
        tenantKey === undefined
          ? await query<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY tenant_key, user_id`)
          : await query<UserRow>(
              `SELECT ${USER_COLUMNS} FROM users WHERE tenant_key = $1 ORDER BY tenant_key, user_id`,
              [tenantKey],
            );
      return rows.map(toUser);
    },

    async upsertApp(app) {
      await direct((q) => upsertAppWith(q, app));
    },

    async getApp(appId) {
      const rows = await query<AppRow>(`SELECT ${APP_COLUMNS} FROM apps WHERE app_id = $1`, [appId]);
      return rows[0] ? toApp(rows[0]) : null;
    },

    async listApps() {
      const rows = await query<AppRow>(`SELECT ${APP_COLUMNS} FROM apps ORDER BY app_id`);
      return rows.map(toApp);
    },

    async upsertInstallation(installation) {
      await direct((q) => upsertInstallationWith(q, installation));
    },

    async listInstallations(appId) {
      const rows = await query<InstallationRow>(
        `SELECT ${INSTALLATION_COLUMNS} FROM installations WHERE app_id = $1 ORDER BY tenant_key`,
        [appId],
      );
      return rows.map(toInstallation);
    },

    async ensureOpenId(appId, tenantKey, userId, candidate) {
      return direct(async (q) => {
        // Already assigned (the common case: every mint asks): a read, no row lock, no new tuple.
        const { rows } = await q.query<{ open_id: string }>(
          "SELECT open_id FROM open_ids WHERE app_id = $1 AND tenant_key = $2 AND user_id = $3",
          [appId, tenantKey, userId],
        );
        return rows[0]?.open_id ?? ensureOpenIdWith(q, appId, tenantKey, userId, candidate);
      });
    },

    async importCatalog(snapshot: CatalogSnapshot) {
      await transaction(async (client) => {
        for (const tenant of snapshot.tenants) await upsertTenantWith(client, tenant);
        for (const user of snapshot.users) await upsertUserWith(client, user);
        for (const app of snapshot.apps) await upsertAppWith(client, app);
        for (const installation of snapshot.installations) await upsertInstallationWith(client, installation);
        for (const o of snapshot.openIds) {
          // An import restores the exported open_id, replacing one assigned meanwhile.
          await client.query(
            `INSERT INTO open_ids (app_id, tenant_key, user_id, open_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (app_id, tenant_key, user_id) DO UPDATE SET open_id = EXCLUDED.open_id`,
            [o.appId, o.tenantKey, o.userId, o.openId],
          );
        }
      });
    },

    async exportCatalog() {
      // One snapshot for the whole export.
      return transaction(async (client) => {
        await client.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
        const tenants = await client.query<{ tenant_key: string; name: string }>(
          "SELECT tenant_key, name FROM tenants ORDER BY tenant_key",
        );
        const users = await client.query<UserRow>(
          `SELECT ${USER_COLUMNS} FROM users ORDER BY tenant_key, user_id`,
        );
        const apps = await client.query<AppRow>(`SELECT ${APP_COLUMNS} FROM apps ORDER BY app_id`);
        const installations = await client.query<InstallationRow>(
          `SELECT ${INSTALLATION_COLUMNS} FROM installations ORDER BY app_id, tenant_key`,
        );
        const openIds = await client.query<{
          app_id: string;
          tenant_key: string;
          user_id: string;
          open_id: string;
        }>("SELECT app_id, tenant_key, user_id, open_id FROM open_ids ORDER BY app_id, tenant_key, user_id");
        return {
          tenants: tenants.rows.map((row) => ({ tenantKey: row.tenant_key, name: row.name })),
          users: users.rows.map(toUser),
          apps: apps.rows.map(toApp),
          installations: installations.rows.map(toInstallation),
          openIds: openIds.rows.map((row) => ({
            appId: row.app_id,
            tenantKey: row.tenant_key,
            userId: row.user_id,
            openId: row.open_id,
          })),
        };
      });
    },

    async saveAppToken(token: AppTokenRecord) {
      await query(
        `INSERT INTO app_tokens (${APP_TOKEN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (token_hash) DO UPDATE SET
           kind = EXCLUDED.kind, app_id = EXCLUDED.app_id, tenant_key = EXCLUDED.tenant_key,
           salt = EXCLUDED.salt, issued_at = EXCLUDED.issued_at, expires_at = EXCLUDED.expires_at`,
        [
          token.tokenHash,
          token.kind,
          token.appId,
          token.tenantKey,
          token.salt,
          token.issuedAt,
          token.expiresAt,
        ],
      );
    },

    async latestAppToken(kind: AppTokenKind, appId: string, tenantKey: string | null, now: Millis) {
      const rows = await query<AppTokenRow>(
        `SELECT ${APP_TOKEN_COLUMNS} FROM app_tokens
          WHERE app_id = $1 AND kind = $2 AND tenant_key IS NOT DISTINCT FROM $3 AND issued_at <= $4 AND expires_at > $4
          ORDER BY issued_at DESC, expires_at DESC LIMIT 1`,
        [appId, kind, tenantKey, now],
      );
      return rows[0] ? toAppToken(rows[0]) : null;
    },

    async findAppToken(tokenHash, now) {
      const rows = await query<AppTokenRow>(
        `SELECT ${APP_TOKEN_COLUMNS} FROM app_tokens WHERE token_hash = $1 AND expires_at > $2`,
        [tokenHash, now],
      );
      return rows[0] ? toAppToken(rows[0]) : null;
    },

    // One statement, so one implicit transaction: every code or none.
    async saveLoginCodes(codes: readonly LoginCodeRecord[]) {
      if (codes.length === 0) return;
      await query(
        `INSERT INTO login_codes (code_hash, app_id, tenant_key, user_id, issued_at, expires_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])`,
        [
          codes.map((c) => c.codeHash),
          codes.map((c) => c.appId),
          codes.map((c) => c.tenantKey),
          codes.map((c) => c.userId),
          codes.map((c) => c.issuedAt),
          codes.map((c) => c.expiresAt),
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
      return transaction((client) => exchangeWith(client, input));
    },

    async rotateRefreshToken(input: RotateInput): Promise<RotateOutcome> {
      if (hooks?.beforeConsume) await hooks.beforeConsume();
      return transaction((client) => rotateWith(client, input));
    },

    async findAccessToken(tokenHash, now): Promise<AccessTokenSubject | null> {
      const rows = await query<
        UserRow & { grant_id: string; app_id: string; open_id: string; scopes: string[] }
      >(
        `SELECT g.grant_id, g.app_id, o.open_id, a.scopes,
                u.tenant_key, u.user_id, u.union_id, u.name, u.en_name, u.email, u.mobile,
                u.avatar_url, u.status, u.department_ids
           FROM access_tokens t
           JOIN grants g ON g.grant_id = t.grant_id
           JOIN apps a ON a.app_id = g.app_id
           JOIN users u ON u.tenant_key = g.tenant_key AND u.user_id = g.user_id
           JOIN open_ids o ON o.app_id = g.app_id AND o.tenant_key = g.tenant_key AND o.user_id = g.user_id
          WHERE t.token_hash = $1 AND t.expires_at > $2 AND g.revoked_at IS NULL AND g.expires_at > $2`,
        [tokenHash, now],
      );
      const row = rows[0];
      if (!row) return null;
      return {
        identity: {
          grantId: row.grant_id,
          appId: row.app_id,
          tenantKey: row.tenant_key,
          userId: row.user_id,
          openId: row.open_id,
          scopes: row.scopes,
        },
        user: toUser(row),
      };
    },

    async listGrants(q: GrantQuery): Promise<GrantSummary[]> {
      const where: string[] = [];
      const values: unknown[] = [];
      const param = (value: unknown) => {
        values.push(value);
        return `$${values.length}`;
      };
      if (q.appId !== undefined) where.push(`app_id = ${param(q.appId)}`);
      if (q.tenantKey !== undefined) where.push(`tenant_key = ${param(q.tenantKey)}`);
      if (q.userId !== undefined) where.push(`user_id = ${param(q.userId)}`);
      if (q.activeAt !== undefined) {
        where.push(`revoked_at IS NULL AND expires_at > ${param(q.activeAt)}`);
      }
      const rows = await query<{
        grant_id: string;
        app_id: string;
        tenant_key: string;
        user_id: string;
        created_at: number;
        expires_at: number;
        revoked_at: number | null;
        revoke_reason: string | null;
      }>(
        `SELECT grant_id, app_id, tenant_key, user_id, created_at, expires_at, revoked_at, revoke_reason
           FROM grants ${where.length > 0 ? `WHERE ${where.join(" AND ")}` : ""}
          ORDER BY created_at DESC, grant_id LIMIT ${param(q.limit)}`,
        values,
      );
      return rows.map((row) => ({
        grantId: row.grant_id,
        appId: row.app_id,
        tenantKey: row.tenant_key,
        userId: row.user_id,
        createdAt: row.created_at,
        expiresAt: row.expires_at,
        revokedAt: row.revoked_at,
        revokeReason: row.revoke_reason,
      }));
    },

    async revokeGrant(grantId, now, reason) {
      return direct((q) => revokeGrantWith(q, grantId, now, reason));
    },

    async listAuditEvents(limit, beforeId): Promise<AuditEvent[]> {
      const rows = await query<{
        id: number;
        at: number;
        type: string;
        app_id: string | null;
        tenant_key: string | null;
        user_id: string | null;
        grant_id: string | null;
      }>(
        `SELECT id, at, type, app_id, tenant_key, user_id, grant_id FROM audit_events
          ${beforeId === undefined ? "" : "WHERE id < $2"} ORDER BY id DESC LIMIT $1`,
        beforeId === undefined ? [limit] : [limit, beforeId],
      );
      return rows.map((row) => ({
        id: row.id,
        at: row.at,
        type: row.type,
        appId: row.app_id,
        tenantKey: row.tenant_key,
        userId: row.user_id,
        grantId: row.grant_id,
      }));
    },

    async ensureServerKey(name, candidate, now) {
      // Version 1 always exists once the name does, so a conflict on it means "already there".
      await query(
        `INSERT INTO server_keys (name, version, value, created_at) VALUES ($1, 1, $2, $3)
         ON CONFLICT (name, version) DO NOTHING`,
        [name, candidate, now],
      );
      return (await storage.listServerKeys(name))[0]!;
    },

    async rotateServerKey(name, value, now) {
      // Two instances rotating at once compute the same next version: the loser of the insert
      // takes the one after it, so both values are kept and the later one is newest.
      for (let attempt = 0; attempt < 8; attempt++) {
        const rows = await query<ServerKeyRow>(
          `INSERT INTO server_keys (name, version, value, created_at)
           SELECT $1, coalesce(max(version), 0) + 1, $2, $3 FROM server_keys WHERE name = $1
           ON CONFLICT (name, version) DO NOTHING
           RETURNING name, version, value, created_at`,
          [name, value, now],
        );
        if (rows[0]) return toServerKey(rows[0]);
      }
      throw new StorageUnavailableError("postgres: the server key kept changing under rotation");
    },

    async listServerKeys(name) {
      const rows = await query<ServerKeyRow>(
        "SELECT name, version, value, created_at FROM server_keys WHERE name = $1 ORDER BY version DESC",
        [name],
      );
      return rows.map(toServerKey);
    },

    async hitRateLimit(input: RateLimitInput): Promise<RateLimitResult> {
      const windowStart = Math.floor(input.now / input.windowMs) * input.windowMs;
      const windowEnd = windowStart + input.windowMs;
      // One statement: concurrent hits from every instance serialise on the row.
      const rows = await query<{ count: number }>(
        `INSERT INTO rate_limits (key, window_start, window_end, count) VALUES ($1, $2, $3, 1)
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
         RETURNING count`,
        [input.key, windowStart, windowEnd],
      );
      const count = rows[0]!.count;
      return count <= input.limit
        ? { allowed: true, retryAfterMs: 0 }
        : { allowed: false, retryAfterMs: windowEnd - input.now };
    },

    async purgeExpired(now, limit) {
      // One instance purges at a time, per schema: the others' calls find the lock taken and
      // delete nothing, rather than pick over the same rows. Every row is picked with SKIP
      // LOCKED, so a row a login still holds waits for the next round. LIMIT NULL is no limit.
      // Migration 0002 dropped the foreign keys to grants on the premise that no grant is
      // deleted; this is the exception, and keeps what they guarded: a grant goes only when no
      // token names it, a month after its family ended, long after anything could write one.
      // The oldest `limit` ended grants are picked first, so that a call reads a bounded number
      // of them however many wait; a grant goes in the call after its last tokens (this
      // statement's NOT EXISTS still sees the tokens it deletes).
      const rows = await query<{ n: number }>(
        `WITH purging AS MATERIALIZED (
                SELECT pg_try_advisory_xact_lock(
                  ('x' || substr(md5('mina-auth:purge:' || current_schema()), 1, 16))::bit(64)::bigint) AS ok
              ),
              ended AS (
                SELECT grant_id FROM grants WHERE expires_at <= $2 AND (SELECT ok FROM purging)
                 ORDER BY expires_at LIMIT $3 FOR UPDATE SKIP LOCKED
              ),
              codes AS (
                DELETE FROM login_codes WHERE code_hash IN (
                  SELECT code_hash FROM login_codes WHERE expires_at <= $1 AND (SELECT ok FROM purging)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              ),
              app AS (
                DELETE FROM app_tokens WHERE token_hash IN (
                  SELECT token_hash FROM app_tokens WHERE expires_at <= $1 AND (SELECT ok FROM purging)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              ),
              access AS (
                DELETE FROM access_tokens WHERE token_hash IN (
                  SELECT token_hash FROM access_tokens WHERE expires_at <= $1 AND (SELECT ok FROM purging)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              ),
              ended_access AS (
                DELETE FROM access_tokens WHERE token_hash IN (
                  SELECT token_hash FROM access_tokens WHERE grant_id IN (SELECT grant_id FROM ended)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              ),
              ended_refresh AS (
                DELETE FROM refresh_tokens WHERE token_hash IN (
                  SELECT token_hash FROM refresh_tokens WHERE grant_id IN (SELECT grant_id FROM ended)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              ),
              ended_grants AS (
                DELETE FROM grants g WHERE g.grant_id IN (SELECT grant_id FROM ended)
                   AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.grant_id)
                   AND NOT EXISTS (SELECT 1 FROM access_tokens a WHERE a.grant_id = g.grant_id)
                RETURNING 1
              ),
              limits AS (
                DELETE FROM rate_limits WHERE (key, window_start) IN (
                  SELECT key, window_start FROM rate_limits WHERE window_end <= $1 AND (SELECT ok FROM purging)
                   LIMIT $3 FOR UPDATE SKIP LOCKED)
                RETURNING 1
              )
         SELECT (SELECT count(*) FROM codes) + (SELECT count(*) FROM app) + (SELECT count(*) FROM access)
              + (SELECT count(*) FROM ended_access) + (SELECT count(*) FROM ended_refresh)
              + (SELECT count(*) FROM ended_grants) + (SELECT count(*) FROM limits) AS n`,
        [now, now - ENDED_GRANT_KEPT_MS, limit ?? null],
      );
      return rows[0]!.n;
    },
  };

  return storage;
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

interface ServerKeyRow {
  name: string;
  version: number;
  value: string;
  created_at: string | number;
}

function toServerKey(row: ServerKeyRow): ServerKey {
  return { name: row.name, version: row.version, value: row.value, createdAt: Number(row.created_at) };
}
