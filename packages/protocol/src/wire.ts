/**
 * Wire shapes of the platform-compatible endpoints (contract §2), exactly as they travel.
 * snake_case on purpose: these are the platform's field names.
 */

export const Paths = {
  appAccessToken: "/open-apis/auth/v3/app_access_token/internal",
  tenantAccessToken: "/open-apis/auth/v3/tenant_access_token/internal",
  tokenLoginValidate: "/open-apis/mina/v2/tokenLoginValidate",
  refreshAccessToken: "/open-apis/authen/v1/refresh_access_token",
  oidcRefreshAccessToken: "/open-apis/authen/v1/oidc/refresh_access_token",
  userInfo: "/open-apis/authen/v1/user_info",
  /** The OIDC door for a login code (oauth-wire.ts). */
  oidcAccessToken: "/open-apis/authen/v1/oidc/access_token",
  /** The OAuth 2.0 token endpoint, RFC 6749 shaped (oauth-wire.ts). */
  oauthToken: "/open-apis/authen/v2/oauth/token",
  /** A store app's app_access_token, against the app_ticket the platform pushed it. */
  storeAppAccessToken: "/open-apis/auth/v3/app_access_token",
  /** A store app's tenant_access_token for one tenant it is installed in. */
  storeTenantAccessToken: "/open-apis/auth/v3/tenant_access_token",
  /** Asks the platform to push the app_ticket again now. */
  appTicketResend: "/open-apis/auth/v3/app_ticket/resend",
} as const;

export interface AppCredentialsRequest {
  app_id: string;
  app_secret: string;
}

export interface AppAccessTokenResponse {
  code: 0;
  msg: "ok";
  app_access_token: string;
  /** Seconds left before the token expires. */
  expire: number;
  /** A self-built app's tenant_access_token too, as the internal endpoint's page documents. */
  tenant_access_token?: string;
}

/** POST auth/v3/app_access_token (store apps). */
export interface StoreAppAccessTokenRequest extends AppCredentialsRequest {
  /** The latest app_ticket the platform pushed to the app's event URL. */
  app_ticket: string;
}

/** POST auth/v3/tenant_access_token (store apps). */
export interface StoreTenantAccessTokenRequest {
  app_access_token: string;
  tenant_key: string;
}

/**
 * The `app_ticket` event as the platform pushes it (schema 1.0), to the app's event URL: in the
 * clear, or as `{"encrypt": base64(iv ‖ AES-256-CBC(body))}` under SHA-256(Encrypt Key).
 */
export interface AppTicketEvent {
  uuid: string;
  /** The app's Verification Token. */
  token: string;
  /** Unix seconds with a fraction, as text. */
  ts: string;
  type: "event_callback";
  event: { app_id: string; app_ticket: string; type: "app_ticket" };
}

export interface TenantAccessTokenResponse {
  code: 0;
  msg: "ok";
  tenant_access_token: string;
  expire: number;
}

export interface TokenLoginValidateRequest {
  code: string;
}

export interface TokenLoginValidateData {
  open_id: string;
  /** Present only when the app holds `contact:user.employee_id:readonly`. */
  employee_id?: string;
  session_key: string;
  tenant_key: string;
  access_token: string;
  /** Expiry of access_token as a Unix timestamp in seconds (as the platform page documents). */
  expires_in: number;
  refresh_token: string;
}

export interface TokenLoginValidateResponse {
  code: 0;
  msg: "success";
  data: TokenLoginValidateData;
}

export interface RefreshRequest {
  grant_type: "refresh_token";
  refresh_token: string;
}

export interface RefreshData {
  access_token: string;
  refresh_token: string;
  token_type: "Bearer";
  /** Seconds the new access token lives. */
  expires_in: number;
  /** Seconds left in the refresh family (30 days after login at most). */
  refresh_expires_in: number;
}

/** authen/v1/refresh_access_token also carries the user's identity. */
export interface LegacyRefreshData extends RefreshData {
  open_id: string;
  union_id: string;
  tenant_key: string;
  name: string;
  en_name: string;
  avatar_url: string;
  user_id?: string;
  email?: string;
  mobile?: string;
}

export interface OidcRefreshData extends RefreshData {
  scope: string;
}

export interface UserInfoData {
  name: string;
  en_name: string;
  avatar_url: string;
  open_id: string;
  union_id: string;
  tenant_key: string;
  /** Present only with `contact:user.employee_id:readonly`. */
  user_id?: string;
  /** Present only with `contact:user.email:readonly`. */
  email?: string;
  /** Present only with `contact:user.phone:readonly`. */
  mobile?: string;
}

export interface SuccessEnvelope<T> {
  code: 0;
  msg: "success";
  data: T;
}

/** Scopes that gate identity fields. */
export const Scopes = {
  employeeId: "contact:user.employee_id:readonly",
  email: "contact:user.email:readonly",
  phone: "contact:user.phone:readonly",
  /** The v2 token endpoint hands out a refresh_token only to a login granted this. */
  offlineAccess: "offline_access",
} as const;

/** Lifetimes fixed by the platform (seconds). */
export const Lifetimes = {
  appToken: 7200,
  /** An app/tenant token with less than this left is replaced on the next request. */
  appTokenReissueBelow: 1800,
  loginCode: 180,
  userAccessToken: 6900,
  refreshFamily: 30 * 24 * 3600,
  /** Ours: an app_ticket is accepted this long; a new one is pushed every hour. */
  appTicket: 7200,
  /** The platform pushes a store app a new app_ticket every hour. */
  appTicketPushInterval: 3600,
} as const;
