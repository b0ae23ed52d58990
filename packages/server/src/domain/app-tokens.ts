import { type AppCredentialsRequest, Formats, Lifetimes } from "@mina-auth/protocol";
import type { Clock } from "../clock.ts";
import { deriveAppToken, matchesDigest, newSalt, sha256Hex } from "../secrets.ts";
import type { AppTokenKind, AppTokenRecord, AppTokenStorage, CatalogueStorage } from "../storage/port.ts";
import { ApiError } from "./errors.ts";
import type { RateLimiter } from "./rate-limits.ts";

export interface IssuedAppToken {
  token: string;
  /** Seconds left before it expires. */
  expire: number;
}

/**
 * Bounds of the in-process app-token cache (`authenticate`): at most this many entries, each
 * trusted for at most this long after it was read from storage. Expiry is still checked on every
 * hit against the token's own `expiresAt`, so a cached token never outlives it; the staleness
 * bound only matters to a change storage makes to a live token: only the test tools' "expire
 * now" does (test-tools/expire-now.ts), and it drops this instance's entries (`forget`).
 * Misses are never cached: a token issued by another instance works at once. Shared storage
 * stays the only truth.
 */
export const APP_TOKEN_CACHE = { maxEntries: 1024, maxAgeMs: 2000 } as const;

interface CachedAppToken {
  record: AppTokenRecord;
  /** Clock time after which the entry must be read again from storage. */
  freshUntil: number;
}

/**
 * App and tenant access tokens (auth/v3). Tokens live 2 hours; while 30 minutes or more remain
 * a new request gets the same token back (re-derived from the presented secret), below that a
 * new one is issued and both stay valid until their own expiry.
 */
export class AppTokenService {
  /** tokenHash → record; a Map keeps insertion order, so the first key is the oldest. */
  readonly #cache = new Map<string, CachedAppToken>();

  constructor(
    private readonly storage: AppTokenStorage & Pick<CatalogueStorage, "getApp" | "listInstallations">,
    private readonly clock: Clock,
    private readonly limiter?: RateLimiter,
  ) {}

  /** The credentials' shape was checked at the edge (http/platform/schemas.ts: 10003). */
  async issue(kind: AppTokenKind, credentials: AppCredentialsRequest): Promise<IssuedAppToken> {
    const tenantKey = await this.#checkCredentials(credentials);
    // A self-built app with no tenant yet has no tenant token to be given.
    if (kind === "tenant" && tenantKey === null) throw new ApiError("InvalidParam");
    return this.issueFor(kind, credentials.app_id, tenantKey, credentials.app_secret);
  }

  /**
   * app_access_token/internal: the app token and, for a self-built app, its tenant token too
   * (the endpoint's page lists `tenant_access_token` in its answer). One credentials check.
   */
  async issueWithTenant(
    credentials: AppCredentialsRequest,
  ): Promise<{ app: IssuedAppToken; tenant: IssuedAppToken | null }> {
    const tenantKey = await this.#checkCredentials(credentials);
    const { app_id: appId, app_secret: appSecret } = credentials;
    const app = await this.issueFor("app", appId, tenantKey, appSecret);
    const tenant = tenantKey === null ? null : await this.issueFor("tenant", appId, tenantKey, appSecret);
    return { app, tenant };
  }

  /**
   * Issues (or hands back, while ≥ 30 min remain) the token of `kind` for (app, tenant), once the
   * caller has proved who it is. `derivationKey` is a secret the caller presented (its app
   * secret; a store app's app_access_token for its tenant tokens): the same token can only be
   * re-derived from it, so nothing but digests and salts is stored.
   */
  async issueFor(
    kind: AppTokenKind,
    appId: string,
    tenantKey: string | null,
    derivationKey: string,
  ): Promise<IssuedAppToken> {
    const now = this.clock.now();
    const scope = `${kind}|${appId}|${tenantKey ?? ""}`;
    const latest = await this.storage.latestAppToken(kind, appId, tenantKey, now);
    if (latest && latest.expiresAt - now >= Lifetimes.appTokenReissueBelow * 1000) {
      const again = deriveAppToken(derivationKey, latest.salt, scope);
      // After a secret rotation the old token stays valid but cannot be re-derived: issue anew.
      if (sha256Hex(again) === latest.tokenHash) {
        return { token: again, expire: Math.floor((latest.expiresAt - now) / 1000) };
      }
    }

    const salt = newSalt();
    const token = deriveAppToken(derivationKey, salt, scope);
    await this.storage.saveAppToken({
      tokenHash: sha256Hex(token),
      kind,
      appId,
      tenantKey,
      salt,
      issuedAt: now,
      expiresAt: now + Lifetimes.appToken * 1000,
    });
    return { token, expire: Lifetimes.appToken };
  }

  /** The app's secret checked (10003 unknown or store app, 10014 wrong secret); its own tenant. */
  async #checkCredentials(credentials: AppCredentialsRequest): Promise<string | null> {
    const { app_id: appId, app_secret: appSecret } = credentials;
    const app = await this.storage.getApp(appId);
    if (!app) throw new ApiError("InvalidParam");
    // Wrong and right secrets are counted apart (H6): an outsider who knows the public app_id
    // fills only the failure count, and the owner's requests are still answered.
    if (!matchesDigest(appSecret, app.secretHash)) {
      await this.limiter?.failedAppSecret(appId);
      throw new ApiError("AppSecretInvalid");
    }
    // The internal endpoints are the self-built apps' (their pages: "Custom App" only). A store
    // app gets its tokens only with the app_ticket pushed to it (store-app-tokens.ts): handing
    // it one here would skip the ticket flow its own code must be tested against.
    if (app.type !== "self_built") throw new ApiError("InvalidParam");
    await this.limiter?.appTokenIssued(appId);
    return await this.ownTenant(appId);
  }

  /** The live app or tenant token behind a bearer value, or null. */
  async authenticate(token: string | null): Promise<AppTokenRecord | null> {
    if (token === null || !Formats.appToken.test(token)) return null;
    const tokenHash = sha256Hex(token);
    const now = this.clock.now();
    const cached = this.#cache.get(tokenHash);
    if (cached !== undefined) {
      if (now < cached.freshUntil && now >= cached.freshUntil - APP_TOKEN_CACHE.maxAgeMs) {
        return cached.record.expiresAt > now ? cached.record : null;
      }
      this.#cache.delete(tokenHash);
    }
    const record = await this.storage.findAppToken(tokenHash, now);
    if (record !== null) {
      if (this.#cache.size >= APP_TOKEN_CACHE.maxEntries) {
        this.#cache.delete(this.#cache.keys().next().value as string);
      }
      this.#cache.set(tokenHash, { record, freshUntil: now + APP_TOKEN_CACHE.maxAgeMs });
    }
    return record;
  }

  /**
   * Drops this instance's cached tokens of an app: after "expire now" (test-tools/expire-now.ts)
   * storage changed live tokens, which the cache would otherwise trust for up to maxAgeMs.
   */
  forget(appId: string): void {
    for (const [hash, cached] of this.#cache) if (cached.record.appId === appId) this.#cache.delete(hash);
  }

  private async ownTenant(appId: string): Promise<string | null> {
    const installations = await this.storage.listInstallations(appId);
    return installations[0]?.tenantKey ?? null;
  }
}
