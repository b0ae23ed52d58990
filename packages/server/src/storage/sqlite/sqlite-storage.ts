import type BetterSqlite3 from "better-sqlite3";
import Database from "better-sqlite3";
import type {
  AccessTokenSubject,
  App,
  AppTokenKind,
  AppTokenRecord,
  AuditEvent,
  CatalogSnapshot,
  ExchangeInput,
  ExchangeOutcome,
  GrantIdentity,
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
  Visibility,
} from "../port.ts";
import { ENDED_GRANT_KEPT_MS, StorageUnavailableError } from "../port.ts";
import type { StorageTestHooks } from "../test-hooks.ts";
import { Checkpointer } from "./checkpointer.ts";
import { toStorageError } from "./errors.ts";
import { applyMigrations, loadMigrations } from "./migrations.ts";
import { type SyncFile, WalSync } from "./wal-sync.ts";
import { WriteQueue } from "./write-queue.ts";

export interface SqliteStorageOptions {
  /** A file path, or ":memory:" (one private database per storage). */
  path: string;
  /**
   * FULL (default): nothing is acknowledged before its commit is on disk. NORMAL: commits are
   * acknowledged once in the OS's cache and may be lost on power loss (never on a crash).
   */
  synchronous?: "FULL" | "NORMAL";
  /** How FULL flushes the WAL (fs.fdatasync); replaceable so tests can hold or fail it. */
  syncFile?: SyncFile;
  /** How long a write waits for another process's lock before failing as unavailable. */
  busyTimeoutMs?: number;
  /** Most operations committed together in one transaction. */
  maxBatch?: number;
  hooks?: StorageTestHooks;
}

/** Grant revocation reasons this adapter writes. */
export const REVOKE_REASON = {
  codeReused: "login_code_reused",
  refreshReused: "refresh_token_reused",
} as const;

// ---------------------------------------------------------------------------------------------
// Row shapes (column aliases match these names).

interface UserRow {
  tenantKey: string;
  userId: string;
  unionId: string;
  name: string;
  enName: string;
  email: string | null;
  mobile: string | null;
  avatarUrl: string;
  status: User["status"];
}
interface AppRow {
  appId: string;
  name: string;
  type: App["type"];
  scopes: string;
  secretHash: string;
}
interface InstallationRow {
  appId: string;
  tenantKey: string;
  visibilityAll: number;
}
interface VisibilityRow {
  appId: string;
  tenantKey: string;
  kind: "user" | "department";
  subjectId: string;
}
interface DepartmentRow {
  tenantKey: string;
  userId: string;
  departmentId: string;
}
interface ConsumedCodeRow {
  tenantKey: string;
  userId: string;
  openId: string | null;
  scopes: string | null;
  visible: number | null;
}
interface CodeStateRow {
  appId: string;
  tenantKey: string;
  userId: string;
  expiresAt: number;
  consumedAt: number | null;
  grantId: string | null;
}
interface RefreshStateRow {
  usedAt: number | null;
  grantId: string;
  appId: string;
  tenantKey: string;
  userId: string;
  revokedAt: number | null;
  expiresAt: number;
}
interface GrantIdentityRow {
  tenantKey: string;
  userId: string;
  expiresAt: number;
  openId: string | null;
  scopes: string;
}
interface SubjectRow extends UserRow {
  grantId: string;
  appId: string;
  openId: string | null;
  scopes: string;
}
interface GrantRow {
  grantId: string;
  appId: string;
  tenantKey: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  revokeReason: string | null;
}
interface RevokedRow {
  appId: string;
  tenantKey: string;
  userId: string;
}

const USER_COLUMNS = `tenant_key AS tenantKey, user_id AS userId, union_id AS unionId, name,
  en_name AS enName, email, mobile, avatar_url AS avatarUrl, status`;
const APP_COLUMNS = "app_id AS appId, name, type, scopes, secret_hash AS secretHash";
const APP_TOKEN_COLUMNS = `token_hash AS tokenHash, kind, app_id AS appId, tenant_key AS tenantKey, salt,
  issued_at AS issuedAt, expires_at AS expiresAt`;
const GRANT_COLUMNS = `grant_id AS grantId, app_id AS appId, tenant_key AS tenantKey, user_id AS userId,
  created_at AS createdAt, expires_at AS expiresAt, revoked_at AS revokedAt, revoke_reason AS revokeReason`;

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

