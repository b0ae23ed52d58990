import type { RateLimiter } from "./rate-limits.ts";
import type { TicketPushRequester } from "./store-app-tokens.ts";

/**
 * auth/v3/app_ticket/resend between the credentials check and the push: counted per app, over
 * the limit 99991400 and no push (review finding 7). StoreAppTokenService checks the caller's
 * app_id and app_secret and then asks its TicketPushRequester for the push, synchronously; the
 * count is a write to storage (rate-limits.ts: it holds across instances), so it cannot happen
 * inside that call. The service is given this requester, which only notes that the app's
 * credentials passed; the endpoint then calls `admit`, which counts and hands the push to the
 * pusher (which collapses it with one already coming: event-pusher.ts).
 */
export class TicketResends implements TicketPushRequester {
  /** Per app, resends whose credentials passed and that `admit` has not counted yet. */
  readonly #passed = new Map<string, number>();

  constructor(
    private readonly pusher: TicketPushRequester,
    private readonly limiter?: RateLimiter,
  ) {}

  requestTicketPush(appId: string): void {
    this.#passed.set(appId, (this.#passed.get(appId) ?? 0) + 1);
  }

  /** After the credentials passed: counts the resend (throws when over the limit), then pushes. */
  async admit(appId: string): Promise<void> {
    const passed = this.#passed.get(appId) ?? 0;
    if (passed === 0) return; // the credentials did not pass: nothing was asked
    if (passed === 1) this.#passed.delete(appId);
    else this.#passed.set(appId, passed - 1);
    await this.limiter?.ticketResend(appId);
    this.pusher.requestTicketPush(appId);
  }
}
