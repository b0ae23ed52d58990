import {
  Formats,
  type LegacyRefreshData,
  Lifetimes,
  type OidcRefreshData,
  type RefreshRequest,
  Scopes,
  type TokenLoginValidateData,
  type TokenLoginValidateRequest,
  type UserInfoData,
} from "@mina-auth/protocol";
import type { Clock } from "../clock.ts";
import {
  newLoginCode,
  newOpenId,
  newRefreshToken,
  newUserAccessToken,
  sha256Hex,
  storageKey,
} from "../secrets.ts";
import type {
  AppTokenRecord,
  CatalogueStorage,
  CodeChallenge,
  ExchangeOutcome,
  GrantIdentity,
  IssuedTokens,
  LoginCodeRecord,
  LoginFlowStorage,
  ServerKeyStorage,
  SessionStorage,
  User,
  VerifierChallenges,
} from "../storage/port.ts";
import { StorageOutcomeUnknownError, StorageUnavailableError } from "../storage/port.ts";
import { grantableScopes } from "./code-scopes.ts";
import { ApiError } from "./errors.ts";
import { RateLimitedError, type RateLimiter } from "./rate-limits.ts";
import { deriveSessionKey, newLinkedGrantId, SessionKeys } from "./session-keys.ts";

export interface LoginPolicy {
  /** RFC 6749 §4.1.2: a second redemption revokes what the first one issued. */
  revokeGrantOnCodeReuse: boolean;
}

export interface MintCodeRequest {
  appId: string;
  userId: string;
  /** May be left out for a self-built app: its own tenant. */
  tenantKey?: string;
  /**
   * The scopes the user grants (tt.requestAccess's scopeList), each one the app holds; left
   * out: every scope of the app (tt.login). See code-scopes.ts.
   */
  scopes?: readonly string[];
  /** An RFC 7636 challenge the v2 token endpoint will ask the code_verifier of. */
  codeChallenge?: CodeChallenge;
}

/** One redemption of a login code, at whichever door: the storage outcome and what it issued. */
export interface Redemption {
  outcome: ExchangeOutcome;
  /** What the redemption issued (meaningful when `outcome.kind` is `issued`). */
  accessToken: string;
  refreshToken: string;
  /** Unix milliseconds. */
  accessExpiresAt: number;
  sessionKey: string;
  /** When the login's refresh family ends, Unix milliseconds. */
  familyExpiresAt: number;
}

export interface MintedCode {
  code: string;
  /** Unix seconds. */
  expiresAt: number;
}

export interface MintedCodes {
  codes: string[];
  /** Unix seconds, the same for every code of the call. */
  expiresAt: number;
}

export type RefreshVariant = "legacy" | "oidc";

/**
 * Who presents a code or a refresh token: an app, by its app token or (v2 oauth/token) its client
 * secret, for every tenant of the app; or by a tenant_access_token, for that tenant only.
 */
export interface Presenter {
  appId: string;
  tenantKey: string | null;
}

/** What a caller's token speaks for: a tenant token, its one tenant; an app token, the whole app. */
export function presenterOf(caller: AppTokenRecord): Presenter {
  return { appId: caller.appId, tenantKey: caller.kind === "tenant" ? caller.tenantKey : null };
}

/** What the login flow needs of storage: the flow itself, catalogue reads, and revocation. */
export type LoginStorage = LoginFlowStorage &
  Pick<CatalogueStorage, "getApp" | "getTenant" | "getUser" | "listInstallations" | "ensureOpenId"> &
  Pick<SessionStorage, "revokeGrant"> &
  ServerKeyStorage;

interface FreshTokens {
  accessToken: string;
  refreshToken: string;
  hashed: IssuedTokens;
}

/** The mini-program login flow: mint (what tt.login does), exchange, refresh, user_info. */
export class LoginService {
  /** Where each session_key comes from (derived per grant, never stored): session-keys.ts. */
  readonly sessionKeys: SessionKeys;

  constructor(
    private readonly storage: LoginStorage,
    private readonly clock: Clock,
    private readonly policy: LoginPolicy,
    private readonly limiter?: RateLimiter,
  ) {
    this.sessionKeys = new SessionKeys(storage, clock);
  }

