/**
 * Abuse limits that hold across instances (security.md H6): fixed-window counters kept in
 * storage (`RateLimitStorage.hitRateLimit`), so N instances behind a load balancer share one count and
 * do not multiply an attacker's attempts. Nothing here is kept in process memory.
 *
 * What is counted, and when:
 * - app/tenant token requests, per known app_id, in two separate counts: requests with the
 *   right secret, and requests with a wrong one. The app_id is public, so anyone can send wrong
 *   secrets; counting them apart means an outsider fills only the failure count and a correct
 *   secret is never refused because others guessed wrong (issue 14, item 6). Over the failure
 *   limit a wrong secret answers 99991400 instead of 10014; the right secret is still answered,
 *   as a valid code is on tokenLoginValidate: secrets the server generates carry 128 random
 *   bits, and one a seed file gives has at least 16 characters, so the limit bounds noise and
 *   load rather than being what protects secrets. The success count bounds how often the owner
 *   itself asks (clients cache the token for 2 h). Unknown app_ids are refused after one read
 *   and create no counter rows;
 * - tokenLoginValidate: only redemptions that FAILED in storage, per app and per client address.
 *   The happy path pays no extra round trip. Counting failures only is enough here because a
 *   code carries 128 bits from `crypto.randomBytes`: guessing one is hopeless whatever the
 *   rate, and the limit is not what protects codes. It bounds noise and load from a broken or
 *   hostile client (which is told to slow down), hides which failure occurred once a client is
 *   over the limit, and never refuses a valid code: a redemption that succeeds is answered.
 * - refresh: every attempt that reached storage, per refresh family (the grant, once the
 *   rotation outcome names it: `rotated` or `reused`), else per presented token hash (unknown,
 *   foreign, expired or revoked tokens). Over the limit, a failed attempt answers 99991400; a
 *   rotation that already committed is still delivered, because refusing it would strand the
 *   family (its old refresh token is spent, so the client's retry would be a replay that revokes
 *   the family: a false revocation, security.md S3).
 * - auth/v3/app_ticket/resend: calls with the right secret, per store app (a wrong secret is
 *   counted with the token requests' wrong secrets). Over the limit nothing is pushed. Each
 *   resend makes the server sign and send an event to the app's URL: the limit bounds that work
 *   and what a leaked secret can make the server send (review finding 7).
 *
 * Over the limit: 99991400 `request trigger frequency limit`, HTTP 429, with the platform's
 * `x-ogw-ratelimit-limit` and `x-ogw-ratelimit-reset` (seconds) headers.
 */
import type { Clock } from "../clock.ts";
import type { RateLimitConfig, RateLimitRule } from "../config.ts";
import type { RateLimitStorage } from "../storage/port.ts";
import { ApiError } from "./errors.ts";

export class RateLimitedError extends ApiError {
  constructor(
    /** The window's limit, for `x-ogw-ratelimit-limit`. */
    readonly limit: number,
    /** Seconds until the window ends, for `x-ogw-ratelimit-reset`. */
    readonly resetSeconds: number,
  ) {
    super("RateLimited");
  }
}

export type RefreshSubject = { grantId: string } | { tokenHash: string };

export class RateLimiter {
  constructor(
    private readonly storage: RateLimitStorage,
    private readonly clock: Clock,
    private readonly config: RateLimitConfig,
  ) {}

  /** An app or tenant token request with the right secret; throws when over the limit. */
  async appTokenIssued(appId: string): Promise<void> {
    await this.hit([[`app-token:${appId}`, this.config.appToken]]);
  }

  /** An app or tenant token request with a wrong secret; throws when over the limit. */
  async failedAppSecret(appId: string): Promise<void> {
    await this.hit([[`app-secret-failed:${appId}`, this.config.failedAppSecretPerApp]]);
  }

  /** A tokenLoginValidate redemption that failed in storage; throws when over either limit. */
  async failedRedemption(appId: string, address: string): Promise<void> {
    await this.hit([
      [`redeem-app:${appId}`, this.config.failedRedeemPerApp],
      [`redeem-ip:${address}`, this.config.failedRedeemPerAddress],
    ]);
  }

  /** A refresh attempt whose rotation outcome is known; throws when over the limit. */
  async refreshAttempt(subject: RefreshSubject): Promise<void> {
    const key =
      "grantId" in subject ? `refresh-family:${subject.grantId}` : `refresh-token:${subject.tokenHash}`;
    await this.hit([[key, this.config.refreshPerFamily]]);
  }

  /** A resend of the app's app_ticket with the right secret; throws when over the limit. */
  async ticketResend(appId: string): Promise<void> {
    await this.hit([[`ticket-resend:${appId}`, this.config.ticketResendPerApp]]);
  }

  private async hit(rules: Array<[string, RateLimitRule]>): Promise<void> {
    if (!this.config.enabled) return;
    const now = this.clock.now();
    const results = await Promise.all(
      rules.map(([key, rule]) =>
        this.storage.hitRateLimit({ key, now, windowMs: rule.windowMs, limit: rule.limit }),
      ),
    );
    const refused = results.findIndex((result) => !result.allowed);
    if (refused >= 0) {
      throw new RateLimitedError(rules[refused]![1].limit, Math.ceil(results[refused]!.retryAfterMs / 1000));
    }
  }
}
