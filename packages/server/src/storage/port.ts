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
import type { TokenExpiryStorage } from "./token-expiry-port.ts";

export type { FaultRuleStorage, StoredFaultRule, StoredFaultRuleSet } from "./fault-rule-port.ts";
export type { TokenExpiryStorage } from "./token-expiry-port.ts";

/** Unix time in milliseconds. */
export type Millis = number;

export type UserStatus = "active" | "deactivated";
export type AppType = "self_built" | "store";

export interface Tenant {
  tenantKey: string;
  name: string;
}

export interface User {
  tenantKey: string;
  /** The employee_id: unique within its tenant. */
  userId: string;
  unionId: string;
  name: string;
  enName: string;
  email: string | null;
  mobile: string | null;
  avatarUrl: string;
  status: UserStatus;
  departmentIds: string[];
}

/** Who inside an installed tenant may log in to an app. */
export type Visibility = { all: true } | { all: false; userIds: string[]; departmentIds: string[] };

export interface App {
  appId: string;
  name: string;
  type: AppType;
  scopes: string[];
  /** SHA-256 hex of the app secret; the secret itself is never stored. */
  secretHash: string;
}

export interface Installation {
  appId: string;
  tenantKey: string;
  visibility: Visibility;
}

export type AppTokenKind = "app" | "tenant";

export interface AppTokenRecord {
  tokenHash: string;
  kind: AppTokenKind;
  appId: string;
  /** The tenant the token acts for: the app's own tenant for a self-built app. */
  tenantKey: string | null;
  /**
   * Random salt the token was derived from (token = HMAC(app_secret, salt)), so that a caller
   * presenting the right secret can be handed the same token again without storing it.
   */
  salt: string;
  issuedAt: Millis;
  expiresAt: Millis;
}

export interface LoginCodeRecord {
  codeHash: string;
  appId: string;
  tenantKey: string;
  userId: string;
  issuedAt: Millis;
  expiresAt: Millis;
  /**
   * The scopes the user granted (tt.requestAccess's scopeList), kept by the login the code
   * opens; left out or null: every scope of the app (tt.login). See granted-scopes.ts.
   */
  scopes?: readonly string[] | null;
  /** An RFC 7636 challenge: the code is then consumed only with a matching verifier. */
  codeChallenge?: CodeChallenge | null;
}

export interface CodeChallenge {
  value: string;
  method: "S256" | "plain";
}

/**
 * What a presented code_verifier would match (RFC 7636 §4.6), computed by the domain so that
 * storage only compares: the challenge an S256 code must carry, and the one a plain code must.
 */
export interface VerifierChallenges {
  s256: string;
  plain: string;
}

/** The credentials an exchange or a rotation issues, already hashed. */
export interface IssuedTokens {
  accessTokenHash: string;
  accessExpiresAt: Millis;
  refreshTokenHash: string;
}

export interface ExchangeInput {
  codeHash: string;
  /** The app presenting the code (from its app token). */
  appId: string;
  now: Millis;
  /** Id of the grant (session) to create on success; random, not secret. */
  grantId: string;
  sessionKeyHash: string;
  tokens: IssuedTokens;
  /** End of the refresh family: 30 days after login; rotation never extends it. */
  familyExpiresAt: Millis;
  /** Whether a second redemption of a consumed code revokes the grant of the first. */
  revokeGrantOnReuse: boolean;
  /**
   * The presented code_verifier's challenges; left out or null when none was presented. A code
   * that carries a challenge is consumed only when they match it (`pkce_failed` otherwise).
   */
  verifier?: VerifierChallenges | null;
}

/** The identity a successful exchange or refresh resolves to. */
export interface GrantIdentity {
  grantId: string;
  appId: string;
  tenantKey: string;
  userId: string;
  openId: string;
  /**
   * The scopes in force at the time of the operation: those the login was granted (its code's
   * scopes, or every scope of the app) that the app still holds (granted-scopes.ts).
   */
  scopes: string[];
}

/**
 * The outcome of presenting a login code. Exactly one `issued` per code, ever, across every
 * concurrent caller and every process sharing the database.
 *
 * - `issued`: the code was unconsumed, unexpired and the caller's own; it is now consumed and
 *   the grant, session and tokens exist, all in the same commit. A code saved without an
 *   open_id for its (app, tenant, user) (an import, a tool: the domain assigns one when it
 *   mints) gets one in that same commit, never replacing one assigned meanwhile; every
 *   adapter does this (it once threw on SQLite and was repaired on PostgreSQL).
 * - `invalid`: no such code. Nothing changed.
 * - `expired`: the code expired (`now >= expiresAt`), used or not. Nothing changed.
 * - `foreign`: the code belongs to another app. Nothing changed: the owner can still use it.
 * - `reused`: the caller's own code, already consumed. When `revokeGrantOnReuse`, the grant its
 *   first redemption created is revoked (`revokedGrantId`). The code stays flagged until it
 *   expires so that every later replay is `reused` too.
 * - `not_visible`: the caller's own code, now consumed, but the user is deactivated or outside
 *   the app's visibility for that tenant (or the app is no longer installed there). No grant.
 * - `pkce_failed`: the caller's own live, unconsumed code carries a challenge that `verifier`
 *   does not match (or no verifier came). Nothing changed: its holder can still redeem it.
 */