  async mintCode(request: MintCodeRequest): Promise<MintedCode> {
    const { codes, expiresAt } = await this.mintCodes(request, 1);
    return { code: codes[0]!, expiresAt };
  }

  /** `count` codes for one user in one write (load tests and benchmarks mint thousands). */
  async mintCodes(request: MintCodeRequest, count: number): Promise<MintedCodes> {
    const app = await this.storage.getApp(request.appId);
    if (!app) throw new ApiError("AdminNotFound", `app ${request.appId}`);
    let tenantKey = request.tenantKey;
    if (tenantKey === undefined) {
      if (app.type !== "self_built")
        throw new ApiError("AdminInvalidRequest", "tenant_key is required for a store app");
      tenantKey = (await this.storage.listInstallations(app.appId))[0]?.tenantKey;
      if (tenantKey === undefined) throw new ApiError("AdminNotFound", `app ${app.appId} has no tenant`);
    }
    if (!(await this.storage.getTenant(tenantKey)))
      throw new ApiError("AdminNotFound", `tenant ${tenantKey}`);
    if (!(await this.storage.getUser(tenantKey, request.userId))) {
      throw new ApiError("AdminNotFound", `user ${request.userId} in tenant ${tenantKey}`);
    }
    const scopes = request.scopes === undefined ? null : grantableScopes(request.scopes, app.scopes);

    await this.storage.ensureOpenId(app.appId, tenantKey, request.userId, newOpenId());
    const now = this.clock.now();
    const expiresAt = now + Lifetimes.loginCode * 1000;
    const codes: string[] = [];
    const records: LoginCodeRecord[] = [];
    for (let i = 0; i < count; i++) {
      const code = newLoginCode(now);
      codes.push(code);
      records.push({
        codeHash: storageKey("login_code", code),
        appId: app.appId,
        tenantKey,
        userId: request.userId,
        issuedAt: now,
        expiresAt,
        scopes,
        codeChallenge: request.codeChallenge ?? null,
      });
    }
    await this.storage.saveLoginCodes(records);
    return { codes, expiresAt: Math.floor(expiresAt / 1000) };
  }

  /**
   * tokenLoginValidate, after the app token was accepted and the code's format checked at the
   * edge (http/platform/schemas.ts: 10226). Check order: code, then visibility.
   */
  async exchange(
    caller: AppTokenRecord,
    { code }: TokenLoginValidateRequest,
    clientAddress = "",
  ): Promise<TokenLoginValidateData> {
    const { outcome, sessionKey, accessToken, refreshToken, accessExpiresAt } = await this.redeemCode(
      presenterOf(caller),
      code,
      clientAddress,
    );
    switch (outcome.kind) {
      case "invalid":
      case "expired":
      // A code issued with a PKCE challenge is redeemable only at the v2 token endpoint.
      case "pkce_failed":
        throw new ApiError("InvalidCode");
      case "foreign":
      case "reused":
        throw new ApiError("CodeAppIdNotMatch");
      case "not_visible":
        throw new ApiError("UserNoVisibility");
      case "issued": {
        const { identity } = outcome;
        const data: TokenLoginValidateData = {
          open_id: identity.openId,
          session_key: sessionKey,
          tenant_key: identity.tenantKey,
          access_token: accessToken,
          expires_in: Math.floor(accessExpiresAt / 1000),
          refresh_token: refreshToken,
        };
        if (identity.scopes.includes(Scopes.employeeId)) data.employee_id = identity.userId;
        return data;
      }
    }
  }

