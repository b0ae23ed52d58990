/**
 * The records the storage port (port.ts) reads and writes: the catalogue, codes, grants and
 * their tokens, sessions, audit events, rate limits, server keys and store-app events. port.ts
 * re-exports them all, so that importers name one module. Plain data: the contract of each
 * operation is with the operation, in port.ts.
 */

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
  /**
   * The one tenant the caller's token speaks for (a tenant_access_token), or null / left out for
   * an app token, which speaks for every tenant of the app. A code of another tenant is `foreign`.
   */
  tenantKey?: string | null;
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
  /** As in `ExchangeInput`: a refresh token of another tenant is `foreign`. */
  tenantKey?: string | null;
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
