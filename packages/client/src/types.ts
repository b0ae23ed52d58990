import type { OidcRefreshData, TokenLoginValidateData, UserInfoData } from "@mina-auth/protocol";
import type { TokenCache } from "./token-cache.ts";

/**
 * The subset of `fetch` the client uses; the global `fetch`, undici's or a test double fit.
 *
 * @example
 * ```ts
 * const client = new MinaClient({
 *   appId, appSecret, baseUrl: "lark",
 *   fetch: (url, init) => globalThis.fetch(url, { ...init, keepalive: true }),
 * });
 * ```
 */
export type FetchLike = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    signal: AbortSignal;
  },
) => Promise<FetchResponseLike>;

/**
 * The subset of a fetch `Response` the client reads.
 *
 * @example
 * ```ts
 * const fake: FetchResponseLike = {
 *   status: 200,
 *   headers: new Headers({ "content-type": "application/json" }),
 *   text: async () => JSON.stringify({ code: 0, msg: "ok", app_access_token: "t-1", expire: 7200 }),
 * };
 * ```
 */
export interface FetchResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/**
 * What the logger receives for each HTTP request: never a body, and the Authorization
 * header only masked.
 *
 * @example
 * ```ts
 * const details: RequestLogDetails = {
 *   method: "POST", path: "/open-apis/mina/v2/tokenLoginValidate", status: 200, durationMs: 41,
 *   headers: { authorization: "Bearer ***" }, code: 0,
 * };
 * ```
 */
export interface RequestLogDetails {
  method: string;
  path: string;
  /** HTTP status; absent when no reply arrived. */
  status?: number;
  /** Milliseconds from sending to the parsed reply (or the failure). */
  durationMs: number;
  /** Request headers, with `authorization` masked. */
  headers: Record<string, string>;
  /** The platform's `code`, when the reply carried one. */
  code?: number;
  /** The platform's request id, when present. */
  logId?: string;
  /** The error's class name, when the request failed. */
  error?: string;
}

/**
 * A logger: `console` fits, as does any object with these methods. `debug` gets one line per
 * HTTP request; `warn` (optional) gets token-cache failures and the evict-and-retry event.
 *
 * @example
 * ```ts
 * const client = new MinaClient({ appId, appSecret, logger: console });
 * // or with pino: logger: { debug: (msg, d) => log.debug(d, msg), warn: (msg, d) => log.warn(d, msg) }
 * ```
 */
export interface MinaLogger {
  debug(message: string, details: RequestLogDetails): void;
  warn?(message: string, details: Record<string, unknown>): void;
}

/**
 * Options of {@link MinaClient}.
 *
 * @example
 * ```ts
 * const options: MinaClientOptions = {
 *   appId: process.env.FEISHU_APP_ID!,
 *   appSecret: process.env.FEISHU_APP_SECRET!,
 *   baseUrl: "feishu",
 *   timeoutMs: 5000,
 * };
 * ```
 */
export interface MinaClientOptions {
  /** The app's `app_id` (`cli_…`). */
  appId: string;
  /** The app's `app_secret`. Never logged, never put in an error. */
  appSecret: string;
  /**
   * `"feishu"` (https://open.feishu.cn, the default), `"lark"` (https://open.larksuite.com),
   * or the URL of a compatible server such as mina-auth (`http://127.0.0.1:8787`). A path
   * prefix is kept: `https://proxy.example/feishu` calls `https://proxy.example/feishu/open-apis/…`.
   */
  baseUrl?: "feishu" | "lark" | (string & {});
  /** The fetch to use; defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** Time limit for each HTTP request, in milliseconds (default 10000). */
  timeoutMs?: number;
  /** Receives one `debug` line per request, without secrets. */
  logger?: MinaLogger;
  /** Where the app_access_token is cached (default: in this process's memory). */
  tokenCache?: TokenCache;
  /**
   * For a store (marketplace) app: returns the latest `app_ticket` the platform pushed to the
   * app's event URL (read it with `readPushedEvent`), or undefined while none has arrived. With
   * it the client gets its app_access_token from `auth/v3/app_access_token` with the ticket;
   * when there is none yet, or the platform answers 10012 (a wrong or stale ticket), it asks for
   * a new push (`app_ticket/resend`) and the call fails with code 10012: retry once it arrives.
   */
  appTicket?: AppTicketSource;
}

/**
 * Where a store app's client reads the current app_ticket.
 *
 * @example
 * ```ts
 * let latest: string | undefined; // set by your event URL handler
 * const appTicket: AppTicketSource = () => latest;
 * ```
 */
export type AppTicketSource = () => string | undefined | Promise<string | undefined>;

/**
 * Per-call options.
 *
 * @example
 * ```ts
 * await client.getUserInfo(token, { signal: AbortSignal.timeout(2000) });
 * ```
 */
export interface RequestOptions {
  /** Aborts the call: it then rejects with a `MinaTimeoutError` whose reason is `"aborted"`. */
  signal?: AbortSignal;
  /**
   * Overrides the client's `timeoutMs` for this call's own requests (a shared app-token fetch
   * keeps the client's).
   */
  timeoutMs?: number;
}

/** Options of {@link MinaClient.exchangeCode}. */
export interface ExchangeCodeOptions extends RequestOptions {
  /**
   * Where the code is redeemed: `"oidc"` (default) is `POST /open-apis/authen/v1/oidc/access_token`
   * with the app token, as Feishu's mini-program login guide does after `tt.requestAccess`;
   * `"v2"` is the OAuth 2.0 token endpoint `POST /open-apis/authen/v2/oauth/token`, with the app
   * secret in the body.
   */
  door?: "oidc" | "v2";
  /** RFC 7636: the verifier of a code issued with a `code_challenge` (the `"v2"` door only). */
  codeVerifier?: string;
}

