/**
 * `@mina-auth/client`: a typed, zero-dependency client for the Feishu / Lark mini-program
 * login flow (tokenLoginValidate, refresh, user_info), against the platform or mina-auth.
 *
 * @example
 * ```ts
 * import { MinaClient } from "@mina-auth/client";
 *
 * const client = new MinaClient({ appId, appSecret, baseUrl: "feishu" });
 * const session = await client.tokenLoginValidate(code);
 * ```
 * @packageDocumentation
 */
export { BaseUrls, resolveBaseUrl } from "./base-url.ts";
export { MinaClient } from "./client.ts";
export {
  APP_TOKEN_REJECTED_CODES,
  type ErrorCodeName,
  ErrorCodes,
  MinaApiError,
  type MinaClientError,
  MinaError,
  MinaTimeoutError,
  MinaTransportError,
  type RequestTarget,
} from "./errors.ts";
export {
  type PushedEvent,
  PushedEventError,
  type PushedEventHeaders,
  type ReadPushedEventOptions,
  readPushedEvent,
} from "./pushed-events.ts";
export { type CachedToken, MemoryTokenCache, type TokenCache } from "./token-cache.ts";
export type {
  AppTicketSource,
  ExchangeCodeOptions,
  ExchangedTokens,
  FetchLike,
  FetchResponseLike,
  LoginSession,
  MinaClientOptions,
  MinaLogger,
  RawRefreshData,
  RawTokenLoginValidateData,
  RawUserInfoData,
  RefreshedTokens,
  RequestLogDetails,
  RequestOptions,
  UserInfo,
} from "./types.ts";
export * from "./user-data.ts";
