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
  // tokenLoginValidate (mina/v2): HTTP 200 with a non-zero code, as the platform page states.
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
    when: "tokenLoginValidate: the user is outside the app's visibility range, or deactivated",
  },

  // auth/v3 app and tenant tokens.
  InvalidParam: {
    code: 10003,
    msg: "invalid param",
    httpStatus: 400,
    origin: "platform",
    when: "app/tenant token: app_id or app_secret missing or not a string",
  },
  AppSecretInvalid: {
    code: 10014,
    msg: "app secret invalid",
    httpStatus: 400,
    origin: "platform",
    when: "app/tenant token: unknown app_id or wrong app_secret (answered alike)",
  },

  // Bearer tokens on the authen/v1 endpoints.
  MissingAccessToken: {
    code: 99991661,
    msg: "Missing access token for authorization. Please make a request with token attached.",
    httpStatus: 400,
    origin: "platform",
    when: "authen/v1: no Authorization header, or not of the form `Bearer <token>`",
  },
  AppAccessTokenInvalid: {
    code: 99991664,
    msg: "Invalid access token for authorization. Please make a request with token attached.",
    httpStatus: 400,
    origin: "platform",
    when: "authen/v1 refresh: the app_access_token is unknown or expired",
  },
  UserAccessTokenInvalid: {
    code: 99991668,
    msg: "Invalid access token for authorization. Please make a request with token attached.",
    httpStatus: 400,
    origin: "platform",
    when: "user_info: the user_access_token is missing, unknown, expired or revoked",
  },

  // Refresh (authen/v1/refresh_access_token and authen/v1/oidc/refresh_access_token).
  RefreshGrantTypeInvalid: {
    code: 20003,
    msg: "invalid grant_type",
    httpStatus: 400,
    origin: "platform",
    when: "refresh: grant_type is not `refresh_token`",
  },
  RefreshTokenInvalid: {
    code: 20026,
    msg: "refresh token invalid",
    httpStatus: 400,
    origin: "platform",
    when: "refresh: refresh_token missing, malformed, unknown, or issued to another app",
  },
  RefreshTokenExpired: {
    code: 20037,
    msg: "refresh token expired",
    httpStatus: 400,
    origin: "platform",
    when: "refresh: the family's 30-day absolute limit has passed",
  },
  RefreshTokenRevoked: {
    code: 20064,
    msg: "refresh token revoked",
    httpStatus: 400,
    origin: "platform",
    when: "refresh: the grant was revoked (by an admin, by code reuse, or by an earlier replay)",
  },
  RefreshTokenUsed: {
    code: 20073,
    msg: "refresh token has been used",
    httpStatus: 400,
    origin: "platform",
    when: "refresh: a rotated refresh_token presented again; the whole family is revoked",
  },

  // Rate limits and transient failures.
  RateLimited: {
    code: 99991400,
    msg: "request trigger frequency limit",
    httpStatus: 429,
    origin: "platform",
    when: "too many failed attempts for an app, client address or refresh family",
  },
  TemporarilyUnavailable: {
    code: 1500,
    msg: "internal error, please retry",
    httpStatus: 503,
    origin: "platform",
    when: "storage did not answer; nothing was consumed or issued that the reply does not report",
  },

  // HTTP surface: ours, 4xx as the contract asks where the platform publishes nothing.
  MalformedJson: {
    code: 9499,
    msg: "request body is not valid JSON",
    httpStatus: 400,
    origin: "ours",
    when: "any endpoint: the body does not parse as JSON",
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
    when: "any endpoint: body over the limit, counted while streaming (chunked too)",
  },
  RequestTimeout: {
    code: 9408,
    msg: "request timed out",
    httpStatus: 408,
    origin: "ours",
    when: "a client too slow to send its request",
  },
  NotFound: {
    code: 9404,
    msg: "not found",
    httpStatus: 404,
    origin: "ours",
    when: "unknown route, or an unknown resource on the admin API",
  },
  MethodNotAllowed: {
    code: 9405,
    msg: "method not allowed",
    httpStatus: 405,
    origin: "ours",
    when: "a known path with another method",
  },
  InternalError: {
    code: 9500,
    msg: "internal error",
    httpStatus: 500,
    origin: "ours",
    when: "a bug: logged with a correlation id, never echoed",
  },

  // Admin API (/admin/v1): ours.
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
  AdminConflict: {
    code: 9409,
    msg: "already exists",
    httpStatus: 409,
    origin: "ours",
    when: "admin API: creating a resource whose id is taken",
  },
});

export type ErrorName = keyof typeof Errors;

/** The platform's envelope for every failure. */
export interface ErrorEnvelope {
  code: number;
  msg: string;
}