/**
 * The result of {@link MinaClient.exchangeCode}: the user's tokens, without their identity
 * (read it with `getUserInfo(accessToken)`).
 *
 * @example
 * ```ts
 * const t: ExchangedTokens = await client.exchangeCode(code);
 * const user = await client.getUserInfo(t.accessToken);
 * ```
 */
export interface ExchangedTokens {
  accessToken: string;
  /**
   * Absent from the `"v2"` door unless the user granted `offline_access`; the `"oidc"` door
   * always sends one.
   */
  refreshToken?: string;
  /** Always `"Bearer"` on the platform. */
  tokenType: string;
  /** When accessToken expires. */
  expiresAt: Date;
  /** When refreshToken expires (with refreshToken). */
  refreshExpiresAt?: Date;
  /** Space-separated scopes the user granted. */
  scope: string;
  /** The platform's answer (`data` of the `"oidc"` door, the body of `"v2"`), untouched. */
  raw: Record<string, unknown>;
}

/**
 * `data` of tokenLoginValidate as the platform sends it.
 *
 * @example
 * ```ts
 * const raw: RawTokenLoginValidateData = {
 *   open_id: "ou_…", session_key: "…", tenant_key: "2c5914ac018f97",
 *   access_token: "u-…", expires_in: 1565512680, refresh_token: "ur-…",
 * };
 * ```
 */
export interface RawTokenLoginValidateData extends TokenLoginValidateData {
  [field: string]: unknown;
}

/**
 * The result of {@link MinaClient.tokenLoginValidate}.
 *
 * @example
 * ```ts
 * const s: LoginSession = await client.tokenLoginValidate(code);
 * s.openId; s.expiresAt.toISOString();
 * ```
 */
export interface LoginSession {
  /** The user's id within this app (`ou_…`). */
  openId: string;
  /** The user's tenant-wide user ID; present only with `contact:user.employee_id:readonly`. */
  employeeId?: string;
  /** The session secret shared with the platform: keep it on the server. */
  sessionKey: string;
  /** The user's tenant. */
  tenantKey: string;
  /** The user_access_token (`u-…`). */
  accessToken: string;
  /** When accessToken expires. */
  expiresAt: Date;
  /** The refresh_token (`ur-…`), valid 30 days. */
  refreshToken: string;
  /** The platform's `data` object, untouched. */
  raw: RawTokenLoginValidateData;
}

/**
 * `data` of authen/v1/oidc/refresh_access_token as the platform sends it.
 *
 * @example
 * ```ts
 * const raw: RawRefreshData = {
 *   access_token: "u-…", refresh_token: "ur-…", token_type: "Bearer",
 *   expires_in: 6900, refresh_expires_in: 2591999, scope: "contact:user.employee_id:readonly",
 * };
 * ```
 */
export interface RawRefreshData extends Omit<OidcRefreshData, "token_type" | "scope"> {
  /** `"Bearer"` on the platform; read as any string so that a change there does not break callers. */
  token_type: string;
  /** Space-separated scopes, when the platform sends them. */
  scope?: string;
  [field: string]: unknown;
}

/**
 * The result of {@link MinaClient.refreshUserAccessToken}. The refresh token rotates: use
 * `refreshToken` from here next time; the old one no longer works.
 *
 * @example
 * ```ts
 * const r: RefreshedTokens = await client.refreshUserAccessToken(session.refreshToken);
 * await db.saveTokens(r.accessToken, r.refreshToken, r.refreshExpiresAt);
 * ```
 */
export interface RefreshedTokens {
  accessToken: string;
  refreshToken: string;
  /** Always `"Bearer"` on the platform. */
  tokenType: string;
  /** When accessToken expires. */
  expiresAt: Date;
  /** When refreshToken expires. */
  refreshExpiresAt: Date;
  /** Space-separated scopes granted, when the platform sends them. */
  scope?: string;
  /** The platform's `data` object, untouched. */
  raw: RawRefreshData;
}

/**
 * `data` of authen/v1/user_info as the platform sends it.
 *
 * @example
 * ```ts
 * const raw: RawUserInfoData = {
 *   name: "Zhang San", en_name: "San Zhang", avatar_url: "https://…", open_id: "ou_…",
 *   union_id: "on_…", tenant_key: "2c5914ac018f97",
 * };
 * ```
 */
export interface RawUserInfoData extends UserInfoData {
  [field: string]: unknown;
}

/**
 * The result of {@link MinaClient.getUserInfo}.
 *
 * @example
 * ```ts
 * const u: UserInfo = await client.getUserInfo(session.accessToken);
 * console.log(u.name, u.unionId);
 * ```
 */
export interface UserInfo {
  /** The user's id within this app (`ou_…`). */
  openId: string;
  /** The user's id across the developer's apps (`on_…`). */
  unionId: string;
  tenantKey: string;
  name: string;
  enName: string;
  avatarUrl: string;
  /** Present only with `contact:user.employee_id:readonly`. */
  userId?: string;
  /** Present only with `contact:user.email:readonly`. */
  email?: string;
  /** Present only with `contact:user.phone:readonly`. */
  mobile?: string;
  /** The platform's `data` object, untouched. */
  raw: RawUserInfoData;
}