function prepareStatements(db: BetterSqlite3.Database) {
  return {
    upsertTenant: db.prepare<[string, string]>(
      `INSERT INTO tenants (tenant_key, name) VALUES (?, ?)
       ON CONFLICT (tenant_key) DO UPDATE SET name = excluded.name`,
    ),
    getTenant: db.prepare<[string], Tenant>(
      "SELECT tenant_key AS tenantKey, name FROM tenants WHERE tenant_key = ?",
    ),
    listTenants: db.prepare<[], Tenant>(
      "SELECT tenant_key AS tenantKey, name FROM tenants ORDER BY tenant_key",
    ),

    upsertUser: db.prepare<[UserRow]>(
      `INSERT INTO users (tenant_key, user_id, union_id, name, en_name, email, mobile, avatar_url, status)
       VALUES (@tenantKey, @userId, @unionId, @name, @enName, @email, @mobile, @avatarUrl, @status)
       ON CONFLICT (tenant_key, user_id) DO UPDATE SET
         union_id = excluded.union_id, name = excluded.name, en_name = excluded.en_name,
         email = excluded.email, mobile = excluded.mobile, avatar_url = excluded.avatar_url,
         status = excluded.status`,
    ),
    deleteDepartments: db.prepare<[string, string]>(
      "DELETE FROM user_departments WHERE tenant_key = ? AND user_id = ?",
    ),
    insertDepartment: db.prepare<[string, string, string, number]>(
      `INSERT OR IGNORE INTO user_departments (tenant_key, user_id, department_id, position)
       VALUES (?, ?, ?, ?)`,
    ),
    getUser: db.prepare<[string, string], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE tenant_key = ? AND user_id = ?`,
    ),
    listUsers: db.prepare<[string | null, string | null], UserRow>(
      `SELECT ${USER_COLUMNS} FROM users WHERE (? IS NULL OR tenant_key = ?) ORDER BY tenant_key, user_id`,
    ),
    userDepartments: db
      .prepare<[string, string], string>(
        "SELECT department_id FROM user_departments WHERE tenant_key = ? AND user_id = ? ORDER BY position",
      )
      .pluck(),
    allDepartments: db.prepare<[], DepartmentRow>(
      `SELECT tenant_key AS tenantKey, user_id AS userId, department_id AS departmentId
       FROM user_departments ORDER BY tenant_key, user_id, position`,
    ),

    upsertApp: db.prepare<[AppRow]>(
      `INSERT INTO apps (app_id, name, type, scopes, secret_hash)
       VALUES (@appId, @name, @type, @scopes, @secretHash)
       ON CONFLICT (app_id) DO UPDATE SET name = excluded.name, type = excluded.type,
         scopes = excluded.scopes, secret_hash = excluded.secret_hash`,
    ),
    getApp: db.prepare<[string], AppRow>(`SELECT ${APP_COLUMNS} FROM apps WHERE app_id = ?`),
    listApps: db.prepare<[], AppRow>(`SELECT ${APP_COLUMNS} FROM apps ORDER BY app_id`),

    upsertInstallation: db.prepare<[string, string, number]>(
      `INSERT INTO installations (app_id, tenant_key, visibility_all) VALUES (?, ?, ?)
       ON CONFLICT (app_id, tenant_key) DO UPDATE SET visibility_all = excluded.visibility_all`,
    ),
    deleteVisibility: db.prepare<[string, string]>(
      "DELETE FROM app_visibility WHERE app_id = ? AND tenant_key = ?",
    ),
    insertVisibility: db.prepare<[string, string, string, string, number]>(
      `INSERT OR IGNORE INTO app_visibility (app_id, tenant_key, kind, subject_id, position)
       VALUES (?, ?, ?, ?, ?)`,
    ),
    listInstallations: db.prepare<[string | null, string | null], InstallationRow>(
      `SELECT app_id AS appId, tenant_key AS tenantKey, visibility_all AS visibilityAll
       FROM installations WHERE (? IS NULL OR app_id = ?) ORDER BY app_id, tenant_key`,
    ),
    listVisibility: db.prepare<[string | null, string | null], VisibilityRow>(
      `SELECT app_id AS appId, tenant_key AS tenantKey, kind, subject_id AS subjectId
       FROM app_visibility WHERE (? IS NULL OR app_id = ?) ORDER BY app_id, tenant_key, kind, position`,
    ),

    getOpenId: db
      .prepare<[string, string, string], string>(
        "SELECT open_id FROM open_ids WHERE app_id = ? AND tenant_key = ? AND user_id = ?",
      )
      .pluck(),
    ensureOpenId: db
      .prepare<[string, string, string, string], string>(
        `INSERT INTO open_ids (app_id, tenant_key, user_id, open_id) VALUES (?, ?, ?, ?)
         ON CONFLICT (app_id, tenant_key, user_id) DO UPDATE SET open_id = open_ids.open_id
         RETURNING open_id`,
      )
      .pluck(),
    importOpenId: db.prepare<[string, string, string, string]>(
      `INSERT INTO open_ids (app_id, tenant_key, user_id, open_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (app_id, tenant_key, user_id) DO UPDATE SET open_id = excluded.open_id`,
    ),
    listOpenIds: db.prepare<[], CatalogSnapshot["openIds"][number]>(
      `SELECT app_id AS appId, tenant_key AS tenantKey, user_id AS userId, open_id AS openId
       FROM open_ids ORDER BY app_id, tenant_key, user_id`,
    ),

    insertAppToken: db.prepare<[AppTokenRecord]>(
      `INSERT INTO app_tokens (token_hash, kind, app_id, tenant_key, salt, issued_at, expires_at)
       VALUES (@tokenHash, @kind, @appId, @tenantKey, @salt, @issuedAt, @expiresAt)`,
    ),
    latestAppToken: db.prepare<
      [{ kind: AppTokenKind; appId: string; tenantKey: string | null; now: number }],
      AppTokenRecord
    >(
      `SELECT ${APP_TOKEN_COLUMNS} FROM app_tokens
       WHERE kind = @kind AND app_id = @appId AND tenant_key IS @tenantKey
         AND issued_at <= @now AND expires_at > @now
       ORDER BY issued_at DESC, expires_at DESC LIMIT 1`,
    ),
    findAppToken: db.prepare<[string, number], AppTokenRecord>(
      `SELECT ${APP_TOKEN_COLUMNS} FROM app_tokens WHERE token_hash = ? AND expires_at > ?`,
    ),

    insertCode: db.prepare<[LoginCodeRecord]>(
      `INSERT INTO login_codes (code_hash, app_id, tenant_key, user_id, issued_at, expires_at)
       VALUES (@codeHash, @appId, @tenantKey, @userId, @issuedAt, @expiresAt)`,
    ),
    // THE single-use primitive: one conditional write, exactly one winner. It also records the
    // grant the redemption creates, and reads what the rest of the exchange needs.
    consumeCode: db.prepare<
      [{ now: number; grantId: string; codeHash: string; appId: string }],
      ConsumedCodeRow
    >(
      `UPDATE login_codes SET consumed_at = @now, grant_id = @grantId
       WHERE code_hash = @codeHash AND app_id = @appId AND consumed_at IS NULL AND expires_at > @now
       RETURNING tenant_key AS tenantKey, user_id AS userId,
         (SELECT o.open_id FROM open_ids o WHERE o.app_id = login_codes.app_id
            AND o.tenant_key = login_codes.tenant_key AND o.user_id = login_codes.user_id) AS openId,
         (SELECT a.scopes FROM apps a WHERE a.app_id = login_codes.app_id) AS scopes,
         ${VISIBLE_SQL} AS visible`,
    ),
    clearCodeGrant: db.prepare<[string]>("UPDATE login_codes SET grant_id = NULL WHERE code_hash = ?"),
    codeState: db.prepare<[string], CodeStateRow>(
      `SELECT app_id AS appId, tenant_key AS tenantKey, user_id AS userId, expires_at AS expiresAt,
         consumed_at AS consumedAt, grant_id AS grantId
       FROM login_codes WHERE code_hash = ?`,
    ),
    insertGrant: db.prepare<[string, string, string, string, string, string, number, number]>(
      `INSERT INTO grants (grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertAccessToken: db.prepare<[string, string, number]>(
      "INSERT INTO access_tokens (token_hash, grant_id, expires_at) VALUES (?, ?, ?)",
    ),
    insertRefreshToken: db.prepare<[string, string]>(
      "INSERT INTO refresh_tokens (token_hash, grant_id) VALUES (?, ?)",
    ),
    revokeGrant: db.prepare<[number, string, string], RevokedRow>(
      `UPDATE grants SET revoked_at = ?, revoke_reason = ? WHERE grant_id = ? AND revoked_at IS NULL
       RETURNING app_id AS appId, tenant_key AS tenantKey, user_id AS userId`,
    ),

    // Same primitive for refresh rotation: spend the token only while it and its family live.
    spendRefreshToken: db
      .prepare<[{ now: number; tokenHash: string; appId: string }], string>(
        `UPDATE refresh_tokens SET used_at = @now
         WHERE token_hash = @tokenHash AND used_at IS NULL AND EXISTS (
           SELECT 1 FROM grants g WHERE g.grant_id = refresh_tokens.grant_id
             AND g.app_id = @appId AND g.revoked_at IS NULL AND g.expires_at > @now)
         RETURNING grant_id`,
      )
      .pluck(),
    grantIdentity: db.prepare<[string], GrantIdentityRow>(
      `SELECT c.tenant_key AS tenantKey, c.user_id AS userId, c.expires_at AS expiresAt,
         (SELECT o.open_id FROM open_ids o
          WHERE o.app_id = c.app_id AND o.tenant_key = c.tenant_key AND o.user_id = c.user_id) AS openId,
         a.scopes
       FROM grants c JOIN apps a ON a.app_id = c.app_id WHERE c.grant_id = ?`,
    ),
    refreshState: db.prepare<[string], RefreshStateRow>(
      `SELECT r.used_at AS usedAt, g.grant_id AS grantId, g.app_id AS appId, g.tenant_key AS tenantKey,
         g.user_id AS userId, g.revoked_at AS revokedAt, g.expires_at AS expiresAt
       FROM refresh_tokens r JOIN grants g ON g.grant_id = r.grant_id WHERE r.token_hash = ?`,
    ),

    findAccessToken: db.prepare<[string, number, number], SubjectRow>(
      `SELECT g.grant_id AS grantId, g.app_id AS appId, a.scopes,
         (SELECT o.open_id FROM open_ids o
          WHERE o.app_id = g.app_id AND o.tenant_key = g.tenant_key AND o.user_id = g.user_id) AS openId,
         u.tenant_key AS tenantKey, u.user_id AS userId, u.union_id AS unionId, u.name, u.en_name AS enName,
         u.email, u.mobile, u.avatar_url AS avatarUrl, u.status
       FROM access_tokens t
       JOIN grants g ON g.grant_id = t.grant_id
       JOIN apps a ON a.app_id = g.app_id
       JOIN users u ON u.tenant_key = g.tenant_key AND u.user_id = g.user_id
       WHERE t.token_hash = ? AND t.expires_at > ? AND g.revoked_at IS NULL AND g.expires_at > ?`,
    ),

    listGrants: db.prepare<
      [
        {
          appId: string | null;
          tenantKey: string | null;
          userId: string | null;
          activeAt: number | null;
          limit: number;
        },
      ],
      GrantRow
    >(
      `SELECT ${GRANT_COLUMNS} FROM grants
       WHERE (@appId IS NULL OR app_id = @appId)
         AND (@tenantKey IS NULL OR tenant_key = @tenantKey)
         AND (@userId IS NULL OR user_id = @userId)
         AND (@activeAt IS NULL OR (revoked_at IS NULL AND expires_at > @activeAt))
       ORDER BY created_at DESC, grant_id LIMIT @limit`,
    ),

    insertAudit: db.prepare<[number, string, string | null, string | null, string | null, string | null]>(
      "INSERT INTO audit_events (at, type, app_id, tenant_key, user_id, grant_id) VALUES (?, ?, ?, ?, ?, ?)",
    ),
    listAudit: db.prepare<[number | null, number | null, number], AuditEvent>(
      `SELECT id, at, type, app_id AS appId, tenant_key AS tenantKey, user_id AS userId, grant_id AS grantId
       FROM audit_events WHERE (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ?`,
    ),

    // Version 1 always exists once the name does, so a conflict on it means "already there".
    ensureServerKey: db.prepare<[string, string, number]>(
      `INSERT INTO server_keys (name, version, value, created_at) VALUES (?, 1, ?, ?)
       ON CONFLICT (name, version) DO NOTHING`,
    ),
    rotateServerKey: db.prepare<[{ name: string; value: string; now: number }]>(
      `INSERT INTO server_keys (name, version, value, created_at)
       SELECT @name, coalesce(max(version), 0) + 1, @value, @now FROM server_keys WHERE name = @name`,
    ),
    listServerKeys: db.prepare<[string], ServerKey>(
      `SELECT name, version, value, created_at AS createdAt FROM server_keys
       WHERE name = ? ORDER BY version DESC`,
    ),

    hitRateLimit: db
      .prepare<[string, number, number], number>(
        `INSERT INTO rate_limits (key, window_start, window_end, count) VALUES (?, ?, ?, 1)
         ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1
         RETURNING count`,
      )
      .pluck(),

    // Each purge deletes at most `limit` rows (-1: all), picked by primary key through an index, so
    // that a large backlog goes out in short write transactions between logins.
    purgeCodes: db.prepare<[Purge]>(
      `DELETE FROM login_codes WHERE code_hash IN (
         SELECT code_hash FROM login_codes WHERE expires_at <= @now LIMIT @limit)`,
    ),
    purgeAppTokens: db.prepare<[Purge]>(
      `DELETE FROM app_tokens WHERE token_hash IN (
         SELECT token_hash FROM app_tokens WHERE expires_at <= @now LIMIT @limit)`,
    ),
    purgeAccessTokens: db.prepare<[Purge]>(
      `DELETE FROM access_tokens WHERE token_hash IN (
         SELECT token_hash FROM access_tokens WHERE expires_at <= @now LIMIT @limit)`,
    ),
    // A grant goes once its family ended ENDED_GRANT_KEPT_MS ago: the oldest `limit` of them
    // are picked by index, their tokens deleted within the call's budget (a long family leaves
    // hundreds of spent refresh tokens), and each grant once none of its tokens is left. Picking
    // first bounds a call's reads by `limit` however many ended grants wait.
    endedGrants: db
      .prepare<[Purge], string>(
        "SELECT grant_id FROM grants WHERE expires_at <= @endedBy ORDER BY expires_at LIMIT @limit",
      )
      .pluck(),
    purgeGrantRefreshTokens: db.prepare<[GrantPurge]>(
      `DELETE FROM refresh_tokens WHERE token_hash IN (
         SELECT token_hash FROM refresh_tokens WHERE grant_id = @grantId LIMIT @limit)`,
    ),
    purgeGrantAccessTokens: db.prepare<[GrantPurge]>(
      `DELETE FROM access_tokens WHERE token_hash IN (
         SELECT token_hash FROM access_tokens WHERE grant_id = @grantId LIMIT @limit)`,
    ),
    purgeTokenFreeGrant: db.prepare<[{ grantId: string }]>(
      `DELETE FROM grants WHERE grant_id = @grantId
          AND NOT EXISTS (SELECT 1 FROM refresh_tokens WHERE grant_id = @grantId)
          AND NOT EXISTS (SELECT 1 FROM access_tokens WHERE grant_id = @grantId)`,
    ),
    purgeRateLimits: db.prepare<[Purge]>(
      `DELETE FROM rate_limits WHERE (key, window_start) IN (
         SELECT key, window_start FROM rate_limits WHERE window_end <= @now LIMIT @limit)`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;
/** `limit` -1: no limit (SQLite's LIMIT -1). */
type Purge = { now: Millis; endedBy: Millis; limit: number };
type GrantPurge = { grantId: string; limit: number };

function parseScopes(text: string | null): string[] {
  if (text === null || text === "[]") return [];
  return JSON.parse(text) as string[];
}

function toApp(row: AppRow): App {
  return { ...row, scopes: parseScopes(row.scopes) };
}

function toUserRow(user: User): UserRow {
  return {
    tenantKey: user.tenantKey,
    userId: user.userId,
    unionId: user.unionId,
    name: user.name,
    enName: user.enName,
    email: user.email,
    mobile: user.mobile,
    avatarUrl: user.avatarUrl,
    status: user.status,
  };
}

function fromUserRow(row: UserRow, departmentIds: string[]): User {
  return {
    tenantKey: row.tenantKey,
    userId: row.userId,
    unionId: row.unionId,
    name: row.name,
    enName: row.enName,
    email: row.email,
    mobile: row.mobile,
    avatarUrl: row.avatarUrl,
    status: row.status,
    departmentIds,
  };
}

function pairKey(a: string, b: string): string {
  return `${a}\u0000${b}`;
}

/**
 * The SQLite adapter of the storage port. One connection; writes are group-committed (see
 * `WriteQueue`), reads run directly against the last committed state.
 *
 * @example
 * const storage = createSqliteStorage({ path: "./data/mina-auth.db" });
 * await storage.migrate();
 */
export function createSqliteStorage(options: SqliteStorageOptions): Storage {
  return new SqliteStorage(options);
}

export class SqliteStorage implements Storage {
  readonly dialect = "sqlite" as const;
  readonly #db: BetterSqlite3.Database;
  readonly #queue: WriteQueue;
  readonly #walSync: WalSync | null;
  /** Changes when another connection (another process) commits to the file. */
  readonly #dataVersion: BetterSqlite3.Statement<[], number> | null;
  #lastDataVersion = 0;
  readonly #checkpointer: Checkpointer | null;
  readonly #hooks: StorageTestHooks | undefined;
  readonly #ping: BetterSqlite3.Statement<[]>;
  #statements: Statements | null = null;
  #closed = false;

  constructor(options: SqliteStorageOptions) {
    let db: BetterSqlite3.Database;
    try {
      db = new Database(options.path);
      db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      if (!db.memory) {
        // Checkpoints are the Checkpointer's, on a worker thread (checkpointer.ts).
        db.pragma("journal_mode = WAL");
      }
      // FULL durability is WalSync's fdatasync after each COMMIT, off the event loop; SQLite's own
      // FULL would fsync inside COMMIT and stop every request for its duration. NORMAL still
      // syncs around checkpoints, which keeps the file consistent (docs/performance.md).
      db.pragma("synchronous = NORMAL");
      // Inside a group commit's transaction, SQLite keeps the undo pages of each statement (and
      // SAVEPOINT) that may have to be rolled back alone in a statement journal: a temporary
      // file by default, with one pwrite per page and a file created and unlinked per batch
      // (measured: 32 pwrites per exchange). In memory it costs no system call.
      db.pragma("temp_store = MEMORY");
      db.pragma("foreign_keys = ON");
    } catch (error) {
      throw toStorageError(error);
    }
    this.#db = db;
    if (db.memory || options.synchronous === "NORMAL") {
      this.#walSync = null;
      this.#dataVersion = null;
    } else {
      const [main] = db.pragma("database_list") as { name: string; file: string }[];
      this.#walSync = new WalSync(main?.file || db.name, options.syncFile);
      this.#dataVersion = db.prepare<[], number>("PRAGMA data_version").pluck();
      this.#lastDataVersion = this.#dataVersion.get()!;
    }
    this.#queue = new WriteQueue(db, {
      maxBatch: options.maxBatch,
      durability: this.#walSync ?? undefined,
      afterCommit: () => this.#checkpointer?.committed(),
    });
    this.#checkpointer = db.memory ? null : new Checkpointer(db, this.#queue);
    this.#hooks = options.hooks;
    this.#ping = db.prepare("SELECT 1");
  }

  /** The underlying connection, for SQLite-specific tests and tools; not part of the port. */
  get database(): BetterSqlite3.Database {
    return this.#db;
  }

  /** Checkpoints done off the event loop (null: no WAL, or no worker). */
  get checkpointStats(): { checkpoints: number } | null {
    return this.#checkpointer?.stats ?? null;
  }

  /** Group-commit counters: committed write batches and the operations they carried. */
  get writeStats(): { batches: number; operations: number } {
    return this.#queue.stats;
  }

  /** Prepared once, on first use after the schema exists. */
  get #s(): Statements {
    if (this.#statements === null) this.#statements = prepareStatements(this.#db);
    return this.#statements;
  }

  /**
   * Runs a read directly, and answers once what it saw is on disk; SQLite failures become
   * `StorageUnavailableError` when transient.
   */
  #read<T>(fn: (s: Statements) => T): Promise<T> {
    if (this.#closed) return Promise.reject(new StorageUnavailableError("sqlite: storage is closed"));
    let value: T;
    try {
      value = fn(this.#s);
    } catch (error) {
      return Promise.reject(toStorageError(error));
    }
    if (this.#walSync === null || this.#dataVersion === null) return Promise.resolve(value);
    let othersCommitted: boolean;
    try {
      const version = this.#dataVersion.get()!;
      othersCommitted = version !== this.#lastDataVersion;
      this.#lastDataVersion = version;
    } catch (error) {
      return Promise.reject(toStorageError(error));
    }
    return this.#walSync.observed(othersCommitted).then(() => value);
  }

  #write<T>(fn: (s: Statements) => T): Promise<T> {
    if (this.#closed) return Promise.reject(new StorageUnavailableError("sqlite: storage is closed"));
    if (this.#walSync?.failure) return Promise.reject(this.#walSync.failure);
    let s: Statements;
    try {
      s = this.#s;
    } catch (error) {
      return Promise.reject(toStorageError(error));
    }
    return this.#queue.push(() => fn(s));
  }

  #audit(
    s: Statements,
    at: Millis,
    type: string,
    appId: string | null,
    tenantKey: string | null,
    userId: string | null,
    grantId: string | null,
  ): void {
    s.insertAudit.run(at, type, appId, tenantKey, userId, grantId);
  }

  async migrate(): Promise<number[]> {
    if (this.#closed) throw new StorageUnavailableError("sqlite: storage is closed");
    const migrations = loadMigrations();
    try {
      const applied = applyMigrations(this.#db, migrations, Date.now());
      this.#statements = prepareStatements(this.#db);
      return applied;
    } catch (error) {
      throw toStorageError(error);
    }
  }

  ping(): Promise<void> {
    if (this.#closed) return Promise.reject(new StorageUnavailableError("sqlite: storage is closed"));
    if (this.#walSync?.failure) return Promise.reject(this.#walSync.failure);
    try {
      this.#ping.get();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(toStorageError(error));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#checkpointer?.close();
    this.#queue.close();
    await this.#walSync?.close();
    this.#db.close();
  }

  // --- Catalogue -----------------------------------------------------------------------------

  upsertTenant(tenant: Tenant): Promise<void> {
    return this.#write((s) => {
      s.upsertTenant.run(tenant.tenantKey, tenant.name);
    });
  }

  getTenant(tenantKey: string): Promise<Tenant | null> {
    return this.#read((s) => s.getTenant.get(tenantKey) ?? null);
  }

  listTenants(): Promise<Tenant[]> {
    return this.#read((s) => s.listTenants.all());
  }

  #upsertUser(s: Statements, user: User): void {
    s.upsertUser.run(toUserRow(user));
    s.deleteDepartments.run(user.tenantKey, user.userId);
    user.departmentIds.forEach((departmentId, position) => {
      s.insertDepartment.run(user.tenantKey, user.userId, departmentId, position);
    });
  }

  upsertUser(user: User): Promise<void> {
    return this.#write((s) => this.#upsertUser(s, user));
  }

  getUser(tenantKey: string, userId: string): Promise<User | null> {
    return this.#read((s) => {
      const row = s.getUser.get(tenantKey, userId);
      return row ? fromUserRow(row, s.userDepartments.all(tenantKey, userId)) : null;
    });
  }

  listUsers(tenantKey?: string): Promise<User[]> {
    return this.#read((s) => this.#listUsers(s, tenantKey ?? null));
  }

  #listUsers(s: Statements, tenantKey: string | null): User[] {
    const departments = new Map<string, string[]>();
    for (const d of s.allDepartments.iterate()) {
      if (tenantKey !== null && d.tenantKey !== tenantKey) continue;
      const key = pairKey(d.tenantKey, d.userId);
      const list = departments.get(key);
      if (list) list.push(d.departmentId);
      else departments.set(key, [d.departmentId]);
    }
    return s.listUsers
      .all(tenantKey, tenantKey)
      .map((row) => fromUserRow(row, departments.get(pairKey(row.tenantKey, row.userId)) ?? []));
  }

  upsertApp(app: App): Promise<void> {
    const row: AppRow = {
      appId: app.appId,
      name: app.name,
      type: app.type,
      scopes: JSON.stringify(app.scopes),
      secretHash: app.secretHash,
    };
    return this.#write((s) => {
      s.upsertApp.run(row);
    });
  }

  getApp(appId: string): Promise<App | null> {
    return this.#read((s) => {
      const row = s.getApp.get(appId);
      return row ? toApp(row) : null;
    });
  }

  listApps(): Promise<App[]> {
    return this.#read((s) => s.listApps.all().map(toApp));
  }

  #upsertInstallation(s: Statements, installation: Installation): void {
    const { appId, tenantKey, visibility } = installation;
    s.upsertInstallation.run(appId, tenantKey, visibility.all ? 1 : 0);
    s.deleteVisibility.run(appId, tenantKey);
    if (visibility.all) return;
    visibility.userIds.forEach((userId, position) => {
      s.insertVisibility.run(appId, tenantKey, "user", userId, position);
    });
    visibility.departmentIds.forEach((departmentId, position) => {
      s.insertVisibility.run(appId, tenantKey, "department", departmentId, position);
    });
  }

  upsertInstallation(installation: Installation): Promise<void> {
    return this.#write((s) => this.#upsertInstallation(s, installation));
  }

  listInstallations(appId: string): Promise<Installation[]> {
    return this.#read((s) => this.#listInstallations(s, appId));
  }

  #listInstallations(s: Statements, appId: string | null): Installation[] {
    const lists = new Map<string, { userIds: string[]; departmentIds: string[] }>();
    for (const v of s.listVisibility.iterate(appId, appId)) {
      const key = pairKey(v.appId, v.tenantKey);
      let entry = lists.get(key);
      if (!entry) {
        entry = { userIds: [], departmentIds: [] };
        lists.set(key, entry);
      }
      (v.kind === "user" ? entry.userIds : entry.departmentIds).push(v.subjectId);
    }
    return s.listInstallations.all(appId, appId).map((row) => {
      const visibility: Visibility =
        row.visibilityAll === 1
          ? { all: true }
          : {
              all: false,
              ...(lists.get(pairKey(row.appId, row.tenantKey)) ?? { userIds: [], departmentIds: [] }),
            };
      return { appId: row.appId, tenantKey: row.tenantKey, visibility };
    });
  }

  async ensureOpenId(appId: string, tenantKey: string, userId: string, candidate: string): Promise<string> {
    // Already assigned (the common case): a read is enough, the value never changes.
    const existing = await this.#read((s) => s.getOpenId.get(appId, tenantKey, userId));
    if (existing !== undefined) return existing;
    return this.#write((s) => s.ensureOpenId.get(appId, tenantKey, userId, candidate)!);
  }

  importCatalog(snapshot: CatalogSnapshot): Promise<void> {
    return this.#write((s) => {
      for (const tenant of snapshot.tenants) s.upsertTenant.run(tenant.tenantKey, tenant.name);
      for (const user of snapshot.users) this.#upsertUser(s, user);
      for (const app of snapshot.apps) {
        s.upsertApp.run({
          appId: app.appId,
          name: app.name,
          type: app.type,
          scopes: JSON.stringify(app.scopes),
          secretHash: app.secretHash,
        });
      }
      for (const installation of snapshot.installations) this.#upsertInstallation(s, installation);
      for (const o of snapshot.openIds) s.importOpenId.run(o.appId, o.tenantKey, o.userId, o.openId);
    });
  }

  exportCatalog(): Promise<CatalogSnapshot> {
    return this.#read((s) =>
      // One read transaction: a consistent snapshot even while other processes write.
      this.#db.transaction(() => ({
        tenants: s.listTenants.all(),
        users: this.#listUsers(s, null),
        apps: s.listApps.all().map(toApp),
        installations: this.#listInstallations(s, null),
        openIds: s.listOpenIds.all(),
      }))(),
    );
  }

  // --- App tokens ----------------------------------------------------------------------------

  saveAppToken(token: AppTokenRecord): Promise<void> {
    const row: AppTokenRecord = {
      tokenHash: token.tokenHash,
      kind: token.kind,
      appId: token.appId,
      tenantKey: token.tenantKey,
      salt: token.salt,
      issuedAt: token.issuedAt,
      expiresAt: token.expiresAt,
    };
    return this.#write((s) => {
      s.insertAppToken.run(row);
    });
  }

  latestAppToken(
    kind: AppTokenKind,
    appId: string,
    tenantKey: string | null,
    now: Millis,
  ): Promise<AppTokenRecord | null> {
    return this.#read((s) => s.latestAppToken.get({ kind, appId, tenantKey, now }) ?? null);
  }

  findAppToken(tokenHash: string, now: Millis): Promise<AppTokenRecord | null> {
    return this.#read((s) => s.findAppToken.get(tokenHash, now) ?? null);
  }

  // --- The login flow ------------------------------------------------------------------------

  saveLoginCodes(codes: readonly LoginCodeRecord[]): Promise<void> {
    const rows = codes.map(
      (code): LoginCodeRecord => ({
        codeHash: code.codeHash,
        appId: code.appId,
        tenantKey: code.tenantKey,
        userId: code.userId,
        issuedAt: code.issuedAt,
        expiresAt: code.expiresAt,
      }),
    );
    return this.#write((s) => {
      for (const row of rows) s.insertCode.run(row);
    });
  }

  async exchangeLoginCode(input: ExchangeInput): Promise<ExchangeOutcome> {
    if (this.#hooks?.beforeConsume) await this.#hooks.beforeConsume();
    return this.#write((s) => this.#exchange(s, input));
  }

  #exchange(s: Statements, input: ExchangeInput): ExchangeOutcome {
    const { codeHash, appId, now, grantId } = input;
    const won = s.consumeCode.get({ now, grantId, codeHash, appId });
    if (won) {
      const { tenantKey, userId } = won;
      if (won.visible !== 1) {
        s.clearCodeGrant.run(codeHash);
        this.#audit(s, now, "login_code.rejected_visibility", appId, tenantKey, userId, null);
        return { kind: "not_visible" };
      }
      if (won.openId === null) {
        // The domain assigns the open_id before minting the code; throwing rolls this
        // operation back, so the code stays unconsumed rather than half-redeemed.
        throw new Error(`sqlite: no open_id assigned for app ${appId} and user ${tenantKey}/${userId}`);
      }
      const { tokens } = input;
      s.insertGrant.run(
        grantId,
        appId,
        tenantKey,
        userId,
        input.sessionKeyHash,
        codeHash,
        now,
        input.familyExpiresAt,
      );
      s.insertAccessToken.run(tokens.accessTokenHash, grantId, tokens.accessExpiresAt);
      s.insertRefreshToken.run(tokens.refreshTokenHash, grantId);
      this.#audit(s, now, "login_code.consumed", appId, tenantKey, userId, grantId);
      return {
        kind: "issued",
        identity: { grantId, appId, tenantKey, userId, openId: won.openId, scopes: parseScopes(won.scopes) },
      };
    }

    // No row changed: classify, in the same transaction, without touching anything else.
    const code = s.codeState.get(codeHash);
    if (!code || code.expiresAt <= now) return { kind: "invalid" };
    if (code.appId !== appId) return { kind: "foreign" };
    if (code.consumedAt === null) {
      throw new Error("sqlite: a live unconsumed code was not consumed by its own app");
    }
    let revokedGrantId: string | null = null;
    if (input.revokeGrantOnReuse && code.grantId !== null) {
      revokedGrantId = code.grantId;
      if (s.revokeGrant.get(now, REVOKE_REASON.codeReused, code.grantId)) {
        this.#audit(s, now, "grant.revoked", appId, code.tenantKey, code.userId, code.grantId);
      }
    }
    this.#audit(s, now, "login_code.reused", appId, code.tenantKey, code.userId, code.grantId);
    return { kind: "reused", revokedGrantId };
  }

  async rotateRefreshToken(input: RotateInput): Promise<RotateOutcome> {
    if (this.#hooks?.beforeConsume) await this.#hooks.beforeConsume();
    return this.#write((s) => this.#rotate(s, input));
  }

  #rotate(s: Statements, input: RotateInput): RotateOutcome {
    const { refreshTokenHash, appId, now, next } = input;
    const grantId = s.spendRefreshToken.get({ now, tokenHash: refreshTokenHash, appId });
    if (grantId !== undefined) {
      const grant = s.grantIdentity.get(grantId)!;
      if (grant.openId === null) {
        throw new Error(`sqlite: no open_id for the user of grant ${grantId}`);
      }
      s.insertAccessToken.run(next.accessTokenHash, grantId, next.accessExpiresAt);
      s.insertRefreshToken.run(next.refreshTokenHash, grantId);
      this.#audit(s, now, "refresh_token.rotated", appId, grant.tenantKey, grant.userId, grantId);
      const identity: GrantIdentity = {
        grantId,
        appId,
        tenantKey: grant.tenantKey,
        userId: grant.userId,
        openId: grant.openId,
        scopes: parseScopes(grant.scopes),
      };
      return { kind: "rotated", identity, familyExpiresAt: grant.expiresAt };
    }

    const state = s.refreshState.get(refreshTokenHash);
    if (!state) return { kind: "invalid" };
    if (state.appId !== appId) return { kind: "foreign" };
    if (state.revokedAt !== null) return { kind: "revoked" };
    if (state.expiresAt <= now) return { kind: "expired" };
    if (state.usedAt === null) {
      throw new Error("sqlite: a live unspent refresh token was not spent by its own app");
    }
    if (s.revokeGrant.get(now, REVOKE_REASON.refreshReused, state.grantId)) {
      this.#audit(s, now, "grant.revoked", appId, state.tenantKey, state.userId, state.grantId);
    }
    this.#audit(s, now, "refresh_token.reused", appId, state.tenantKey, state.userId, state.grantId);
    return { kind: "reused", revokedGrantId: state.grantId };
  }

  findAccessToken(tokenHash: string, now: Millis): Promise<AccessTokenSubject | null> {
    return this.#read((s) => {
      const row = s.findAccessToken.get(tokenHash, now, now);
      if (!row || row.openId === null) return null;
      const user = fromUserRow(row, s.userDepartments.all(row.tenantKey, row.userId));
      const identity: GrantIdentity = {
        grantId: row.grantId,
        appId: row.appId,
        tenantKey: row.tenantKey,
        userId: row.userId,
        openId: row.openId,
        scopes: parseScopes(row.scopes),
      };
      return { identity, user };
    });
  }

  // --- Grants and audit ----------------------------------------------------------------------

  listGrants(query: GrantQuery): Promise<GrantSummary[]> {
    return this.#read((s) =>
      s.listGrants.all({
        appId: query.appId ?? null,
        tenantKey: query.tenantKey ?? null,
        userId: query.userId ?? null,
        activeAt: query.activeAt ?? null,
        limit: query.limit,
      }),
    );
  }

  revokeGrant(grantId: string, now: Millis, reason: string): Promise<boolean> {
    return this.#write((s) => {
      const row = s.revokeGrant.get(now, reason, grantId);
      if (!row) return false;
      this.#audit(s, now, "grant.revoked", row.appId, row.tenantKey, row.userId, grantId);
      return true;
    });
  }

  listAuditEvents(limit: number, beforeId?: number): Promise<AuditEvent[]> {
    const before = beforeId ?? null;
    return this.#read((s) => s.listAudit.all(before, before, limit));
  }

  // --- Server keys ----------------------------------------------------------------------------

  ensureServerKey(name: string, candidate: string, now: Millis): Promise<ServerKey> {
    return this.#write((s) => {
      s.ensureServerKey.run(name, candidate, now);
      return s.listServerKeys.get(name)!;
    });
  }

  rotateServerKey(name: string, value: string, now: Millis): Promise<ServerKey> {
    return this.#write((s) => {
      s.rotateServerKey.run({ name, value, now });
      return s.listServerKeys.get(name)!;
    });
  }

  listServerKeys(name: string): Promise<ServerKey[]> {
    return this.#read((s) => s.listServerKeys.all(name));
  }

  // --- Abuse control and housekeeping --------------------------------------------------------

  hitRateLimit(input: RateLimitInput): Promise<RateLimitResult> {
    const windowStart = Math.floor(input.now / input.windowMs) * input.windowMs;
    const windowEnd = windowStart + input.windowMs;
    return this.#write((s) => {
      const count = s.hitRateLimit.get(input.key, windowStart, windowEnd)!;
      return count <= input.limit
        ? { allowed: true, retryAfterMs: 0 }
        : { allowed: false, retryAfterMs: windowEnd - input.now };
    });
  }

  purgeExpired(now: Millis, limit = -1): Promise<number> {
    const purge: Purge = { now, endedBy: now - ENDED_GRANT_KEPT_MS, limit };
    return this.#write((s) => {
      let deleted =
        s.purgeCodes.run(purge).changes +
        s.purgeAppTokens.run(purge).changes +
        s.purgeAccessTokens.run(purge).changes +
        s.purgeRateLimits.run(purge).changes;
      // Budgets of rows per kind; -1 (no limit) stays -1.
      let refreshLeft = limit;
      let accessLeft = limit;
      for (const grantId of s.endedGrants.all(purge)) {
        if (refreshLeft === 0 || accessLeft === 0) break;
        const refresh = s.purgeGrantRefreshTokens.run({ grantId, limit: refreshLeft }).changes;
        const access = s.purgeGrantAccessTokens.run({ grantId, limit: accessLeft }).changes;
        if (limit >= 0) {
          refreshLeft -= refresh;
          accessLeft -= access;
        }
        deleted += refresh + access + s.purgeTokenFreeGrant.run({ grantId }).changes;
      }
      return deleted;
    });
  }
}
