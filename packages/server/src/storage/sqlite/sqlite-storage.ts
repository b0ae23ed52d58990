import type BetterSqlite3 from "better-sqlite3";
import Database from "better-sqlite3";
import { newOpenId } from "../../secrets.ts";
import type {
  AccessTokenSubject,
  App,
  AppEventSettings,
  AppTicketRecord,
  AppTokenKind,
  AppTokenRecord,
  AuditEvent,
  CatalogSnapshot,
  CommittedLogin,
  EventDelivery,
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
  StoredFaultRule,
  StoredFaultRuleSet,
  Tenant,
  User,
} from "../port.ts";
import { ENDED_GRANT_KEPT_MS, StorageUnavailableError } from "../port.ts";
import type { StorageTestHooks } from "../test-hooks.ts";
import { SqliteAppEvents } from "./app-events.ts";
import { SqliteAppTokens } from "./app-tokens.ts";
import { AuditBuffer } from "./audit-buffer.ts";
import { SqliteCatalogue } from "./catalogue.ts";
import { Checkpointer } from "./checkpointer.ts";
import { toStorageError } from "./errors.ts";
import { SqliteFaultRules } from "./fault-rules.ts";
import { SqliteLoginFlow } from "./login-flow.ts";
import { SqliteMaintenance } from "./maintenance.ts";
import { applyMigrations, loadMigrations } from "./migrations.ts";
import { SqliteServerKeys } from "./server-keys.ts";
import { SqliteSessions } from "./sessions.ts";
import { SqliteTokenExpiry } from "./token-expiry.ts";
import { type SyncFile, WalSync } from "./wal-sync.ts";
import { WriteQueue } from "./write-queue.ts";

export { REVOKE_REASON } from "./login-flow.ts";

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

