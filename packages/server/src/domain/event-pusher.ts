import { Lifetimes } from "@mina-auth/protocol";
import type { Clock } from "../clock.ts";
import type { AppEventSettings, AppEventStorage, CatalogueStorage, EventDelivery } from "../storage/port.ts";
import type { AppTickets } from "./app-tickets.ts";
import {
  appTicketEvent,
  type EventSecrets,
  eventRequest,
  newEventId,
  urlVerification,
} from "./event-envelope.ts";
import type { EventSecretBox } from "./event-secrets.ts";
import type { TicketPushRequester } from "./store-app-tokens.ts";

/** Where the pusher reports; fastify's pino logger fits. Never given a secret or a body. */
export interface PushLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface EventPusherOptions {
  storage: Pick<AppEventStorage, "getAppEventSettings" | "listAppEventSettings" | "recordEventDelivery"> &
    Pick<CatalogueStorage, "getApp">;
  clock: Clock;
  tickets: AppTickets;
  secrets: EventSecretBox;
  log: PushLog;
  /**
   * Delays before the 2nd, 3rd… attempt of an event, on the server's clock (the platform's own
   * schedule: 5 s, 5 min, 1 h, 6 h, so at most 4 retries). After the last, the event is given up.
   */
  retryDelaysMs?: readonly number[];
  /** Real milliseconds between looks at the clock for due work. */
  tickMs?: number;
  /**
   * Real milliseconds one attempt may take. Ours: 5 s, more lenient than the platform's 1 s
   * answer deadline, so that a receiver on a busy test machine is not failed for being slow.
   */
  attemptTimeoutMs?: number;
  /** Delivery attempts kept per app (the admin API lists them). */
  keepPerApp?: number;
}

export const DEFAULT_RETRY_DELAYS_MS = [5_000, 300_000, 3_600_000, 21_600_000] as const;

/** One app_ticket event on its way: the same uuid and ticket on every attempt. */
interface PendingPush {
  appId: string;
  ticket: string;
  eventId: string;
  attempt: number;
  dueAt: number;
}

/** The outcome of one url_verification challenge. */
export interface VerificationResult {
  ok: boolean;
  /** Why it failed, in words (never a body or a secret). */
  detail: string | null;
}

/**
 * Pushes store apps their app_ticket, as the platform does: at start, every hour, and on a
 * resend; always off the request path. A failed delivery is tried again with backoff, every
 * attempt recorded (bounded per app). Due times are read from the server's clock, looked at every
 * `tickMs` of real time, so a manual clock moved an hour ahead triggers the hourly push.
 *
 * Several instances on one database: each pushes the tickets it issues (on its start, its hourly
 * round and the resends it receives). Tickets are stored, so any instance accepts any of them.
 */
export class EventPusher implements TicketPushRequester {
  readonly #o: EventPusherOptions;
  readonly #retryDelays: readonly number[];
  /** Per app, the retry waiting for its time: at most one, a newer push replaces it. */
  readonly #pending = new Map<string, PendingPush>();
  /** Per app, pushes being made now (a settings change may start one beside another). */
  readonly #delivering = new Map<string, number>();
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | null = null;
  #nextRoundAt = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(options: EventPusherOptions) {
    this.#o = options;
    this.#retryDelays = options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  }