  /**
   * Redeems a login code for `appId`, at any door (tokenLoginValidate, oidc/access_token, v2
   * oauth/token): the one conditional write of storage decides, so a code is consumed once
   * whichever door is first, and a second redemption at any door is a reuse. Failed outcomes
   * are counted against the rate limit here (over the limit: 99991400); each door maps the
   * outcome to its own codes.
   */
  async redeemCode(
    presenter: Presenter,
    code: string,
    clientAddress: string,
    verifier?: VerifierChallenges,
  ): Promise<Redemption> {
    const serverKey = await this.sessionKeys.current();
    const now = this.clock.now();
    const tokens = this.freshTokens(now);
    const codeHash = storageKey("login_code", code);
    const grantId = newLinkedGrantId(now, codeHash, serverKey.version);
    const sessionKey = deriveSessionKey(serverKey.value, grantId);
    const familyExpiresAt = now + Lifetimes.refreshFamily * 1000;
    const { appId, tenantKey } = presenter;
    const outcome = await this.storage.exchangeLoginCode({
      codeHash,
      appId,
      tenantKey,
      now,
      grantId,
      sessionKeyHash: sha256Hex(sessionKey),
      tokens: tokens.hashed,
      familyExpiresAt,
      revokeGrantOnReuse: this.policy.revokeGrantOnCodeReuse,
      verifier: verifier ?? null,
    });

    // Only failures are counted (see rate-limits.ts): over the limit they answer 99991400.
    if (outcome.kind !== "issued") await countAttempt(this.limiter?.failedRedemption(appId, clientAddress));
    return {
      outcome,
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      accessExpiresAt: tokens.hashed.accessExpiresAt,
      sessionKey,
      familyExpiresAt,
    };
  }

  /** The request's shape (20001, 20036, 20026 in that order) was checked at the edge. */
  async refresh(caller: Presenter, request: RefreshRequest, variant: "oidc"): Promise<OidcRefreshData>;
  async refresh(caller: Presenter, request: RefreshRequest, variant: "legacy"): Promise<LegacyRefreshData>;
  async refresh(
    caller: Presenter,
    request: RefreshRequest,
    variant: RefreshVariant,
  ): Promise<OidcRefreshData | LegacyRefreshData> {
    const now = this.clock.now();
    const tokens = this.freshTokens(now);
    const refreshTokenHash = storageKey("refresh_token", request.refresh_token);
    const outcome = await this.storage.rotateRefreshToken({
      refreshTokenHash,
      appId: caller.appId,
      tenantKey: caller.tenantKey,
      now,
      next: tokens.hashed,
    });
    // Counted per family once the outcome names it, else per presented token. A committed
    // rotation is never refused: that would strand the family (see rate-limits.ts).
    if (this.limiter) {
      const subject =
        outcome.kind === "rotated"
          ? { grantId: outcome.identity.grantId }
          : outcome.kind === "reused"
            ? { grantId: outcome.revokedGrantId }
            : { tokenHash: refreshTokenHash };
      const counted = countAttempt(this.limiter.refreshAttempt(subject));
      if (outcome.kind === "rotated") await counted.catch(() => {});
      else await counted;
    }
    switch (outcome.kind) {
      case "invalid":
        throw new ApiError("RefreshTokenInvalid");
      case "foreign":
        throw new ApiError("RefreshTokenOtherApp");
      case "expired":
        throw new ApiError("RefreshTokenExpired");
      case "revoked":
      case "reused":
        throw new ApiError("RefreshTokenReused");
      case "rotated":
        break;
    }

    const { identity, familyExpiresAt } = outcome;
    const user = await this.userAfterRotation(identity, now);
    const base = {
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
      token_type: "Bearer" as const,
      expires_in: Lifetimes.userAccessToken,
      refresh_expires_in: Math.max(0, Math.floor((familyExpiresAt - now) / 1000)),
    };
    if (variant === "oidc") return { ...base, scope: identity.scopes.join(" ") };
    return { ...base, ...profile(identity, user) };
  }

  /** user_info for a bearer user_access_token (already parsed, may be null). */
  async userInfo(token: string | null): Promise<UserInfoData> {
    if (token === null) throw new ApiError("MissingAccessToken");
    if (!Formats.userAccessToken.test(token)) throw new ApiError("UserAccessTokenInvalid");
    const subject = await this.storage.findAccessToken(storageKey("access_token", token), this.clock.now());
    if (!subject) throw new ApiError("UserAccessTokenInvalid");
    if (subject.user.status !== "active") throw new ApiError("UserFrozen");
    return profile(subject.identity, subject.user);
  }

