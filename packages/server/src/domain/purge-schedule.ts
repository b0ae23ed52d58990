import { setImmediate as yieldToIo } from "node:timers/promises";
import type { Clock } from "../clock.ts";
import type { MaintenanceStorage } from "../storage/port.ts";

/** Where the schedule reports; fastify's pino logger fits. */
export interface PurgeLog {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}

export interface PurgeScheduleOptions {
  storage: Pick<MaintenanceStorage, "purgeExpired">;
  clock: Clock;
  /** Milliseconds between purges; each instance runs its own. */
  intervalMs: number;
  log: PurgeLog;
  /**
   * Rows of each kind per call. On SQLite every call is one write transaction that logins
   * queue behind, so a backlog goes out in many short ones instead of one long one.
   */
  batch?: number;
}

const DEFAULT_BATCH = 500;

/**
 * Deletes expired codes, tokens, rate-limit windows and long-ended grants on a timer, so that
 * the tables hold what can still decide something rather than every login ever made. The
 * timer never keeps the process alive; a failed purge is logged and tried at the next tick.
 */
export class PurgeSchedule {
  readonly #options: PurgeScheduleOptions;
  readonly #batch: number;
  #timer: NodeJS.Timeout;
  #running: Promise<number> | null = null;
  #stopped = false;

  constructor(options: PurgeScheduleOptions) {
    this.#options = options;
    this.#batch = options.batch ?? DEFAULT_BATCH;
    // The first run at a random point of the first interval: instances started together do
    // not purge in step, and one restarted more often than the interval still purges.
    this.#timer = setTimeout(
      () => {
        this.#timer = setInterval(() => void this.#tick(), options.intervalMs);
        this.#timer.unref();
        void this.#tick();
      },
      Math.floor(Math.random() * options.intervalMs),
    );
    this.#timer.unref();
  }

  /** Purges until nothing expired is left (or the schedule stops); resolves with rows deleted. */
  runOnce(): Promise<number> {
    this.#running ??= this.#purge().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  /** No further purges; waits for one under way to finish its current call. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer); // clears an interval too
    await this.#running?.catch(() => {});
  }

  async #tick(): Promise<void> {
    if (this.#running) return; // a long backlog: the purge under way goes on
    try {
      await this.runOnce();
    } catch (error) {
      // The message only: a storage error names a table or a connection, never a stored value.
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : "unknown error";
      this.#options.log.warn({ reason }, "purge of expired rows failed; tried again at the next interval");
    }
  }

  async #purge(): Promise<number> {
    if (this.#stopped) return 0; // the storage may be closed already
    const started = performance.now();
    let deleted = 0;
    let calls = 0;
    // One cut for the whole run: what expires meanwhile waits for the next tick, so that a run
    // ends even while logins keep coming.
    const now = this.#options.clock.now();
    for (;;) {
      const n = await this.#options.storage.purgeExpired(now, this.#batch);
      calls += 1;
      deleted += n;
      if (n === 0 || this.#stopped) break;
      await yieldToIo(); // let the requests that arrived meanwhile run first
      if (this.#stopped) break;
    }
    if (deleted > 0) {
      const ms = Math.round(performance.now() - started);
      this.#options.log.info({ deleted, calls, ms }, "purged expired rows");
    }
    return deleted;
  }
}
