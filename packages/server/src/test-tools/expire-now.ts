import type { Clock } from "../clock.ts";
import type { AppTokenService } from "../domain/app-tokens.ts";
import { ApiError } from "../domain/errors.ts";
import { storageKey } from "../secrets.ts";
import type {
  AppTokenKind,
  CatalogueStorage,
  LoginFlowStorage,
  TokenExpiryStorage,
} from "../storage/port.ts";

export type ExpireNowStorage = TokenExpiryStorage &
  Pick<LoginFlowStorage, "findAccessToken"> &
  Pick<CatalogueStorage, "getApp">;

/**
 * "Expire this token now" (docs/testing-your-backend.md): ends a session's access token, or an
 * app's app/tenant tokens, at the server's `now`, so that their next use answers the platform's
 * code for an expired token (99991668 on user_info; 10202/20014 for an app token), while
 * everything else (the refresh token, other sessions) goes on.
 */
export class ExpireNow {
  constructor(
    private readonly storage: ExpireNowStorage,
    private readonly clock: Clock,
    private readonly appTokens: AppTokenService,
  ) {}

  /** A session's access token(s), by the session's id. 9404 when it has no live one. */
  async session(sessionId: string): Promise<{ session_id: string; expired_at: number }> {
    const now = this.clock.now();
    if (!(await this.storage.expireAccessTokens(sessionId, now))) {
      throw new ApiError("AdminNotFound", `a live access token of session ${sessionId}`);
    }
    return { session_id: sessionId, expired_at: now };
  }

  /** The session behind a live user access token (a test has the token, not the session's id). */
  async accessToken(token: string): Promise<{ session_id: string; expired_at: number }> {
    const subject = await this.storage.findAccessToken(storageKey("access_token", token), this.clock.now());
    // The token is a secret: never echoed, not even in the 404.
    if (subject === null) throw new ApiError("AdminNotFound", "a live user access token like that one");
    return this.session(subject.identity.grantId);
  }

  /**
   * Every live app token, tenant token, or both (kind undefined) of an app. This instance's
   * cache of them is dropped at once; another instance's trusts its copy for at most 2 s of its
   * clock (domain/app-tokens.ts, APP_TOKEN_CACHE).
   */
  async appTokensOf(appId: string, kind?: AppTokenKind): Promise<{ app_id: string; expired: number }> {
    if ((await this.storage.getApp(appId)) === null) throw new ApiError("AdminNotFound", `app ${appId}`);
    const expired = await this.storage.expireAppTokens(appId, kind ?? null, this.clock.now());
    this.appTokens.forget(appId);
    return { app_id: appId, expired };
  }
}
