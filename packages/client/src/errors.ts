/**
 * Errors the client rejects with, and the platform's documented codes.
 *
 * Three outcomes are kept apart on purpose: the platform answered with a non-zero `code`
 * ({@link MinaApiError}); no usable answer arrived ({@link MinaTransportError}); the call ran
 * out of time or was aborted ({@link MinaTimeoutError}). None of them ever carries a secret,
 * token, login code or session key in its message or fields.
 */

import { type ErrorName, Errors, PlatformOnlyCodes } from "@mina-auth/protocol";

/** The registry's codes the client may meet: all but the admin API's, which is not the client's. */
type ClientRegistryName = Exclude<ErrorName, `Admin${string}`>;

/** Name → number for every non-admin entry of the registry, typed with the literal numbers. */
type RegistryCodes = { readonly [K in ClientRegistryName]: (typeof Errors)[K]["code"] };

function registryCodes(): RegistryCodes {
  const codes: Record<string, number> = {};
  for (const [name, definition] of Object.entries(Errors)) {
    if (!name.startsWith("Admin")) codes[name] = definition.code;
  }
  return codes as RegistryCodes;
}

/**
 * The platform's codes, by name: every code mina-auth's registry answers with (the admin API's
 * aside) and the gateway codes only the platform sends, both from the protocol package, so
 * client and server cannot drift apart. See the main README's table for when each is answered.
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
export const ErrorCodes = { ...registryCodes(), ...PlatformOnlyCodes } as const;

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