  /** Pushes every store app with an event URL its ticket now, then every hour. */
  start(): void {
    if (this.#timer !== null || this.#stopped) return;
    this.#timer = setInterval(() => this.#tick(), this.#o.tickMs ?? 250);
    this.#timer.unref();
    this.#track(this.#round());
  }

  /**
   * A resend (auth/v3/app_ticket/resend): the app's ticket pushed as soon as possible, collapsed
   * with the push the app already has coming. A push under way carries a ticket issued moments
   * ago, so nothing more is done; a retry waiting for its time (up to 6 h) is brought forward to
   * now, carrying a ticket as fresh as a new push would (#attempt). So a burst of resends makes
   * one push, not one each (review finding 7).
   */
  requestTicketPush(appId: string): void {
    if (this.#stopped || this.#delivering.has(appId)) return;
    const waiting = this.#pending.get(appId);
    if (waiting !== undefined) waiting.dueAt = Math.min(waiting.dueAt, this.#o.clock.now());
    else this.#track(this.#pushTicket(appId));
  }

  /**
   * The app's event settings changed: a new ticket pushed now to where they point, whatever is
   * under way (a push in flight may still be going to the URL they replaced).
   */
  pushAfterSettingsChange(appId: string): void {
    if (this.#stopped) return;
    this.#track(this.#pushTicket(appId, true));
  }

  /** No further pushes; waits for attempts under way. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#pending.clear();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  /**
   * Sends the platform's url_verification challenge to `eventUrl` and checks that it answers
   * `{"challenge": …}` with the same value. Recorded as a delivery attempt of the app.
   */
  async verify(appId: string, eventUrl: string, secrets: EventSecrets): Promise<VerificationResult> {
    const challenge = urlVerification(secrets.verificationToken);
    const now = this.#o.clock.now();
    const request = eventRequest(challenge, secrets, now);
    const sent = await this.#send(eventUrl, request.body, request.headers, true);
    let detail = sent.detail;
    if (detail === null) {
      let echoed: unknown;
      try {
        echoed = (JSON.parse(sent.text) as { challenge?: unknown }).challenge;
      } catch {
        echoed = undefined;
      }
      if (echoed !== challenge.challenge) detail = "the answer did not echo the challenge";
    }
    await this.#record({
      appId,
      eventId: newEventId(),
      eventType: "url_verification",
      attempt: 1,
      at: now,
      outcome: detail === null ? "delivered" : "failed",
      httpStatus: sent.status,
      detail,
    });
    return { ok: detail === null, detail };
  }

  async #round(): Promise<void> {
    this.#nextRoundAt = this.#o.clock.now() + Lifetimes.appTicketPushInterval * 1000;
    try {
      for (const settings of await this.#o.storage.listAppEventSettings()) {
        if (this.#stopped) return;
        // An app with a push under way gets that one's ticket, issued (or refreshed) just now.
        if (!this.#delivering.has(settings.appId)) await this.#pushTicket(settings.appId);
      }
    } catch (error) {
      this.#o.log.warn({ reason: reasonOf(error) }, "app_ticket round failed; tried again at the next one");
    }
  }

  /** A new ticket for the app, pushed now; `beside` a push under way only when asked. */
  async #pushTicket(appId: string, beside = false): Promise<void> {
    if (!beside && this.#delivering.has(appId)) return;
    // Claimed before any await, so that a resend or a round arriving meanwhile sees it.
    this.#claim(appId);
    // A retry waiting for its time would push an older ticket after this one: superseded.
    this.#pending.delete(appId);
    try {
      const app = await this.#o.storage.getApp(appId);
      // The app_ticket event is the store apps'; a self-built app's settings get none.
      if (app === null || app.type !== "store") return;
      if ((await this.#o.storage.getAppEventSettings(appId)) === null) {
        this.#o.log.info({ appId }, "app_ticket not pushed: the app has no event URL");
        return;
      }
      const ticket = await this.#o.tickets.issue(appId);
      const eventId = newEventId();
      const push: PendingPush = { appId, ticket, eventId, attempt: 1, dueAt: this.#o.clock.now() };
      await this.#tryDelivery(push);
    } catch (error) {
      this.#o.log.warn({ appId, reason: reasonOf(error) }, "app_ticket push failed before its delivery");
    } finally {
      this.#release(appId);
    }
  }

  #tick(): void {
    const now = this.#o.clock.now();
    // Before the retries: a round and a retry due together meet in #delivering, the retry first.
    if (now >= this.#nextRoundAt) this.#track(this.#round());
    for (const [appId, push] of this.#pending) {
      if (push.dueAt > now) continue;
      this.#pending.delete(appId);
      this.#track(this.#attempt(push));
    }
  }

  /** One delivery attempt; a failure schedules the next one, until the schedule runs out. */
  async #attempt(push: PendingPush): Promise<void> {
    // A push for the app started since this retry was scheduled carries a newer ticket.
    if (this.#delivering.has(push.appId)) return;
    this.#claim(push.appId);
    try {
      await this.#tryDelivery(await this.#fresh(push));
    } catch (error) {
      // Storage or a sealed secret failed before the push could be sent: nothing was delivered,
      // and the next hourly round (or a resend) pushes a new ticket.
      this.#o.log.warn(
        { appId: push.appId, reason: reasonOf(error) },
        "app_ticket push failed before its delivery",
      );
    } finally {
      this.#release(push.appId);
    }
  }

  /**
   * What a retry carries, as of its time (review finding 12). Retries come up to 6 h after the
   * event while a ticket is accepted for 2 h, and the SDKs keep the last ticket pushed to them
   * with no expiry of their own: a stale ticket arriving late would replace a good one and fail
   * every token request (10012) until the next hourly push. What the app's developer wants is the
   * freshest valid ticket, so a retry whose ticket is no longer the app's newest carries a new one,
   * under a new event uuid (a receiver that drops a uuid it has seen would drop the new ticket
   * too); the attempt count goes on, so the schedule still ends. Dropping the retry instead would
   * leave the app with no valid ticket for up to an hour. The same when a newer ticket was issued
   * for the app meanwhile: arriving late, the old one would replace it, and the newer one may never
   * be pushed at all (the admin API's and the emulator's tickets are handed out, not pushed).
   */
  async #fresh(push: PendingPush): Promise<PendingPush> {
    if (await this.#o.tickets.isNewest(push.appId, push.ticket)) return push;
    return { ...push, ticket: await this.#o.tickets.issue(push.appId), eventId: newEventId() };
  }

  #claim(appId: string): void {
    this.#delivering.set(appId, (this.#delivering.get(appId) ?? 0) + 1);
  }

  #release(appId: string): void {
    const left = (this.#delivering.get(appId) ?? 1) - 1;
    if (left === 0) this.#delivering.delete(appId);
    else this.#delivering.set(appId, left);
  }

  async #tryDelivery(push: PendingPush): Promise<void> {
    if (this.#stopped) return;
    const settings = await this.#o.storage.getAppEventSettings(push.appId);
    if (settings === null) return; // the app's event URL was removed meanwhile
    const now = this.#o.clock.now();
    const secrets = await this.#unseal(settings);
    // Every attempt of one event carries its uuid, as the platform's retries do.
    const event = appTicketEvent(push.appId, push.ticket, secrets.verificationToken, now, push.eventId);
    const request = eventRequest(event, secrets, now);
    const sent = await this.#send(settings.eventUrl, request.body, request.headers, false);
    await this.#record({
      appId: push.appId,
      eventId: push.eventId,
      eventType: "app_ticket",
      attempt: push.attempt,
      at: now,
      outcome: sent.detail === null ? "delivered" : "failed",
      httpStatus: sent.status,
      detail: sent.detail,
    });
    if (sent.detail === null) return;
    const delay = this.#retryDelays[push.attempt - 1];
    if (delay === undefined || this.#stopped) {
      this.#o.log.warn({ appId: push.appId, attempts: push.attempt }, "app_ticket event given up");
      return;
    }
    this.#pending.set(push.appId, { ...push, attempt: push.attempt + 1, dueAt: now + delay });
  }

  async #unseal(settings: AppEventSettings): Promise<EventSecrets> {
    return {
      verificationToken: await this.#o.secrets.unseal(settings.verificationTokenSealed),
      encryptKey:
        settings.encryptKeySealed === null ? null : await this.#o.secrets.unseal(settings.encryptKeySealed),
    };
  }

  /** POSTs the event; `detail` is null when the receiver took it (2xx). */
  async #send(
    url: string,
    body: string,
    headers: Record<string, string>,
    readAnswer: boolean,
  ): Promise<{ status: number | null; detail: string | null; text: string }> {
    try {
      const response = await fetch(url, {
        method: "POST",
        body,
        headers,
        redirect: "manual",
        signal: AbortSignal.timeout(this.#o.attemptTimeoutMs ?? 5000),
      });
      // Only a challenge's answer is read (and only its `challenge` is looked at); never logged.
      const text = readAnswer ? await response.text() : "";
      if (!readAnswer) await response.body?.cancel();
      const ok = response.status >= 200 && response.status < 300;
      return { status: response.status, detail: ok ? null : `HTTP ${response.status}`, text };
    } catch (error) {
      return { status: null, detail: reasonOf(error), text: "" };
    }
  }

  async #record(delivery: Omit<EventDelivery, "id">): Promise<void> {
    try {
      await this.#o.storage.recordEventDelivery(delivery, this.#o.keepPerApp ?? 100);
    } catch (error) {
      this.#o.log.warn({ appId: delivery.appId, reason: reasonOf(error) }, "event delivery not recorded");
    }
  }

  #track(work: Promise<void>): void {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }
}

/** An error in words: its name and code (ECONNREFUSED, TimeoutError), never a URL or a body. */
function reasonOf(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  const cause = (error as Error & { cause?: { code?: unknown } }).cause;
  const code = typeof cause?.code === "string" ? cause.code : null;
  if (error.name === "TimeoutError") return "timed out";
  return code ?? error.name;
}