export type ExchangeOutcome =
  | { kind: "issued"; identity: GrantIdentity }
  | { kind: "invalid" }
  | { kind: "expired" }
  | { kind: "pkce_failed" }
  | { kind: "foreign" }
  | { kind: "reused"; revokedGrantId: string | null }
  | { kind: "not_visible" };

export interface RotateInput {
  refreshTokenHash: string;
  appId: string;
  now: Millis;
  next: IssuedTokens;
}

/**
 * The outcome of presenting a refresh token. Exactly one `rotated` per refresh token, ever.
 *
 * - `rotated`: the token was live; it is now spent, and `next` is the family's only live
 *   refresh token (same grant, same absolute expiry). `next.accessTokenHash` is now the
 *   family's only live access token: the one it replaces ends here (the platform's rule,
 *   "refreshing invalidates the old access token").
 * - `invalid`: unknown (nothing changed).
 * - `foreign`: issued to another app; nothing changed, the owner's family is untouched.
 * - `expired`: the family's absolute limit has passed.
 * - `revoked`: the grant was revoked before.
 * - `reused`: the token was already rotated (any token the family ever spent, for as long as
 *   the grant is kept); the whole family (grant) is now revoked.
 */
export type RotateOutcome =
  | { kind: "rotated"; identity: GrantIdentity; familyExpiresAt: Millis }
  | { kind: "invalid" }
  | { kind: "foreign" }
  | { kind: "expired" }
  | { kind: "revoked" }
  | { kind: "reused"; revokedGrantId: string };

/**
 * What a login-flow write committed, read back by an id the server itself proposed for it
 * (see `LoginFlowStorage.findCommitted`).
 */
export interface CommittedLogin {
  identity: GrantIdentity;
  familyExpiresAt: Millis;
  /** Set when the grant was revoked since (by a replay, an admin, a deactivation). */
  revokedAt: Millis | null;
}

/** What a live user access token resolves to. */
export interface AccessTokenSubject {
  identity: GrantIdentity;
  user: User;
}

export interface GrantSummary {
  grantId: string;
  appId: string;
  tenantKey: string;
  userId: string;
  createdAt: Millis;
  expiresAt: Millis;
  revokedAt: Millis | null;
  revokeReason: string | null;
}

export interface GrantQuery {
  appId?: string;
  tenantKey?: string;
  userId?: string;
  /** Only grants neither revoked nor past their family expiry at `now`. */
  activeAt?: Millis;
  limit: number;
}

export interface AuditEvent {
  id: number;
  at: Millis;
  /** `<entity>.<verb>`, e.g. `login_code.consumed`, `refresh_token.reused`. */
  type: string;
  appId: string | null;
  tenantKey: string | null;
  userId: string | null;
  grantId: string | null;
}

export interface RateLimitInput {
  /** e.g. `secret:<app_id>`, `redeem-ip:<address>`. */
  key: string;
  now: Millis;
  windowMs: number;
  limit: number;
}

/** `allowed` counts this attempt; `retryAfterMs` is set when refused. */
export interface RateLimitResult {
  allowed: boolean;
  retryAfterMs: number;
}

/**
 * A key the server made for itself and keeps across restarts and instances (the admin token's
 * digest, the key session keys are derived from). Never part of an export.
 */
export interface ServerKey {
  name: string;
  /** 1 for the first value; each rotation adds the next. */
  version: number;
  value: string;
  createdAt: Millis;
}

/** The whole catalogue, as imported and exported (tokens and codes are never part of it). */
export interface CatalogSnapshot {
  tenants: Tenant[];
  users: User[];
  apps: App[];
  installations: Installation[];
  /** open_ids already assigned, so that an export/import keeps them stable. */
  openIds: Array<{ appId: string; tenantKey: string; userId: string; openId: string }>;
}

/**
 * Where a store app's events are pushed (issue 15). The verification token and encrypt key are
 * secrets the server must use, so they arrive sealed (domain/event-secrets.ts): storage holds
 * them as opaque text and never sees them in the clear.
 */
export interface AppEventSettings {
  appId: string;
  eventUrl: string;
  verificationTokenSealed: string;
  /** Null: events go unencrypted. */
  encryptKeySealed: string | null;
  updatedAt: Millis;
}

/** An app_ticket the server pushed, by its SHA-256 digest. */
export interface AppTicketRecord {
  ticketHash: string;
  appId: string;
  issuedAt: Millis;
  expiresAt: Millis;
}

/** One attempt to deliver an event to an app's event URL. */
export interface EventDelivery {
  id: number;
  appId: string;
  /** The event's uuid (every attempt of one event shares it). */
  eventId: string;
  eventType: "app_ticket" | "url_verification";
  /** 1 for the first try. */
  attempt: number;
  at: Millis;
  outcome: "delivered" | "failed";
  httpStatus: number | null;
  /** Why it failed, in words (never a body, a header or a secret). */
  detail: string | null;
}

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