/** Every prepared statement, by role; prepared once the schema exists. */
function prepareStatements(db: BetterSqlite3.Database, audit: AuditBuffer) {
  return {
    catalogue: new SqliteCatalogue(db),
    appTokens: new SqliteAppTokens(db),
    flow: new SqliteLoginFlow(db, audit),
    sessions: new SqliteSessions(db),
    keys: new SqliteServerKeys(db),
    maintenance: new SqliteMaintenance(db),
    faults: new SqliteFaultRules(db),
    expiry: new SqliteTokenExpiry(db),
    appEvents: new SqliteAppEvents(db),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

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
  /** Audit events of the batch being written (see audit-buffer.ts). */
  readonly #audit: AuditBuffer;
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
    const audit = new AuditBuffer(db);
    this.#audit = audit;
    this.#queue = new WriteQueue(db, {
      maxBatch: options.maxBatch,
      onBegin: () => audit.clear(),
      beforeCommit: () => audit.flush(),
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
    if (this.#statements === null) this.#statements = prepareStatements(this.#db, this.#audit);
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
    return this.#queue.push(() => this.#audit.within(() => fn(s)));
  }

  async migrate(): Promise<number[]> {
    if (this.#closed) throw new StorageUnavailableError("sqlite: storage is closed");
    const migrations = loadMigrations();
    try {
      const applied = applyMigrations(this.#db, migrations, Date.now());
      this.#statements = prepareStatements(this.#db, this.#audit);
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
      s.catalogue.upsertTenant(tenant);
    });
  }

  getTenant(tenantKey: string): Promise<Tenant | null> {
    return this.#read((s) => s.catalogue.getTenant(tenantKey));
  }

  listTenants(): Promise<Tenant[]> {
    return this.#read((s) => s.catalogue.listTenants());
  }

  upsertUser(user: User): Promise<void> {
    return this.#write((s) => s.catalogue.upsertUser(user));
  }

  getUser(tenantKey: string, userId: string): Promise<User | null> {
    return this.#read((s) => s.catalogue.getUser(tenantKey, userId));
  }

  listUsers(tenantKey?: string): Promise<User[]> {
    return this.#read((s) => s.catalogue.listUsers(tenantKey ?? null));
  }

  upsertApp(app: App): Promise<void> {
    return this.#write((s) => s.catalogue.upsertApp(app));
  }

  getApp(appId: string): Promise<App | null> {
    return this.#read((s) => s.catalogue.getApp(appId));
  }

  listApps(): Promise<App[]> {
    return this.#read((s) => s.catalogue.listApps());
  }

  upsertInstallation(installation: Installation): Promise<void> {
    return this.#write((s) => s.catalogue.upsertInstallation(installation));
  }

  listInstallations(appId: string): Promise<Installation[]> {
    return this.#read((s) => s.catalogue.listInstallations(appId));
  }

  async ensureOpenId(appId: string, tenantKey: string, userId: string, candidate: string): Promise<string> {
    // Already assigned (the common case): a read is enough, the value never changes.
    const existing = await this.#read((s) => s.catalogue.getOpenId(appId, tenantKey, userId));
    if (existing !== undefined) return existing;
    return this.#write((s) => s.catalogue.ensureOpenId(appId, tenantKey, userId, candidate));
  }

  importCatalog(snapshot: CatalogSnapshot): Promise<void> {
    return this.#write((s) => s.catalogue.importCatalog(snapshot));
  }

  exportCatalog(): Promise<CatalogSnapshot> {
    // One read transaction: a consistent snapshot even while other processes write.
    return this.#read((s) => this.#db.transaction(() => s.catalogue.exportCatalog())());
  }

  // --- App tokens ----------------------------------------------------------------------------

  saveAppToken(token: AppTokenRecord): Promise<void> {
    return this.#write((s) => s.appTokens.save(token));
  }

  latestAppToken(
    kind: AppTokenKind,
    appId: string,
    tenantKey: string | null,
    now: Millis,
  ): Promise<AppTokenRecord | null> {
    return this.#read((s) => s.appTokens.latest(kind, appId, tenantKey, now));
  }

  findAppToken(tokenHash: string, now: Millis): Promise<AppTokenRecord | null> {
    return this.#read((s) => s.appTokens.find(tokenHash, now));
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
        scopes: code.scopes === undefined || code.scopes === null ? null : [...code.scopes],
        codeChallenge: code.codeChallenge ? { ...code.codeChallenge } : null,
      }),
    );
    return this.#write((s) => s.flow.saveLoginCodes(rows));
  }

  async exchangeLoginCode(input: ExchangeInput): Promise<ExchangeOutcome> {
    if (this.#hooks?.beforeConsume) await this.#hooks.beforeConsume();
    return this.#write((s) => s.flow.exchange(input, newOpenId));
  }

  async rotateRefreshToken(input: RotateInput): Promise<RotateOutcome> {
    if (this.#hooks?.beforeConsume) await this.#hooks.beforeConsume();
    return this.#write((s) => s.flow.rotate(input));
  }

  findAccessToken(tokenHash: string, now: Millis): Promise<AccessTokenSubject | null> {
    return this.#read((s) => s.flow.findAccessToken(tokenHash, now));
  }

  findCommitted(ref: { grantId: string } | { refreshTokenHash: string }): Promise<CommittedLogin | null> {
    return this.#read((s) => s.flow.findCommitted(ref));
  }

  // --- Sessions and audit --------------------------------------------------------------------

  listGrants(query: GrantQuery): Promise<GrantSummary[]> {
    return this.#read((s) => s.sessions.listGrants(query));
  }

  revokeGrant(grantId: string, now: Millis, reason: string): Promise<boolean> {
    return this.#write((s) => s.flow.revokeGrant(grantId, now, reason));
  }

  listAuditEvents(limit: number, beforeId?: number): Promise<AuditEvent[]> {
    return this.#read((s) => s.sessions.listAuditEvents(limit, beforeId ?? null));
  }

  // --- Server keys ----------------------------------------------------------------------------

  ensureServerKey(name: string, candidate: string, now: Millis): Promise<ServerKey> {
    return this.#write((s) => s.keys.ensure(name, candidate, now));
  }

  rotateServerKey(name: string, value: string, now: Millis): Promise<ServerKey> {
    return this.#write((s) => s.keys.rotate(name, value, now));
  }

  listServerKeys(name: string): Promise<ServerKey[]> {
    return this.#read((s) => s.keys.list(name));
  }

  // --- Store apps' events ----------------------------------------------------------------------

  setAppEventSettings(settings: AppEventSettings): Promise<void> {
    return this.#write((s) => s.appEvents.setSettings(settings));
  }

  deleteAppEventSettings(appId: string): Promise<boolean> {
    return this.#write((s) => s.appEvents.deleteSettings(appId));
  }

  getAppEventSettings(appId: string): Promise<AppEventSettings | null> {
    return this.#read((s) => s.appEvents.getSettings(appId));
  }

  listAppEventSettings(): Promise<AppEventSettings[]> {
    return this.#read((s) => s.appEvents.listSettings());
  }

  saveAppTicket(ticket: AppTicketRecord): Promise<void> {
    return this.#write((s) => s.appEvents.saveTicket(ticket));
  }

  findAppTicket(appId: string, ticketHash: string, now: Millis): Promise<AppTicketRecord | null> {
    return this.#read((s) => s.appEvents.findTicket(appId, ticketHash, now));
  }

  newestAppTicketIssuedAt(appId: string, now: Millis): Promise<Millis | null> {
    return this.#read((s) => s.appEvents.newestTicketIssuedAt(appId, now));
  }

  recordEventDelivery(delivery: Omit<EventDelivery, "id">, keepPerApp: number): Promise<void> {
    return this.#write((s) => s.appEvents.recordDelivery(delivery, keepPerApp));
  }

  listEventDeliveries(appId: string, limit: number): Promise<EventDelivery[]> {
    return this.#read((s) => s.appEvents.listDeliveries(appId, limit));
  }

  // --- Abuse control and housekeeping --------------------------------------------------------

  hitRateLimit(input: RateLimitInput): Promise<RateLimitResult> {
    return this.#write((s) => s.keys.hitRateLimit(input));
  }

  // --- Fault rules (test tools) ----------------------------------------------------------------

  addFaultRule(rule: Omit<StoredFaultRule, "applied">): Promise<void> {
    return this.#write((s) => s.faults.add(rule));
  }

  listFaultRules(): Promise<StoredFaultRuleSet> {
    return this.#read((s) => s.faults.list());
  }

  faultRulesVersion(): Promise<number> {
    return this.#read((s) => s.faults.version());
  }

  removeFaultRule(id: string): Promise<boolean> {
    return this.#write((s) => s.faults.remove(id));
  }

  clearFaultRules(): Promise<number> {
    return this.#write((s) => s.faults.clear());
  }

  applyFaultRule(id: string): Promise<{ timesLeft: number | null; applied: number } | null> {
    return this.#write((s) => s.faults.apply(id));
  }

  // --- Expire now (test tools) ------------------------------------------------------------------

  expireAccessTokens(grantId: string, now: Millis): Promise<boolean> {
    return this.#write((s) => s.expiry.expireAccessTokens(grantId, now));
  }

  expireAppTokens(appId: string, kind: AppTokenKind | null, now: Millis): Promise<number> {
    return this.#write((s) => s.expiry.expireAppTokens(appId, kind, now));
  }

  purgeExpired(now: Millis, limit = -1): Promise<number> {
    const purge = { now, endedBy: now - ENDED_GRANT_KEPT_MS, limit };
    return this.#write((s) => s.maintenance.purgeExpired(purge));
  }
}
