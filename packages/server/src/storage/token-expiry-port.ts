/**
 * "Expire this token now" (test tools, docs/testing-your-backend.md): the part of the storage
 * port that ends a live token before its time, so that a test meets one exact expiry. port.ts
 * re-exports it. Each operation is one conditional write per table; nothing is deleted, so the
 * next use answers "expired" exactly as at the token's natural end.
 */
import type { AppTokenKind, Millis } from "./port.ts";

export interface TokenExpiryStorage {
  /**
   * Ends now every access token of a live grant (its current one, and one issued before
   * migration 0004 still in force): expiry set to `now`. The refresh token is untouched, so the
   * session can refresh as after a natural expiry. Whether an access token was live.
   */
  expireAccessTokens(grantId: string, now: Millis): Promise<boolean>;
  /**
   * Ends now every live app token (`kind` "app"), tenant token ("tenant") or both (null) of an
   * app. How many were live. A new request for a token then issues a new one.
   */
  expireAppTokens(appId: string, kind: AppTokenKind | null, now: Millis): Promise<number>;
}
