/**
 * The app_access_token behind every call: read from the token cache, else fetched from the
 * platform (with the app secret, or a store app's app_ticket too), one fetch for concurrent
 * callers, never handed out in its last 3 minutes, and replaced when the platform refused it.
 */
import { Paths } from "@mina-auth/protocol";
import { ErrorCodes, MinaApiError, MinaTimeoutError, type RequestTarget } from "./errors.ts";
import { FieldReader, type JsonObject } from "./internal/fields.ts";
import { errorName, type Reply, untilAborted } from "./platform-request.ts";
import type { TokenCache } from "./token-cache.ts";
import type { AppTicketSource } from "./types.ts";

/** The cached app token is not used in its last 3 minutes (as the official SDKs do). */
const APP_TOKEN_EXPIRY_MARGIN_MS = 3 * 60 * 1000;

export interface AppTokenSourceDeps {
  appId: string;
  appSecret: string;
  cache: TokenCache;
  cacheKey: string;
  appTicket: AppTicketSource | undefined;
  /** One platform request (the client's). */
  request(
    target: RequestTarget,
    init: { body: JsonObject; secrets: string[] },
    options: object,
  ): Promise<Reply>;
  /** app_ticket/resend (the client's `requestAppTicket`). */
  requestAppTicket(): Promise<void>;
  warn(message: string, details: Record<string, unknown>): void;
}

export class AppTokenSource {
  readonly #deps: AppTokenSourceDeps;
  #flight: { token: Promise<string>; replacing: string | undefined } | undefined;

  constructor(deps: AppTokenSourceDeps) {
    this.#deps = deps;
  }

  /**
   * The app token to use. `rejected` is a token the platform just refused: it is never
   * returned from the cache again. Waiting callers give up on their own signal; the shared
   * load itself continues for the others.
   */
  async token(
    rejected: string | undefined,
    signal: AbortSignal | undefined,
    target: RequestTarget,
  ): Promise<string> {
    const aborted = () => new MinaTimeoutError("aborted", target);
    const flight = this.#sharedLoad(rejected);
    const token = await untilAborted(flight.token, signal, aborted);
    // A load started for this rejection fetched from the platform: its answer stands, even
    // the same token again (the platform hands out the same app token while 30 min remain),
    // so one rejection costs one fetch. A load that began before the rejection was known
    // may have read the rejected token from the cache: one more, no loop.
    if (rejected === undefined || token !== rejected || flight.replacing === rejected) return token;
    return await untilAborted(this.#sharedLoad(rejected).token, signal, aborted);
  }

  #sharedLoad(rejected: string | undefined): { token: Promise<string>; replacing: string | undefined } {
    if (this.#flight) return this.#flight;
    const flight = { token: this.#loadAppToken(rejected), replacing: rejected };
    this.#flight = flight;
    const clear = () => {
      if (this.#flight === flight) this.#flight = undefined;
    };
    flight.token.then(clear, clear);
    return flight;
  }

  async #loadAppToken(rejected: string | undefined): Promise<string> {
    const key = this.#deps.cacheKey;
    let cached: { token: string; expiresAt: number } | undefined;
    try {
      cached = await this.#deps.cache.get(key);
    } catch (err) {
      this.#deps.warn("token cache get failed; fetching a new app_access_token", { error: errorName(err) });
    }
    if (cached && cached.token !== rejected && cached.expiresAt - APP_TOKEN_EXPIRY_MARGIN_MS > Date.now()) {
      return cached.token;
    }
    if (cached && rejected !== undefined && cached.token === rejected && this.#deps.cache.delete) {
      try {
        await this.#deps.cache.delete(key);
      } catch (err) {
        this.#deps.warn("token cache delete failed", { error: errorName(err) });
      }
    }
    const { target, reply } = await this.#fetchAppToken();
    const fields = new FieldReader(reply.body, target, reply.status, "", reply.logId);
    const token = fields.string("app_access_token");
    const expiresAt = reply.sentAt + fields.number("expire") * 1000;
    try {
      await this.#deps.cache.set(key, { token, expiresAt });
    } catch (err) {
      this.#deps.warn("token cache set failed", { error: errorName(err) });
    }
    return token;
  }

  /** The app token from the platform: with the app secret, or a store app's ticket too. */
  async #fetchAppToken(): Promise<{ target: RequestTarget; reply: Reply }> {
    const credentials = { app_id: this.#deps.appId, app_secret: this.#deps.appSecret };
    if (this.#deps.appTicket === undefined) {
      const target = { method: "POST", path: Paths.appAccessToken };
      return { target, reply: await this.#deps.request(target, { body: credentials, secrets: [] }, {}) };
    }
    const target = { method: "POST", path: Paths.storeAppAccessToken };
    const ticket = await this.#deps.appTicket();
    if (ticket === undefined || ticket === "") {
      this.#askForTicket("no app_ticket yet: asking the platform to push one");
      throw new MinaApiError(
        {
          code: ErrorCodes.AppTicketInvalid,
          msg: "no app_ticket received yet; a new one was requested (app_ticket/resend): retry once it arrives",
          httpStatus: 0,
        },
        target,
      );
    }
    try {
      const body = { ...credentials, app_ticket: ticket };
      return { target, reply: await this.#deps.request(target, { body, secrets: [ticket] }, {}) };
    } catch (err) {
      // As the official SDKs do: a refused ticket makes the platform push a fresh one.
      if (err instanceof MinaApiError && err.code === ErrorCodes.AppTicketInvalid) {
        this.#askForTicket("app_ticket refused (10012): asking the platform to push a new one");
      }
      throw err;
    }
  }

  /** app_ticket/resend in the background: its failure is only logged. */
  #askForTicket(message: string): void {
    this.#deps.warn(message, {});
    this.#deps.requestAppTicket().catch((err: unknown) => {
      this.#deps.warn("app_ticket/resend failed", { error: errorName(err) });
    });
  }
}
