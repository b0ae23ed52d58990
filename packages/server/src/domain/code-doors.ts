/**
 * The two newer doors a login code can be redeemed at, besides tokenLoginValidate: the OIDC
 * exchange (authen/v1/oidc/access_token) and the OAuth 2.0 token endpoint (authen/v2/oauth/token,
 * both grants). Every door redeems through `LoginService.redeemCode`, i.e. through the storage's
 * one conditional write: a code is consumed by the first door that presents it, and a second
 * redemption at any door is a reuse (with the same revocation rule). Each door only maps the
 * outcome to its own codes.
 */
import { createHash } from "node:crypto";
import {
  type ErrorName,
  Formats,
  Lifetimes,
  type OAuthCodeGrantRequest,
  type OAuthRefreshGrantRequest,
  type OAuthTokenRequest,
  type OAuthTokenResponse,
  type OidcAccessTokenData,
  type OidcAccessTokenRequest,
  Scopes,
} from "@mina-auth/protocol";
import type { Clock } from "../clock.ts";
import { matchesDigest } from "../secrets.ts";
import type {
  AppTokenRecord,
  CatalogueStorage,
  ExchangeOutcome,
  VerifierChallenges,
} from "../storage/port.ts";
import { ApiError } from "./errors.ts";
import { type LoginService, presenterOf, type Redemption } from "./login.ts";
import type { RateLimiter } from "./rate-limits.ts";

/** The v2 success answer after its `code: 0`. */
export type OAuthTokenAnswer = Omit<OAuthTokenResponse, "code">;

type FailedOutcome = Exclude<ExchangeOutcome["kind"], "issued">;

/** oidc/access_token's codes for a code that issued nothing (all HTTP 200). */
const OIDC_FAILURES: Record<FailedOutcome, ErrorName> = {
  invalid: "OidcCodeNotFound",
  expired: "OidcCodeExpired",
  foreign: "RefreshTokenOtherApp",
  reused: "OidcCodeNotFound",
  // A code with a challenge is redeemable only where a code_verifier can be presented (v2).
  pkce_failed: "OidcCodeNotFound",
  not_visible: "OidcUserNoPermission",
};

/** v2 oauth/token's codes for the same outcomes (HTTP 400). */
const OAUTH_FAILURES: Record<FailedOutcome, ErrorName> = {
  invalid: "OAuthCodeNotFound",
  expired: "OAuthCodeExpired",
  foreign: "OAuthAppMismatch",
  reused: "OAuthCodeUsed",
  pkce_failed: "OAuthPkceFailed",
  not_visible: "OAuthUserNoPermission",
};

/** The v1 refresh failures, as the v2 endpoint names them (login.refresh answers the v1 names). */
const OAUTH_REFRESH_FAILURES: Partial<Record<ErrorName, ErrorName>> = {
  RefreshTokenInvalid: "OAuthRefreshTokenInvalid",
  RefreshTokenOtherApp: "OAuthAppMismatch",
  RefreshTokenExpired: "OAuthRefreshTokenExpired",
  RefreshTokenReused: "OAuthRefreshTokenUsed",
  UserFrozen: "OAuthUserNoPermission",
};

export class CodeDoors {
  constructor(
    private readonly login: LoginService,
    private readonly catalogue: Pick<CatalogueStorage, "getApp">,
    private readonly clock: Clock,
    private readonly limiter?: RateLimiter,
  ) {}

  /**
   * Whose login a v2 request is about, for fault rules matching user_id/tenant_key: known before
   * the work only for the refresh_token grant (a code's user is learnt by redeeming it).
   */
  async oauthSubject(request: OAuthTokenRequest): Promise<{ tenantKey: string; userId: string } | null> {
    if (request.grant_type !== "refresh_token") return null;
    return this.login.subjectOfRefreshToken(request.refresh_token);
  }

  /**
   * authen/v1/oidc/access_token, after the app token was accepted and the body's shape checked
   * at the edge (20001, 20036).
   */
  async oidcAccessToken(
    caller: AppTokenRecord,
    { code }: OidcAccessTokenRequest,
    clientAddress: string,
  ): Promise<OidcAccessTokenData> {
    if (!Formats.loginCode.test(code)) throw new ApiError("OidcCodeNotFound");
    const redemption = await this.login.redeemCode(presenterOf(caller), code, clientAddress);
    const { outcome } = redemption;
    if (outcome.kind !== "issued") throw new ApiError(OIDC_FAILURES[outcome.kind]);
    return {
      access_token: redemption.accessToken,
      refresh_token: redemption.refreshToken,
      token_type: "Bearer",
      expires_in: Lifetimes.userAccessToken,
      refresh_expires_in: this.secondsUntil(redemption.familyExpiresAt),
      scope: outcome.identity.scopes.join(" "),
    };
  }

