import { Paths } from "@mina-auth/protocol";
import { AppTokenSource } from "./app-token-source.ts";
import { resolveBaseUrl } from "./base-url.ts";
import {
  APP_TOKEN_REJECTED_CODES,
  ErrorCodes,
  MinaApiError,
  MinaTransportError,
  type RequestTarget,
} from "./errors.ts";
import {
  expiryFromSeconds,
  expiryFromTimestampOrSeconds,
  FieldReader,
  isObject,
  type JsonObject,
} from "./internal/fields.ts";
import { platformRequest, type Reply } from "./platform-request.ts";
import { MemoryTokenCache } from "./token-cache.ts";
import type {
  ExchangeCodeOptions,
  ExchangedTokens,
  FetchLike,
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

const DEFAULT_TIMEOUT_MS = 10_000;
/** A store tenant token refused (10013): perhaps the app token it was asked with went stale. */
const TENANT_TOKEN_REFUSED_CODES: ReadonlySet<number> = new Set([ErrorCodes.TenantAccessTokenFailed]);
/** Tenants remembered as refusing the current app token (getTenantAccessToken). */
const REFUSED_TENANTS_KEPT = 64;
/** What may travel in an `Authorization: Bearer` header: visible ASCII, no spaces. */
const BEARER_SAFE = /^[\x21-\x7e]+$/;

function requireString(value: unknown, name: string, bearer = false): string {
  // The value itself never appears in the message: it may be a secret.
  if (typeof value !== "string" || value === "") throw new TypeError(`${name} must be a non-empty string`);
  if (bearer && !BEARER_SAFE.test(value)) throw new TypeError(`${name} must be visible ASCII without spaces`);
  return value;
}

/**
 * A client for the Feishu / Lark mini-program login flow, against the platform or any
 * compatible server (such as mina-auth). It fetches and caches the app_access_token itself:
 * one fetch for concurrent callers, reused until 3 minutes before it expires, dropped and
 * refetched (and the call retried once) when the platform rejects it.
 *
 * @example
 * ```ts
 * import { MinaClient, MinaApiError, ErrorCodes } from "@mina-auth/client";
 *
 * const client = new MinaClient({ appId: "cli_a1b2c3d4e5f6a7b8", appSecret, baseUrl: "feishu" });
 * const s = await client.tokenLoginValidate(code);         // the code from tt.login
 * const r = await client.refreshUserAccessToken(s.refreshToken);
 * const u = await client.getUserInfo(r.accessToken);
 * console.log(u.name, u.unionId);
 * ```
 */
export class MinaClient {
  /** The app's `app_id`. */
  readonly appId: string;
  /** The resolved base URL, e.g. `https://open.feishu.cn`. */
  readonly baseUrl: string;
  /** Time limit per HTTP request, in milliseconds. */
  readonly timeoutMs: number;
  readonly #appSecret: string;
  readonly #fetch: FetchLike;
  readonly #logger: MinaLogger | undefined;
  /** The one app-token load in progress, shared by concurrent callers, and the rejected token it replaces. */
  readonly #appTokens: AppTokenSource;
  /**
   * "tenant app token" pairs the platform refused (10013) even after the token was replaced:
   * the tenant is the reason, so the token is not suspected again for it. Bounded; oldest first.
   */
  readonly #refusedTenants = new Set<string>();

  constructor(options: MinaClientOptions) {
    if (!isObject(options)) throw new TypeError("MinaClient needs an options object");
    this.appId = requireString(options.appId, "appId");
    this.#appSecret = requireString(options.appSecret, "appSecret");
    this.baseUrl = resolveBaseUrl(options.baseUrl);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new TypeError("timeoutMs must be a positive number");
    this.timeoutMs = timeoutMs;
    const fetchImpl = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (typeof fetchImpl !== "function") {
      throw new TypeError("no global fetch: pass the `fetch` option (Node >= 18 has one)");
    }
    this.#fetch = options.fetch ?? ((url, init) => globalThis.fetch(url, init));
    this.#logger = options.logger;
    if (options.appTicket !== undefined && typeof options.appTicket !== "function") {
      throw new TypeError("appTicket must be a function returning the latest app_ticket");
    }
    this.#appTokens = new AppTokenSource({
      appId: this.appId,
      appSecret: this.#appSecret,
      cache: options.tokenCache ?? new MemoryTokenCache(),
      cacheKey: `mina-auth:app_access_token:${this.baseUrl}:${this.appId}`,
      appTicket: options.appTicket,
      request: (target, init, requestOptions) => this.#request(target, init, requestOptions),
      requestAppTicket: () => this.requestAppTicket(),
      warn: (message, details) => this.#warn(message, details),
    });
  }

  /**
   * Asks the platform to push the store app a new `app_ticket` now
   * (`POST /open-apis/auth/v3/app_ticket/resend`); it arrives at the app's event URL.
   *
   * @throws {MinaApiError} e.g. 10014 (wrong app secret).
   * @example
   * ```ts
   * await client.requestAppTicket();
   * ```
   */
  async requestAppTicket(options: RequestOptions = {}): Promise<void> {
    const target = { method: "POST", path: Paths.appTicketResend };
    await this.#request(
      target,
      { body: { app_id: this.appId, app_secret: this.#appSecret }, secrets: [] },
      options,
    );
  }

  /**
   * A store app's tenant_access_token for one tenant it is installed in
   * (`POST /open-apis/auth/v3/tenant_access_token`, with the client's app_access_token).
   *
   * @throws {MinaApiError} 10013 (the app is not installed in that tenant; a cached app token the
   *   platform refused with 10013 is replaced and the call made once more), 10012 (no usable app_ticket).
   * @example
   * ```ts
   * const { token, expiresAt } = await client.getTenantAccessToken(session.tenantKey);
   * ```
   */
  async getTenantAccessToken(
    tenantKey: string,
    options: RequestOptions = {},
  ): Promise<{ token: string; expiresAt: number }> {
    requireString(tenantKey, "tenantKey");
    const target = { method: "POST", path: Paths.storeTenantAccessToken };
    // The platform answers 10013 for an app token it no longer accepts, as for an app not
    // installed in the tenant: a cached token that went stale is dropped and replaced once. When
    // the new token is refused too, the tenant is the reason: that pair is remembered, so the
    // next call for the tenant costs one request, not three, and fills no token limit.
    const pair = (appToken: string) => `${tenantKey} ${appToken}`;
    let sent = "";
    let reply: Reply;
    try {
      reply = await this.#retryingAppToken(
        target,
        options,
        TENANT_TOKEN_REFUSED_CODES,
        (appToken) => {
          sent = appToken;
          return this.#request(
            target,
            { body: { app_access_token: appToken, tenant_key: tenantKey }, secrets: [appToken] },
            options,
          );
        },
        (appToken) => !this.#refusedTenants.has(pair(appToken)),
      );
    } catch (err) {
      if (err instanceof MinaApiError && TENANT_TOKEN_REFUSED_CODES.has(err.code) && sent !== "") {
        if (this.#refusedTenants.size >= REFUSED_TENANTS_KEPT) {
          this.#refusedTenants.delete(this.#refusedTenants.values().next().value as string);
        }
        this.#refusedTenants.add(pair(sent));
      }
      throw err;
    }
    const fields = new FieldReader(reply.body, target, reply.status, "", reply.logId);
    const token = fields.string("tenant_access_token");
    return { token, expiresAt: reply.sentAt + fields.number("expire") * 1000 };
  }

  /**
   * Exchanges a mini program's login `code` (from `tt.login`) for the user's identity and
   * tokens: `POST /open-apis/mina/v2/tokenLoginValidate`. A code works once.
   *
   * @throws {MinaApiError} e.g. 10213 (other app's or used code), 10226 (invalid code),
   *   10228 (user not in the app's visibility range).
   * @example
   * ```ts
   * app.post("/login", async (req, reply) => {
   *   const s = await client.tokenLoginValidate(req.body.code);
   *   req.session.openId = s.openId;
   *   return { openId: s.openId, expiresAt: s.expiresAt };
   * });
   * ```
   */
  async tokenLoginValidate(code: string, options: RequestOptions = {}): Promise<LoginSession> {
    requireString(code, "code");
    const reply = await this.#withAppToken(Paths.tokenLoginValidate, { code }, [code], options);
    const target = { method: "POST", path: Paths.tokenLoginValidate };
    const data = this.#data(reply, target);
    const employeeId = data.optionalString("employee_id");
    return {
      openId: data.string("open_id"),
      ...(employeeId === undefined ? {} : { employeeId }),
      sessionKey: data.string("session_key"),
      tenantKey: data.string("tenant_key"),
      accessToken: data.string("access_token"),
      expiresAt: expiryFromTimestampOrSeconds(data.number("expires_in"), reply.sentAt),
      refreshToken: data.string("refresh_token"),
      raw: reply.body.data as RawTokenLoginValidateData,
    };
  }

  /**
   * Redeems a login `code` (from `tt.requestAccess` or `tt.login`) for the user's tokens at the
   * OIDC door (`POST /open-apis/authen/v1/oidc/access_token`, default) or at the OAuth 2.0
   * token endpoint (`door: "v2"`, `POST /open-apis/authen/v2/oauth/token`). A code works once,
   * at whichever door comes first (tokenLoginValidate included).
   *
   * @throws {MinaApiError} oidc: 20003 (unknown or used code), 20004 (expired), 20010 (user
   *   may not use the app); v2: 20003, 20004, 20010, 20049 (PKCE), 20065 (used), 20002 (secret).
   * @example
   * ```ts
   * app.post("/login", async (req) => {
   *   const tokens = await client.exchangeCode(req.body.code);
   *   const user = await client.getUserInfo(tokens.accessToken);
   *   return { openId: user.openId };
   * });
   * ```
   */
  async exchangeCode(code: string, options: ExchangeCodeOptions = {}): Promise<ExchangedTokens> {
    requireString(code, "code");
    const { door = "oidc", codeVerifier } = options;
    if (door !== "oidc" && door !== "v2") throw new TypeError('door must be "oidc" or "v2"');
    if (codeVerifier !== undefined) {
      requireString(codeVerifier, "codeVerifier");
      if (door !== "v2") throw new TypeError('codeVerifier needs door: "v2"');
    }
    if (door === "oidc") {
      const reply = await this.#withAppToken(
        Paths.oidcAccessToken,
        { grant_type: "authorization_code", code },
        [code],
        options,
      );
      return exchangedTokens(this.#data(reply, { method: "POST", path: Paths.oidcAccessToken }), reply);
    }
    const target = { method: "POST", path: Paths.oauthToken };
    const body: JsonObject = {
      grant_type: "authorization_code",
      client_id: this.appId,
      client_secret: this.#appSecret,
      code,
      ...(codeVerifier === undefined ? {} : { code_verifier: codeVerifier }),
    };
    const reply = await this.#request(
      target,
      { body, secrets: [code, ...(codeVerifier ? [codeVerifier] : [])] },
      options,
    );
    return exchangedTokens(new FieldReader(reply.body, target, reply.status, "", reply.logId), reply);
  }

  /**
   * Trades a refresh_token for a new user_access_token and a new refresh_token
   * (`POST /open-apis/authen/v1/oidc/refresh_access_token`). The old refresh_token stops
   * working at once: store the new one.
   *
   * @throws {MinaApiError} e.g. 20026 (invalid), 20037 (expired), 20038 (already used).
   * @example
   * ```ts
   * const r = await client.refreshUserAccessToken(stored.refreshToken);
   * await store.save({ accessToken: r.accessToken, refreshToken: r.refreshToken, expiresAt: r.expiresAt });
   * ```
   */
  async refreshUserAccessToken(refreshToken: string, options: RequestOptions = {}): Promise<RefreshedTokens> {
    requireString(refreshToken, "refreshToken");
    const reply = await this.#withAppToken(
      Paths.oidcRefreshAccessToken,
      { grant_type: "refresh_token", refresh_token: refreshToken },
      [refreshToken],
      options,
    );
    const data = this.#data(reply, { method: "POST", path: Paths.oidcRefreshAccessToken });
    const scope = data.optionalString("scope");
    return {
      accessToken: data.string("access_token"),
      refreshToken: data.string("refresh_token"),
      tokenType: data.optionalString("token_type") ?? "Bearer",
      expiresAt: expiryFromSeconds(data.number("expires_in"), reply.sentAt),
      refreshExpiresAt: expiryFromSeconds(data.number("refresh_expires_in"), reply.sentAt),
      ...(scope === undefined ? {} : { scope }),
      raw: reply.body.data as RawRefreshData,
    };
  }

  /**
   * Reads the signed-in user's profile with their user_access_token
   * (`GET /open-apis/authen/v1/user_info`); this is where the Union ID comes from.
   *
   * @throws {MinaApiError} e.g. 99991668 (user token invalid or expired).
   * @example
   * ```ts
   * const u = await client.getUserInfo(session.accessToken);
   * await users.upsert({ unionId: u.unionId, name: u.name, email: u.email });
   * ```
   */
  async getUserInfo(userAccessToken: string, options: RequestOptions = {}): Promise<UserInfo> {
    requireString(userAccessToken, "userAccessToken", true);
    const target = { method: "GET", path: Paths.userInfo };
    const reply = await this.#request(target, { bearer: userAccessToken, secrets: [] }, options);
    const data = this.#data(reply, target);
    const userId = data.optionalString("user_id");
    const email = data.optionalString("email");
    const mobile = data.optionalString("mobile");
    return {
      openId: data.string("open_id"),
      unionId: data.string("union_id"),
      tenantKey: data.string("tenant_key"),
      name: data.looseString("name"),
      enName: data.looseString("en_name"),
      avatarUrl: data.looseString("avatar_url"),
      ...(userId === undefined ? {} : { userId }),
      ...(email === undefined ? {} : { email }),
      ...(mobile === undefined ? {} : { mobile }),
      raw: reply.body.data as RawUserInfoData,
    };
  }

  #data(reply: Reply, target: RequestTarget): FieldReader {
    const data = reply.body.data;
    if (!isObject(data)) {
      throw new MinaTransportError(
        `${target.method} ${target.path} answered HTTP ${reply.status} without a \`data\` object`,
        target,
        { httpStatus: reply.status, logId: reply.logId },
      );
    }
    return new FieldReader(data, target, reply.status, "data.", reply.logId);
  }

  /** A POST authorised by the app token; on a rejected app token: drop it, refetch, retry once. */
  async #withAppToken(
    path: string,
    body: JsonObject,
    secrets: string[],
    options: RequestOptions,
  ): Promise<Reply> {
    const target = { method: "POST", path };
    return this.#retryingAppToken(target, options, APP_TOKEN_REJECTED_CODES, (token) =>
      this.#request(target, { bearer: token, body, secrets }, options),
    );
  }

  /**
   * Sends with the cached app token; when the answer says that token is not valid (one of
   * `rejectedCodes`, and `mayBeStale` agrees), drops it, fetches a new one and sends once more, as
   * the official SDKs do.
   */
  async #retryingAppToken(
    target: RequestTarget,
    options: RequestOptions,
    rejectedCodes: ReadonlySet<number>,
    send: (appToken: string) => Promise<Reply>,
    mayBeStale: (appToken: string) => boolean = () => true,
  ): Promise<Reply> {
    const token = await this.#appTokens.token(undefined, options.signal, target);
    try {
      return await send(token);
    } catch (err) {
      if (!(err instanceof MinaApiError && rejectedCodes.has(err.code) && mayBeStale(token))) throw err;
      this.#warn("app_access_token rejected: dropping it, fetching a new one and retrying once", {
        method: target.method,
        path: target.path,
        code: err.code,
        logId: err.logId,
      });
      const fresh = await this.#appTokens.token(token, options.signal, target);
      return await send(fresh);
    }
  }

  /** One HTTP exchange: platform envelope in, MinaApiError / transport / timeout errors out. */
  #request(
    target: RequestTarget,
    init: { bearer?: string; body?: JsonObject; secrets: string[] },
    options: RequestOptions,
  ): Promise<Reply> {
    const transport = {
      baseUrl: this.baseUrl,
      fetch: this.#fetch,
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
      debug: (message: string, details: RequestLogDetails) => this.#debug(message, details),
    };
    return platformRequest(
      transport,
      target,
      { ...init, secrets: [this.#appSecret, ...init.secrets] },
      options,
    );
  }

  #debug(message: string, details: RequestLogDetails): void {
    try {
      this.#logger?.debug(message, details);
    } catch {
      // A broken logger must not break a login.
    }
  }

  #warn(message: string, details: Record<string, unknown>): void {
    try {
      this.#logger?.warn?.(message, details);
    } catch {
      // As above.
    }
  }
}

/** The tokens of either code door, from its `data` (oidc) or its flat body (v2). */
function exchangedTokens(fields: FieldReader, reply: Reply): ExchangedTokens {
  const refreshToken = fields.optionalString("refresh_token");
  const refreshSeconds =
    fields.optionalNumber("refresh_expires_in") ?? fields.optionalNumber("refresh_token_expires_in");
  return {
    accessToken: fields.string("access_token"),
    ...(refreshToken === undefined ? {} : { refreshToken }),
    tokenType: fields.optionalString("token_type") ?? "Bearer",
    expiresAt: expiryFromSeconds(fields.number("expires_in"), reply.sentAt),
    ...(refreshToken === undefined || refreshSeconds === undefined
      ? {}
      : { refreshExpiresAt: expiryFromSeconds(refreshSeconds, reply.sentAt) }),
    scope: fields.optionalString("scope") ?? "",
    raw: fields.raw(),
  };
}