  /**
   * The rotation has committed: the presented refresh token is spent. A storage failure from
   * here on must not answer "retryable, nothing happened" (the retry would be a replay and
   * revoke the family): reading the user fails as "outcome unknown"; a deactivated user is
   * refused (20022) whether or not revoking the grant got through (the client never saw the
   * new tokens, and user_info refuses a deactivated user by itself).
   */
  private async userAfterRotation(identity: GrantIdentity, now: number): Promise<User> {
    let user: User | null;
    try {
      // A read: tried again through a short outage rather than leave the client without the
      // tokens it now must use.
      user = await duringOutage(() => this.storage.getUser(identity.tenantKey, identity.userId));
    } catch (error) {
      if (!(error instanceof StorageUnavailableError)) throw error;
      throw new StorageOutcomeUnknownError("the rotation committed, then reading its user failed", {
        cause: error,
      });
    }
    if (user?.status !== "active") {
      await this.storage.revokeGrant(identity.grantId, now, "user_deactivated").catch((error: unknown) => {
        if (!(error instanceof StorageUnavailableError)) throw error;
      });
      throw new ApiError("UserFrozen");
    }
    return user;
  }

  /**
   * The user a refresh token (current, or spent since) belongs to; null when unknown. For fault
   * rules matching on the user (test tools): a read, no check of the token's validity.
   */
  async subjectOfRefreshToken(refreshToken: string): Promise<{ tenantKey: string; userId: string } | null> {
    const committed = await this.storage.findCommitted({
      refreshTokenHash: storageKey("refresh_token", refreshToken),
    });
    return committed && { tenantKey: committed.identity.tenantKey, userId: committed.identity.userId };
  }

  /** The scopes in force for the login a refresh token (current, or spent since) belongs to; null when unknown. */
  async scopesOfRefreshToken(refreshToken: string): Promise<readonly string[] | null> {
    const committed = await this.storage.findCommitted({
      refreshTokenHash: storageKey("refresh_token", refreshToken),
    });
    return committed?.identity.scopes ?? null;
  }

  /** The user behind a live user access token; null when none. For fault rules, as above. */
  async subjectOfAccessToken(token: string | null): Promise<{ tenantKey: string; userId: string } | null> {
    if (token === null || !Formats.userAccessToken.test(token)) return null;
    const subject = await this.storage.findAccessToken(storageKey("access_token", token), this.clock.now());
    return subject && { tenantKey: subject.identity.tenantKey, userId: subject.identity.userId };
  }

  private freshTokens(now: number): FreshTokens {
    const accessToken = newUserAccessToken(now);
    const refreshToken = newRefreshToken(now);
    return {
      accessToken,
      refreshToken,
      hashed: {
        accessTokenHash: storageKey("access_token", accessToken),
        accessExpiresAt: now + Lifetimes.userAccessToken * 1000,
        refreshTokenHash: storageKey("refresh_token", refreshToken),
      },
    };
  }
}

/** How long a read that must not fail is tried again while storage is unavailable (ms). */
const OUTAGE_READ_MS = 4000;

/** Runs `read` until it does not fail with `StorageUnavailableError`, for {@link OUTAGE_READ_MS}. */
async function duringOutage<T>(read: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + OUTAGE_READ_MS;
  for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof StorageUnavailableError) || Date.now() + pause >= deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

/**
 * Awaits a rate-limit count made after the storage outcome is known. Only "over the limit"
 * changes the answer: a storage fault while counting leaves the outcome's own answer (the
 * outcome already committed; a retryable error here would make the client's retry a replay).
 */
async function countAttempt(count: Promise<void> | undefined): Promise<void> {
  try {
    await count;
  } catch (error) {
    if (error instanceof RateLimitedError) throw error;
  }
}

/** The user's profile as an app sees it: identity fields gated by the app's scopes. */
function profile(
  identity: GrantIdentity,
  user: User,
): UserInfoData & { avatar_thumb: string; avatar_middle: string; avatar_big: string } {
  const data: UserInfoData & { avatar_thumb: string; avatar_middle: string; avatar_big: string } = {
    name: user.name,
    en_name: user.enName,
    avatar_url: user.avatarUrl,
    avatar_thumb: user.avatarUrl,
    avatar_middle: user.avatarUrl,
    avatar_big: user.avatarUrl,
    open_id: identity.openId,
    union_id: user.unionId,
    tenant_key: identity.tenantKey,
  };
  if (identity.scopes.includes(Scopes.employeeId)) data.user_id = user.userId;
  if (identity.scopes.includes(Scopes.email) && user.email) data.email = user.email;
  if (identity.scopes.includes(Scopes.phone) && user.mobile) data.mobile = user.mobile;
  return data;
}