  /** authen/v2/oauth/token, after the body's shape was checked at the edge (20001, 20036). */
  async oauthToken(request: OAuthTokenRequest, clientAddress: string): Promise<OAuthTokenAnswer> {
    await this.authenticateClient(request.client_id, request.client_secret);
    return request.grant_type === "authorization_code"
      ? this.codeGrant(request, clientAddress)
      : this.refreshGrant(request);
  }

  private async codeGrant(request: OAuthCodeGrantRequest, clientAddress: string): Promise<OAuthTokenAnswer> {
    if (!Formats.loginCode.test(request.code)) throw new ApiError("OAuthCodeNotFound");
    const verifier =
      request.code_verifier === undefined ? undefined : verifierChallenges(request.code_verifier);
    const redemption: Redemption = await this.login.redeemCode(
      { appId: request.client_id, tenantKey: null },
      request.code,
      clientAddress,
      verifier,
    );
    const { outcome } = redemption;
    if (outcome.kind !== "issued") throw new ApiError(OAUTH_FAILURES[outcome.kind]);
    return tokenAnswer(
      redemption.accessToken,
      redemption.refreshToken,
      this.secondsUntil(redemption.familyExpiresAt),
      outcome.identity.scopes,
    );
  }

  private async refreshGrant(request: OAuthRefreshGrantRequest): Promise<OAuthTokenAnswer> {
    if (!Formats.refreshToken.test(request.refresh_token)) throw new ApiError("OAuthRefreshTokenInvalid");
    // v2 hands a refresh_token only to a login granted offline_access: a login without it (a
    // tokenLoginValidate or OIDC login, or one whose app lost the scope) is refused here, before
    // the rotation spends the token the caller holds.
    const scopes = await this.login.scopesOfRefreshToken(request.refresh_token);
    if (scopes !== null && !scopes.includes(Scopes.offlineAccess)) {
      throw new ApiError("OAuthRefreshTokenInvalid");
    }
    try {
      const data = await this.login.refresh(
        { appId: request.client_id, tenantKey: null },
        { grant_type: "refresh_token", refresh_token: request.refresh_token },
        "oidc",
      );
      const granted = data.scope === "" ? [] : data.scope.split(" ");
      // Once rotated, the new refresh token is the only one that works: never withheld, even if
      // the scope went between the check above and the rotation.
      return tokenAnswer(data.access_token, data.refresh_token, data.refresh_expires_in, granted, true);
    } catch (error) {
      const renamed = error instanceof ApiError ? OAUTH_REFRESH_FAILURES[error.errorName] : undefined;
      throw renamed === undefined ? error : new ApiError(renamed);
    }
  }

  /** RFC 6749 §2.3.1 with the credentials in the body: the app's id and secret. */
  private async authenticateClient(clientId: string, clientSecret: string): Promise<void> {
    const app = await this.catalogue.getApp(clientId);
    if (app === null) throw new ApiError("OAuthInvalidClient");
    if (!matchesDigest(clientSecret, app.secretHash)) {
      // Counted as on auth/v3: repeated wrong secrets for one app answer 99991400.
      await this.limiter?.failedAppSecret(clientId);
      throw new ApiError("OAuthInvalidClient");
    }
  }

  private secondsUntil(at: number): number {
    return Math.max(0, Math.floor((at - this.clock.now()) / 1000));
  }
}

/** The flat v2 answer; a refresh_token only for a login granted offline_access, or a rotation's. */
function tokenAnswer(
  accessToken: string,
  refreshToken: string,
  refreshSecondsLeft: number,
  scopes: readonly string[],
  rotated = false,
): OAuthTokenAnswer {
  const answer: OAuthTokenAnswer = {
    access_token: accessToken,
    expires_in: Lifetimes.userAccessToken,
    token_type: "Bearer",
    scope: scopes.join(" "),
  };
  if (rotated || scopes.includes(Scopes.offlineAccess)) {
    answer.refresh_token = refreshToken;
    answer.refresh_token_expires_in = refreshSecondsLeft;
  }
  return answer;
}

/** RFC 7636 §4.6: what a code's challenge must be for this verifier, per method. */
export function verifierChallenges(verifier: string): VerifierChallenges {
  return { s256: createHash("sha256").update(verifier).digest("base64url"), plain: verifier };
}
