/**
 * The storage port: every operation mina-auth needs from a database, named after the domain.
 *
 * Contract shared by every adapter (SQLite file, SQLite :memory:, PostgreSQL), and checked by
 * ONE suite, `contract-suite.ts`, that each adapter runs:
 *
 * - Time is always passed in (`now`, Unix milliseconds) from the single injected clock; an
 *   adapter never reads its own clock for a validity decision.
 * - Secrets never reach storage raw: codes, access/refresh tokens, session keys, app secrets
 *   and app tokens arrive as SHA-256 hex digests (`…Hash` fields) and are looked up by them.
 * - A write operation's promise resolves only after its effects are durably committed. An
 *   adapter may group concurrent operations into one transaction and one commit (group
 *   commit); each caller still sees only its own outcome, and one operation's failure never
 *   changes another's effects.
 * - A storage failure rejects the promise (with `StorageUnavailableError` when it is transient);
 *   it is never reported as a domain outcome such as "unknown" or "reused".
 * - `StorageUnavailableError` means nothing of the operation committed. When that cannot be
 *   known (the connection failed after COMMIT was sent), an exchange or rotation reads back
 *   what it proposed (`findCommitted`, after any transaction still holding its rows ended) and
 *   resolves with what committed, or rejects with `StorageUnavailableError` when nothing did;
 *   when even that read fails, it rejects with `StorageOutcomeUnknownError`.
 * - No adapter keeps validity state in process memory: two processes on one database see one
 *   truth.
 */

import type { FaultRuleStorage } from "./fault-rule-port.ts";
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
  Tenant,
  User,
} from "./records.ts";
import type { TokenExpiryStorage } from "./token-expiry-port.ts";

export type { FaultRuleStorage, StoredFaultRule, StoredFaultRuleSet } from "./fault-rule-port.ts";
export type * from "./records.ts";
export type { TokenExpiryStorage } from "./token-expiry-port.ts";

// --- The port, by role. Each service takes only the part it uses; an adapter is all of them.

/** Lifecycle and housekeeping. */
export interface MaintenanceStorage {
  /** Adapter name for logs and metrics: `sqlite` or `postgres`. */
  readonly dialect: "sqlite" | "postgres";

  /**
   * Brings the schema to the latest version; safe when several processes call it at once.
   * Resolves to the versions this call applied (none when the schema was up to date).
   */
  migrate(): Promise<number[]>;
  /** Resolves when storage answers a trivial query (for /readyz). */
  ping(): Promise<void>;
  /** Waits for queued writes to commit, then releases connections. */
  close(): Promise<void>;

  /**
   * Deletes what can no longer decide anything: expired codes, app tokens, app_tickets, access tokens
   * (an expired access digest is cleared from its login's row) and rate-limit windows, and grants
   * whose family ended at least {@link ENDED_GRANT_KEPT_MS} before `now` with their spent
   * refresh tokens (a revoked grant too waits for that end: its tokens are refused meanwhile,
   * and it is found by index). A grant goes only once none of its tokens is left, in a later
   * call than the one that took its last. At most `limit` of each kind go per call (all
   * without one); returns how many went. Called until it returns 0, it leaves nothing that can go.
   */
  purgeExpired(now: Millis, limit?: number): Promise<number>;
}

/**
 * The catalogue (admin API, import/export, and the reads a login needs). Upserts replace the
 * whole record. A list of ids (a user's departments, an installation's visible users and
 * departments) is stored with each id once, in the order of its first mention.
 */
export interface CatalogueStorage {
  upsertTenant(tenant: Tenant): Promise<void>;
  getTenant(tenantKey: string): Promise<Tenant | null>;
  listTenants(): Promise<Tenant[]>;
  upsertUser(user: User): Promise<void>;
  getUser(tenantKey: string, userId: string): Promise<User | null>;
  listUsers(tenantKey?: string): Promise<User[]>;
  upsertApp(app: App): Promise<void>;
  getApp(appId: string): Promise<App | null>;
  listApps(): Promise<App[]>;
  /** Installs the app in a tenant, or replaces that installation's visibility. */
  upsertInstallation(installation: Installation): Promise<void>;
  listInstallations(appId: string): Promise<Installation[]>;
  /** Returns the open_id of (app, tenant, user), assigning `candidate` if it has none yet. */
  ensureOpenId(appId: string, tenantKey: string, userId: string, candidate: string): Promise<string>;
  /** Replaces nothing: upserts every record of the snapshot in one transaction. */
  importCatalog(snapshot: CatalogSnapshot): Promise<void>;
  exportCatalog(): Promise<CatalogSnapshot>;
}

/** App and tenant access tokens. */
export interface AppTokenStorage {
  /** Stores a new token; a token hash already stored is refused (rejects), nothing replaced. */
  saveAppToken(token: AppTokenRecord): Promise<void>;
  /** The newest unexpired token of that kind for (app, tenant), if any. */
  latestAppToken(
    kind: AppTokenKind,
    appId: string,
    tenantKey: string | null,
    now: Millis,
  ): Promise<AppTokenRecord | null>;
  /** The unexpired token with that hash, of either kind. */
  findAppToken(tokenHash: string, now: Millis): Promise<AppTokenRecord | null>;
}

/**
 * The login flow. One login is one row (migration 0004): the grant, with the digests of its
 * current access and refresh tokens. An exchange consumes the code and inserts that row; a
 * rotation updates it, keeping the spent refresh digest for replay detection. Both are found
 * again by the ids the server proposed (`grantId`, `next.refreshTokenHash`), unique in storage.
 */
