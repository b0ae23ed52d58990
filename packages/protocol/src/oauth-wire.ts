/**
 * Wire shapes of the two newer doors a login code can be redeemed at (besides
 * tokenLoginValidate): the OIDC exchange of authen/v1 and the OAuth 2.0 token endpoint of
 * authen/v2. snake_case on purpose: these are the platform's field names.
 */
import type { OidcRefreshData } from "./wire.ts";

/** `POST /open-apis/authen/v1/oidc/access_token`, with `Authorization: Bearer <app_access_token>`. */
export interface OidcAccessTokenRequest {
  grant_type: "authorization_code";
  code: string;
}

/** Its `data`: the same fields as the OIDC refresh answers. */
export type OidcAccessTokenData = OidcRefreshData;

/** `POST /open-apis/authen/v2/oauth/token`, the authorization_code grant (RFC 6749 §4.1.3). */
export interface OAuthCodeGrantRequest {
  grant_type: "authorization_code";
  client_id: string;
  client_secret: string;
  code: string;
  /** Accepted; a login code from a mini program carries none to compare with. */
  redirect_uri?: string;
  /** RFC 7636: required when the code was issued with a challenge. */
  code_verifier?: string;
  /** Accepted; the answer reports the scopes the code was granted. */
  scope?: string;
}

/** The refresh_token grant (RFC 6749 §6): each refresh token is usable once. */
export interface OAuthRefreshGrantRequest {
  grant_type: "refresh_token";
  client_id: string;
  client_secret: string;
  refresh_token: string;
  /** Accepted; the answer reports the scopes the login was granted. */
  scope?: string;
}

export type OAuthTokenRequest = OAuthCodeGrantRequest | OAuthRefreshGrantRequest;

/** Its success answer: flat, no `msg`, no `data`. */
export interface OAuthTokenResponse {
  code: 0;
  access_token: string;
  /** Seconds the access token lives. */
  expires_in: number;
  /** Only when the login was granted `offline_access`. */
  refresh_token?: string;
  /** Seconds left in the refresh family; only with `refresh_token`. */
  refresh_token_expires_in?: number;
  token_type: "Bearer";
  /** Space-separated scopes in force. */
  scope: string;
}

/** Its failure answer (HTTP 400, 500 or 503): no `msg`. */
export interface OAuthErrorResponse {
  code: number;
  /** RFC 6749 §5.2 error: `invalid_request`, `invalid_client`, `invalid_grant`, … */
  error: string;
  error_description: string;
}
