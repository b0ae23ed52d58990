/**
 * The one registry of error codes mina-auth answers with: the platform's numbers where the
 * platform documents them (see docs/platform-codes.md for sources), and the project's own
 * where it does not. Every failure leaves the server as `{code, msg}` built from an entry here,
 * so docs, server and client cannot drift apart (a test keeps README and registry in step).
 */
export interface ErrorDefinition {
  /** Numeric code carried in the `{code, msg}` envelope. */
  readonly code: number;
  /** Public message: safe to show a caller, never carries request data. */
  readonly msg: string;
  /** HTTP status sent with the envelope. */
  readonly httpStatus: number;
  /** `platform` when Feishu/Lark answer with this code, `ours` when mina-auth chose it. */
  readonly origin: "platform" | "ours";
  /** When it is answered. */
  readonly when: string;
}

function define<const T extends Record<string, ErrorDefinition>>(registry: T): T {
  return registry;
}

export const Errors = define({
  AccessTokenInvalid: {
    code: 10202,
    msg: "access token invalid",
    httpStatus: 200,
    origin: "platform",
    when: "tokenLoginValidate: the app_access_token is missing, malformed, unknown or expired",
  },
  CodeAppIdNotMatch: {
    code: 10213,
    msg: "code appid not match",
    httpStatus: 200,
    origin: "platform",
    when: "tokenLoginValidate: the code was issued to another app, or was already used",
  },
  InvalidCode: {
    code: 10226,
    msg: "invalid code",
    httpStatus: 200,
    origin: "platform",
    when: "tokenLoginValidate: the code is missing, malformed, unknown or expired",
  },
  UserNoVisibility: {
    code: 10228,
    msg: "user to app has no visibility",
    httpStatus: 200,
    origin: "platform",
    when: "tokenLoginValidate: the user is deactivated or outside the app's visibility range",
  },
  InvalidParam: {
    code: 10003,
    msg: "invalid param",
    httpStatus: 200,
    origin: "platform",
    when: "app/tenant token: app_id or app_secret missing, not a string, or an unknown app_id; a store app at the `/internal` endpoints (its tokens take an app_ticket)",
  },
  AppSecretInvalid: {
    code: 10014,
    msg: "app secret invalid",
    httpStatus: 200,
    origin: "platform",
    when: "app/tenant token: wrong app_secret",
  },
  AppTicketInvalid: {
    code: 10012,
    msg: "app ticket invalid",
    httpStatus: 200,
    origin: "platform",
    when: "store app_access_token: the app_ticket is not one pushed to this app, or it is older than 2 hours",
  },
  TenantAccessTokenFailed: {
    code: 10013,
    msg: "get tenant access token fail",
    httpStatus: 200,
    origin: "platform",
    when: "store tenant_access_token: the app_access_token is unknown, expired or not a store app's, or the app is not installed in tenant_key",
  },
  MissingAccessToken: {
    code: 99991661,
    msg: "Missing access token for authorization. Please make a request with token attached.",
    httpStatus: 400,
    origin: "platform",
    when: "user_info: no Authorization header, or not exactly `Bearer <token>`",
  },
  UserAccessTokenInvalid: {
    code: 99991668,
    msg: "Invalid access token for authorization. Please make a request with token attached.",
    httpStatus: 400,
    origin: "platform",
    when: "user_info: the user_access_token is unknown, expired or revoked",
  },
  UserFrozen: {
    code: 20022,
    msg: "User frozen",
    httpStatus: 200,
    origin: "platform",
    when: "user_info and refresh: the user has been deactivated",
  },
  RefreshBadRequest: {
    code: 20001,
    msg: "Invalid request. Please check request param",
    httpStatus: 200,
    origin: "platform",
    when: "refresh: refresh_token missing or not a string; oidc/access_token: code or grant_type missing or not a string",
  },
  RefreshAppTokenInvalid: {
    code: 20014,
    msg: "The app access token passed is invalid. Please check the value",
    httpStatus: 200,
    origin: "platform",
    when: "refresh and oidc/access_token: the app_access_token in the header is missing, unknown or expired",
  },
  RefreshGrantTypeInvalid: {
    code: 20036,
    msg: "The grant_type passed is not supported",
    httpStatus: 200,
    origin: "platform",
    when: "refresh: grant_type is not `refresh_token`; oidc/access_token: not `authorization_code`",
  },
  RefreshTokenOtherApp: {
    code: 20024,
    msg: "App id in user_access_token or refresh_token diff with app id in app_access_token or tenant_access_token. Please keep the app id consistent",
    httpStatus: 200,
    origin: "platform",
    when: "refresh: the refresh_token was issued to another app; oidc/access_token: the code was (nothing of that app's is touched)",
  },
  RefreshTokenInvalid: {
    code: 20026,
    msg: "The refresh token passed is invalid. Please check the value",
    httpStatus: 200,
    origin: "platform",
    when: "refresh: refresh_token malformed or unknown",
  },
  RefreshTokenExpired: {
    code: 20037,
    msg: "The refresh token passed has expired. Please generate a new one",
    httpStatus: 200,
    origin: "platform",
    when: "refresh: the family's 30-day absolute limit has passed",
  },
  RefreshTokenReused: {
    code: 20038,
    msg: "The refresh token passed is invalid. Please check the value",
    httpStatus: 200,
    origin: "platform",
    when: "refresh: a rotated refresh_token presented again (ours: the whole family is revoked), or a token of a revoked family",
  },
  OidcCodeNotFound: {
    code: 20003,
    msg: "authorization code is not found",
    httpStatus: 200,
    origin: "platform",
    when: "oidc/access_token: the code is malformed, unknown, already redeemed (at any door), or carries a PKCE challenge (redeemable at v2 oauth/token only)",
  },
  OidcCodeExpired: {
    code: 20004,
    msg: "authorization code has expired",
    httpStatus: 200,
    origin: "platform",
    when: "oidc/access_token: the code expired (3 minutes)",
  },
  OidcUserNoPermission: {
    code: 20010,
    msg: "user has no permission to use this app",
    httpStatus: 200,
    origin: "platform",
    when: "oidc/access_token: the user is deactivated or outside the app's visibility range (the code is consumed)",
  },
  OAuthInvalidRequest: {
    code: 20001,
    msg: "Invalid request. Please check request param",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`invalid_request`): a field missing or of the wrong shape, code_verifier not 43–128 unreserved characters",
  },
  OAuthInvalidClient: {
    code: 20002,
    msg: "The app_id or app_secret passed is incorrect. Please check the value",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`invalid_client`): unknown client_id or wrong client_secret",
  },
  OAuthCodeNotFound: {
    code: 20003,
    msg: "authorization code is not found",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`invalid_grant`): the code is malformed or unknown",
  },
  OAuthCodeExpired: {
    code: 20004,
    msg: "authorization code has expired",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`invalid_grant`): the code expired",
  },
  OAuthUserNoPermission: {
    code: 20010,
    msg: "user has no permission to use this app",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`invalid_grant`): the user is deactivated or outside the app's visibility range",
  },
  OAuthAppMismatch: {
    code: 20024,
    msg: "App id in user_access_token or refresh_token diff with app id in app_access_token or tenant_access_token. Please keep the app id consistent",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`invalid_grant`): the code or refresh_token was issued to another app (nothing of that app's is touched)",
  },
  OAuthRefreshTokenInvalid: {
    code: 20026,
    msg: "The refresh token passed is invalid. Please check the value",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`invalid_grant`): refresh_token malformed or unknown",
  },
  OAuthUnsupportedGrantType: {
    code: 20036,
    msg: "The grant_type passed is not supported",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`unsupported_grant_type`): grant_type is neither `authorization_code` nor `refresh_token`",
  },
  OAuthRefreshTokenExpired: {
    code: 20037,
    msg: "The refresh token passed has expired. Please generate a new one",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`invalid_grant`): the family's 30-day limit has passed",
  },
  OAuthPkceFailed: {
    code: 20049,
    msg: "code_verifier does not match the code_challenge",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`invalid_grant`): the code carries a PKCE challenge and code_verifier is missing or does not match it (the code stays redeemable)",
  },
  OAuthServerError: {
    code: 20050,
    msg: "An unexpected server error occurred. Please retry your request.",
    httpStatus: 500,
    origin: "platform",
    when: "v2 oauth/token (`server_error`): a bug, logged with the request id",
  },
  OAuthCodeUsed: {
    code: 20065,
    msg: "The authorization code has been used. Please note that an authorization code can only be used once.",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`invalid_grant`): the code was already redeemed, at any door (and, by default, what that redemption issued is revoked)",
  },
  OAuthTemporarilyUnavailable: {
    code: 20072,
    msg: "The server is temporarily unavailable. Please retry your request.",
    httpStatus: 503,
    origin: "platform",
    when: "v2 oauth/token (`temporarily_unavailable`): storage did not answer; nothing was consumed, spent or issued",
  },
  OAuthRefreshTokenUsed: {
    code: 20073,
    msg: "The refresh token has been used. Please note that a refresh token can only be used once.",
    httpStatus: 400,
    origin: "platform",
    when: "v2 oauth/token (`invalid_grant`): a spent refresh_token presented again (ours: the whole family is revoked), or a token of a revoked family",
  },
  RateLimited: {
    code: 99991400,
    msg: "request trigger frequency limit",
    httpStatus: 429,
    origin: "platform",
    when: "over a rate limit: wrong app secrets, or token requests, per app; failed redemptions per app or client address; refreshes per family; app_ticket resends per store app",
  },
  StorageUnavailable: {
    code: 1500,
    msg: "internal error, please retry",
    httpStatus: 200,
    origin: "platform",
    when: "auth/v3 and tokenLoginValidate: storage did not answer; nothing was consumed or issued. Platform code; HTTP 200 is ours (security.md S3: storage faults are never 5xx)",
  },
  AuthenSystemError: {
    code: 20050,
    msg: "System error",
    httpStatus: 200,
    origin: "platform",
    when: "refresh and user_info: storage did not answer; nothing was spent or revoked. Platform code; HTTP 200 is ours (S3)",
  },
  RouteNotFound: {
    code: 99991201,
    msg: "resource not find",
    httpStatus: 404,
    origin: "platform",
    when: "an unknown path, or a known path with another method",
  },
  MalformedJson: {
    code: 9499,
    msg: "bad request: body is not valid JSON",
    httpStatus: 400,
    origin: "platform",
    when: "any endpoint: the body does not parse as JSON (9499 is the platform's generic bad-request code)",
  },
  UnsupportedContentType: {
    code: 9415,
    msg: "Content-Type must be application/json",
    httpStatus: 415,
    origin: "ours",
    when: "any endpoint taking a body: another content type",
  },
  BodyTooLarge: {
    code: 9413,
    msg: "request body exceeds 64 KiB",
    httpStatus: 413,
    origin: "ours",
    when: "any endpoint: body over the limit, counted while streaming (chunked too); POST /admin/v1/import has 16 MiB, and its msg says so",
  },
  RequestTimeout: {
    code: 9408,
    msg: "request timed out",
    httpStatus: 408,
    origin: "ours",
    when: "a client too slow to send its request",
  },
  MalformedRequest: {
    code: 9499,
    msg: "bad request: malformed HTTP request",
    httpStatus: 400,
    origin: "platform",
    when: "any path: the request line or headers do not parse, no Host header on HTTP/1.1, bytes after a request that are not a request (the msg says which); the connection is then closed",
  },
  HeadersTooLarge: {
    code: 9431,
    msg: "request headers too large",
    httpStatus: 431,
    origin: "ours",
    when: "any path: the request line and headers exceed 16 KiB (node:http's limit); the connection is then closed",
  },
  ServerBusy: {
    code: 9503,
    msg: "server busy: too many connections, retry",
    httpStatus: 503,
    origin: "ours",
    when: "any path but /healthz: the process holds more open connections than `max_connections`; any path but /open-apis/ while the server stops (msg `server stopping: retry on another instance`); with `Retry-After: 1` and `Connection: close`",
  },
  InternalError: {
    code: 9500,
    msg: "internal error",
    httpStatus: 500,
    origin: "ours",
    when: "a bug: logged with the request id, never echoed",
  },
  OutcomeUnknown: {
    code: 9502,
    msg: "internal error: the outcome is unknown; do not retry with the same code or refresh token",
    httpStatus: 200,
    origin: "ours",
    when: "tokenLoginValidate and refresh: the write may have committed and reading it back failed too, a SQLite commit is visible but its fsync failed, or a refresh rotated and reading its user then failed; no Retry-After. HTTP 200 so that no HTTP-level retry replays the code or token. At authen/v2/oauth/token: HTTP 400 invalid_grant, since an RFC 6749 client reads a 200 as success",
  },
  AdminUnauthorized: {
    code: 9401,
    msg: "admin token missing or invalid",
    httpStatus: 401,
    origin: "ours",
    when: "admin API: no or wrong `Authorization: Bearer <admin token>`",
  },
  AdminInvalidRequest: {
    code: 9400,
    msg: "invalid request",
    httpStatus: 400,
    origin: "ours",
    when: "admin API: a field is missing or of the wrong shape (the msg names it)",
  },
  AdminNotFound: {
    code: 9404,
    msg: "not found",
    httpStatus: 404,
    origin: "ours",
    when: "admin API: unknown app, tenant, user or session",
  },
  AdminConflict: {
    code: 9409,
    msg: "already exists",
    httpStatus: 409,
    origin: "ours",
    when: "admin API: creating a resource whose id is taken",
  },
  AdminToolOff: {
    code: 9412,
    msg: "not enabled on this server",
    httpStatus: 409,
    origin: "ours",
    when: "admin API: a test tool the server was started without (moving the clock needs `--clock manual`, the journal `--journal N`); the msg names the flag",
  },
  // Behind the admin token (the tt shim's dev endpoints), so named with the admin codes: not the client SDK's.
  AdminSessionInvalid: {
    code: 1001001,
    msg: "invalid session",
    httpStatus: 404,
    origin: "platform",
    when: "dev endpoints (the tt shim): the session a code opened is not live (never exchanged, revoked, ended, or its user deactivated); the platform's getUserInfo errno, HTTP 404 is ours",
  },
});

export type ErrorName = keyof typeof Errors;

/** The platform's envelope for every failure. */
export interface ErrorEnvelope {
  code: number;
  msg: string;
}

/**
 * Codes the platform answers that mina-auth never does (docs/platform-codes.md §2, §3): a client
 * talking to Feishu/Lark must still recognise them, so they live here beside the registry rather
 * than in the client. Not in `Errors`: the server never sends them, and the README's table lists
 * what it sends.
 */
export const PlatformOnlyCodes = {
  /** tenant_access_token invalid at the open-apis gateway. */
  TenantAccessTokenInvalid: 99991663,
  /** app_access_token invalid at the open-apis gateway. */
  AppAccessTokenInvalid: 99991664,
  /** Token format wrong: must start with `t-`/`u-`. */
  InvalidTokenFormat: 99991671,
  /** tenant_access_token in the header of authen/v1 invalid (mina-auth answers 20014). */
  RefreshTenantTokenInvalid: 20013,
} as const;