export interface LoginFlowStorage {
  /** Codes in one write: all of them are stored, or (on any failure) none. */
  saveLoginCodes(codes: readonly LoginCodeRecord[]): Promise<void>;
  exchangeLoginCode(input: ExchangeInput): Promise<ExchangeOutcome>;
  rotateRefreshToken(input: RotateInput): Promise<RotateOutcome>;
  /** The subject of a live (unexpired, unrevoked, not replaced by a refresh) user access token. */
  findAccessToken(tokenHash: string, now: Millis): Promise<AccessTokenSubject | null>;
  /**
   * For a write whose outcome is unknown (the connection failed once COMMIT was sent): what it
   * committed, by the id the server proposed for it. `{ grantId }`: the exchange that created
   * that grant; `{ refreshTokenHash }`: the rotation that issued that refresh token, whether it
   * is still the family's current one or spent since. `null`: nothing of that write committed.
   * One indexed read; changes nothing.
   */
  findCommitted(ref: { grantId: string } | { refreshTokenHash: string }): Promise<CommittedLogin | null>;
}

/** Sessions (grants) and the audit trail. */
export interface SessionStorage {
  listGrants(query: GrantQuery): Promise<GrantSummary[]>;
  /** Revokes the grant and so every token it issued. False when unknown or already revoked. */
  revokeGrant(grantId: string, now: Millis, reason: string): Promise<boolean>;
  /**
   * Newest first. Events are written with the operation that caused them, in the same commit
   * (an adapter may write a whole group commit's events in one statement): never one for an
   * operation that did not commit, never a committed operation without its events.
   */
  listAuditEvents(limit: number, beforeId?: number): Promise<AuditEvent[]>;
}

/**
 * Keys the server keeps for itself. Versions are never deleted: what was derived from an older
 * one stays checkable after a rotation.
 */
export interface ServerKeyStorage {
  /**
   * The newest version of `name`. When there is none, stores `candidate` as version 1 first:
   * instances starting together all get the one value that won, whoever proposed it.
   */
  ensureServerKey(name: string, candidate: string, now: Millis): Promise<ServerKey>;
  /** Stores `value` as the next version of `name` (version 1 when there is none) and returns it. */
  rotateServerKey(name: string, value: string, now: Millis): Promise<ServerKey>;
  /** Every version of `name`, newest first; empty when there is none. */
  listServerKeys(name: string): Promise<ServerKey[]>;
}

/** Abuse control: a fixed-window counter kept in storage so every instance shares it. */
export interface RateLimitStorage {
  hitRateLimit(input: RateLimitInput): Promise<RateLimitResult>;
}

/** Store apps: event settings, the app_tickets pushed to them, and delivery attempts. */
export interface AppEventStorage {
  /** Creates or replaces the app's event settings. */
  setAppEventSettings(settings: AppEventSettings): Promise<void>;
  /** Removes them; false when there were none. */
  deleteAppEventSettings(appId: string): Promise<boolean>;
  getAppEventSettings(appId: string): Promise<AppEventSettings | null>;
  /** Every app's settings, by app_id. */
  listAppEventSettings(): Promise<AppEventSettings[]>;
  /**
   * Stores a ticket (any instance may then accept it); a digest already stored is refused
   * (rejects), nothing replaced.
   */
  saveAppTicket(ticket: AppTicketRecord): Promise<void>;
  /** The ticket with that digest when it is that app's and unexpired (`now < expiresAt`). */
  findAppTicket(appId: string, ticketHash: string, now: Millis): Promise<AppTicketRecord | null>;
  /**
   * When the app's newest ticket unexpired at `now` was issued, by whichever instance; null when
   * it has none. (A read over the live tickets, which the expiry index bounds.)
   */
  newestAppTicketIssuedAt(appId: string, now: Millis): Promise<Millis | null>;
  /**
   * Records an attempt; then keeps only the app's newest `keepPerApp` attempts, in the same
   * commit, so the record stays bounded whatever an event URL does.
   */
  recordEventDelivery(delivery: Omit<EventDelivery, "id">, keepPerApp: number): Promise<void>;
  /** The app's attempts, newest first. */
  listEventDeliveries(appId: string, limit: number): Promise<EventDelivery[]>;
}

/** Every role: what an adapter implements and what the server wires. */
export interface Storage
  extends MaintenanceStorage,
    CatalogueStorage,
    AppTokenStorage,
    LoginFlowStorage,
    SessionStorage,
    ServerKeyStorage,
    RateLimitStorage,
    FaultRuleStorage,
    TokenExpiryStorage,
    AppEventStorage {}

/**
 * How long a grant is kept after its family's end (30 days from login) before the purge deletes
 * it and its tokens. Until then its refresh tokens answer "expired" (20037) or "revoked"
 * (20038) rather than "invalid" (20026), and the admin API lists the session; and long before
 * then no statement that read the grant alive can still be writing a token for it, which is
 * what lets PostgreSQL go without foreign keys to grants (migration 0002).
 */
export const ENDED_GRANT_KEPT_MS = 30 * 24 * 60 * 60 * 1000;

/** A transient storage failure: the operation may be retried; nothing was half-done. */
export class StorageUnavailableError extends Error {
  override readonly name = "StorageUnavailableError";
}

/**
 * A write whose outcome nobody can tell: its commit may have happened (the connection failed
 * once COMMIT was sent, or a visible commit failed to reach the disk) and reading back what it
 * proposed failed too. Never answered as retryable: a retry could meet a consumed code or a
 * spent refresh token and revoke the login. Login-flow writes first try to resolve it
 * (`findCommitted`); only what stays unknown reaches the caller as this.
 */
export class StorageOutcomeUnknownError extends Error {
  override readonly name = "StorageOutcomeUnknownError";
}
