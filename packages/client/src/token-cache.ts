/**
 * A cached app_access_token: the token and the instant it expires (milliseconds since the
 * epoch, the platform's real expiry; the client stops using it 3 minutes earlier).
 *
 * @example
 * ```ts
 * const entry: CachedToken = { token: "t-…", expiresAt: Date.now() + 7200_000 };
 * ```
 */
export interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * Where the client keeps its app_access_token. Implement it over Redis, a database or a
 * file so that several processes share one token instead of each fetching its own.
 * Errors thrown by a cache are logged and otherwise ignored: the client then fetches a
 * token from the platform, so a cache outage never fails a login.
 *
 * @example
 * ```ts
 * import type { TokenCache } from "@mina-auth/client";
 *
 * const redisCache: TokenCache = {
 *   async get(key) {
 *     const v = await redis.get(key);
 *     return v ? JSON.parse(v) : undefined;
 *   },
 *   async set(key, value) {
 *     await redis.set(key, JSON.stringify(value), { PXAT: value.expiresAt });
 *   },
 *   async delete(key) {
 *     await redis.del(key);
 *   },
 * };
 * const client = new MinaClient({ appId, appSecret, baseUrl: "feishu", tokenCache: redisCache });
 * ```
 */
export interface TokenCache {
  /** The entry stored under `key`, or undefined. */
  get(key: string): Promise<CachedToken | undefined>;
  /** Store `value` under `key`, replacing any entry. */
  set(key: string, value: CachedToken): Promise<void>;
  /** Remove `key` (optional: without it, a rejected token is overwritten by the next `set`). */
  delete?(key: string): Promise<void>;
}

/**
 * The default {@link TokenCache}: a Map in this process, one per client unless shared.
 *
 * @example
 * ```ts
 * const cache = new MemoryTokenCache();
 * const a = new MinaClient({ appId, appSecret, tokenCache: cache });
 * const b = new MinaClient({ appId, appSecret, tokenCache: cache }); // shares a's token
 * ```
 */
export class MemoryTokenCache implements TokenCache {
  readonly #entries = new Map<string, CachedToken>();

  async get(key: string): Promise<CachedToken | undefined> {
    const entry = this.#entries.get(key);
    return entry ? { ...entry } : undefined;
  }

  async set(key: string, value: CachedToken): Promise<void> {
    this.#entries.set(key, { token: value.token, expiresAt: value.expiresAt });
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }
}
