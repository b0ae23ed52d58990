/**
 * Errors the client rejects with, and the platform's documented codes.
 *
 * Three outcomes are kept apart on purpose: the platform answered with a non-zero `code`
 * ({@link MinaApiError}); no usable answer arrived ({@link MinaTransportError}); the call ran
 * out of time or was aborted ({@link MinaTimeoutError}). None of them ever carries a secret,
 * token, login code or session key in its message or fields.
 */

/**
 * The platform's codes, by name (numbers kept in step with the server's registry by a test).
 *
 * @example
 * ```ts
 * import { ErrorCodes, MinaApiError } from "@mina-auth/client";
 *
 * try {
 *   await client.tokenLoginValidate(code);
 * } catch (err) {
 *   if (err instanceof MinaApiError && err.code === ErrorCodes.CodeAppIdNotMatch) {
 *     // the code was already used, or belongs to another app: ask the mini program to log in again
 *   }
 * }
 * ```
 */
export const ErrorCodes = {
  // tokenLoginValidate (mina/v2), all HTTP 200.
  /** The app_access_token is missing, unknown or expired (the client refetches and retries once). */
  AccessTokenInvalid: 10202,
  /** The code was issued to another app, or was already used. */
  CodeAppIdNotMatch: 10213,
  /** The code is malformed, unknown or expired. */
  InvalidCode: 10226,
  /** The user is outside the app's visibility range. */
  UserNoVisibility: 10228,

  // auth/v3 app_access_token.
  /** app_id missing or unknown. */
  InvalidParam: 10003,
  /** Wrong app_secret. */
  AppSecretInvalid: 10014,

  // Gateway codes on open-apis.
  /** No `Authorization: Bearer <token>` header. */
  MissingAccessToken: 99991661,
  /** tenant_access_token invalid (the client refetches and retries once). */
  TenantAccessTokenInvalid: 99991663,
  /** app_access_token invalid (the client refetches and retries once). */
  AppAccessTokenInvalid: 99991664,
  /** user_access_token unknown, expired or revoked (user_info). */
  UserAccessTokenInvalid: 99991668,
  /** Token format wrong: must start with `t-`/`u-` (the client refetches and retries once). */
  InvalidTokenFormat: 99991671,
  /** Too many requests: slow down. */
  RateLimited: 99991400,
  /** Unknown path (or method). */
  RouteNotFound: 99991201,
  /** Generic bad request, e.g. a body that is not JSON. */
  MalformedJson: 9499,

  // authen/v1 refresh and user_info.
  /** Missing or malformed request parameter. */
  RefreshBadRequest: 20001,
  /** tenant_access_token in the header invalid (the client refetches and retries once). */
  RefreshTenantTokenInvalid: 20013,
  /** app_access_token in the header invalid (the client refetches and retries once). */
  RefreshAppTokenInvalid: 20014,
  /** The user has been deactivated. */
  UserFrozen: 20022,
  /** The refresh_token was issued to another app. */
  RefreshTokenOtherApp: 20024,
  /** The refresh_token is malformed or unknown. */
  RefreshTokenInvalid: 20026,
  /** `grant_type` is not `refresh_token`. */
  RefreshGrantTypeInvalid: 20036,
  /** The refresh_token's 30 days have passed. */
  RefreshTokenExpired: 20037,
  /** A rotated refresh_token presented again (mina-auth also revokes the whole family). */
  RefreshTokenReused: 20038,
  /** The authen service failed; retry later. */
  AuthenSystemError: 20050,

  // Transient.
  /** Internal error; retry later. */
  StorageUnavailable: 1500,

  // mina-auth's own HTTP-surface codes.
  /** Content-Type is not application/json. */
  UnsupportedContentType: 9415,
  /** Body over 64 KiB. */
  BodyTooLarge: 9413,
  /** The request was too slow to arrive. */
  RequestTimeout: 9408,
  /** A server bug (never echoes internals). */
  InternalError: 9500,
} as const;

/**
 * A name of {@link ErrorCodes}.
 *
 * @example
 * ```ts
 * const name: ErrorCodeName = "InvalidCode";
 * ErrorCodes[name]; // 10226
 * ```
 */
export type ErrorCodeName = keyof typeof ErrorCodes;

/**
 * Codes meaning "the app token you sent is not valid": the client drops its cached
 * app_access_token, fetches a new one and retries the call once (as the official SDKs do).
 *
 * @example
 * ```ts
 * APP_TOKEN_REJECTED_CODES.has(err.code); // true for 10202, 20014, 99991664, …
 * ```
 */
export const APP_TOKEN_REJECTED_CODES: ReadonlySet<number> = new Set<number>([
  ErrorCodes.AccessTokenInvalid,
  ErrorCodes.MissingAccessToken,
  ErrorCodes.TenantAccessTokenInvalid,
  ErrorCodes.AppAccessTokenInvalid,
  ErrorCodes.InvalidTokenFormat,
  ErrorCodes.RefreshTenantTokenInvalid,
  ErrorCodes.RefreshAppTokenInvalid,
]);

/**
 * Where a request went: method and path only (never a query, body or header).
 *
 * @example
 * ```ts
 * const where: RequestTarget = { method: "POST", path: "/open-apis/mina/v2/tokenLoginValidate" };
 * ```
 */
export interface RequestTarget {
  method: string;
  path: string;
}

/**
 * Base class of every error the client throws on purpose; `name` discriminates the kind.
 *
 * @example
 * ```ts
 * if (err instanceof MinaError) console.error(err.name, err.method, err.path);
 * ```
 */
export abstract class MinaError extends Error {
  abstract override readonly name: "MinaApiError" | "MinaTransportError" | "MinaTimeoutError";
  /** HTTP method of the request that failed. */
  readonly method: string;
  /** Path of the request that failed (no query string, no secrets). */
  readonly path: string;

  constructor(message: string, target: RequestTarget, options?: { cause?: unknown }) {
    super(message, options);
    this.method = target.method;
    this.path = target.path;
  }
}

/**
 * The platform answered with a non-zero `code`.
 *
 * @example
 * ```ts
 * try {
 *   await client.tokenLoginValidate(code);
 * } catch (err) {
 *   if (err instanceof MinaApiError) {
 *     console.warn(err.code, err.msg, err.httpStatus, err.logId); // 10226 "invalid code" 200 "2024…"
 *   }
 * }
 * ```
 */
export class MinaApiError extends MinaError {
  override readonly name = "MinaApiError" as const;
  /** The platform's error code, e.g. 10213 (see {@link ErrorCodes}). */
  readonly code: number;
  /** The platform's message (any secret the client sent is masked out). */
  readonly msg: string;
  /** HTTP status of the answer (the platform answers many errors with 200). */
  readonly httpStatus: number;
  /** The platform's request id (`error.log_id` in the body, or the `X-Tt-Logid` header). */
  readonly logId: string | undefined;

  constructor(
    fields: { code: number; msg: string; httpStatus: number; logId?: string | undefined },
    target: RequestTarget,
  ) {
    const id = fields.logId ? `, log_id ${fields.logId}` : "";
    super(
      `${target.method} ${target.path} failed: ${fields.msg || "(no msg)"} (code ${fields.code}, HTTP ${fields.httpStatus}${id})`,
      target,
    );
    this.code = fields.code;
    this.msg = fields.msg;
    this.httpStatus = fields.httpStatus;
    this.logId = fields.logId;
  }
}

/**
 * No usable platform answer: the network failed, or the reply was not the platform's JSON
 * envelope (then `httpStatus` says what came back).
 *
 * @example
 * ```ts
 * if (err instanceof MinaTransportError) {
 *   console.warn("login service unreachable", err.httpStatus ?? "no response");
 * }
 * ```
 */
export class MinaTransportError extends MinaError {
  override readonly name = "MinaTransportError" as const;
  /** HTTP status when a reply arrived but could not be used; undefined on network failure. */
  readonly httpStatus: number | undefined;
  /** The platform's request id, when the reply carried an `X-Tt-Logid` header. */
  readonly logId: string | undefined;

  constructor(
    message: string,
    target: RequestTarget,
    fields: { httpStatus?: number | undefined; logId?: string | undefined; cause?: unknown } = {},
  ) {
    super(message, target, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.httpStatus = fields.httpStatus;
    this.logId = fields.logId;
  }
}

/**
 * The call took longer than `timeoutMs` (`reason: "timeout"`) or its `signal` was aborted
 * (`reason: "aborted"`). A timed-out call may still have reached the platform.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * setTimeout(() => ac.abort(), 1000);
 * try {
 *   await client.tokenLoginValidate(code, { signal: ac.signal });
 * } catch (err) {
 *   if (err instanceof MinaTimeoutError) console.warn(err.reason); // "aborted"
 * }
 * ```
 */
export class MinaTimeoutError extends MinaError {
  override readonly name = "MinaTimeoutError" as const;
  /** `"timeout"`: `timeoutMs` elapsed; `"aborted"`: the caller's signal fired. */
  readonly reason: "timeout" | "aborted";

  constructor(reason: "timeout" | "aborted", target: RequestTarget, timeoutMs?: number) {
    super(
      reason === "timeout"
        ? `${target.method} ${target.path} timed out after ${timeoutMs} ms`
        : `${target.method} ${target.path} was aborted`,
      target,
    );
    this.reason = reason;
  }
}

/**
 * Any error the client throws on purpose, discriminated by `name`.
 *
 * @example
 * ```ts
 * function describe(err: MinaClientError): string {
 *   switch (err.name) {
 *     case "MinaApiError": return `platform said ${err.code}`;
 *     case "MinaTransportError": return "network";
 *     case "MinaTimeoutError": return err.reason;
 *   }
 * }
 * ```
 */
export type MinaClientError = MinaApiError | MinaTransportError | MinaTimeoutError;
