/**
 * Group commit for code exchanges: concurrent exchanges that queue up while earlier ones are
 * in flight are decided together.
 *
 * A batch first goes out as ONE statement (`fast`: one round trip, one commit) that decides
 * every exchange whose code it consumed, which under load is nearly all of them. What it
 * leaves undecided (unknown, foreign, reused codes, lost races), and the whole batch when that
 * statement fails with an error PostgreSQL reported (so nothing of it exists), then runs on
 * the per-exchange path: ONE transaction, each exchange inside its own SAVEPOINT, one COMMIT.
 *
 * Guarantees, as the port requires:
 * - every caller's promise settles only after the commit that holds its outcome succeeded (or
 *   failed: then every caller of that commit gets `StorageUnavailableError`; when the connection
 *   failed once the statement or the COMMIT was sent, each caller gets what the read-back finds
 *   committed for it, see outcome.ts);
 * - one exchange's failure never changes another's effects: a failing fast statement changed
 *   nothing, and on the per-exchange path a failure is rolled back to its own savepoint;
 * - exchanges are sent in `codeHash` order, so two batches lock code rows in the same order.
 */
import type pg from "pg";
import type { ExchangeInput, ExchangeOutcome } from "../port.ts";
import { StorageOutcomeUnknownError, StorageUnavailableError } from "../port.ts";
import { hasSqlState, isTransient, translateError } from "./errors.ts";
import { mayHaveCommitted } from "./outcome.ts";

type Transaction = <T>(body: (client: pg.PoolClient) => Promise<T>) => Promise<T>;
type Exchange = (client: pg.PoolClient, input: ExchangeInput) => Promise<ExchangeOutcome>;
/** Decides a batch in one statement; `null` where the per-exchange path must decide. */
type FastBatch = (inputs: ExchangeInput[]) => Promise<Array<ExchangeOutcome | null>>;
/**
 * Settles callers whose batch may have committed (the connection failed once the statement or
 * the COMMIT was sent): by reading back what each proposed (outcome.ts `settleUnknown`).
 */
type SettleUnknown = (items: readonly Pending[], cause: unknown) => Promise<void>;

/** Without a way to read back, the honest answer: the outcome is unknown (never "retry"). */
const unknownToAll: SettleUnknown = async (items) => {
  const error = new StorageOutcomeUnknownError("postgres: a batch of code exchanges may have committed");
  for (const item of items) item.reject(error);
};

interface Pending {
  input: ExchangeInput;
  resolve: (outcome: ExchangeOutcome) => void;
  reject: (error: unknown) => void;
}

type Settled = { ok: true; outcome: ExchangeOutcome } | { ok: false; error: unknown };

export interface BatchOptions {
  /** Most exchanges in one batch. Default 64. */
  maxBatch?: number;
  /**
   * Most batches in flight at once (each holds one connection). Default 2, but the second only
   * once the running batch has taken `overlapAfterMs`: see below.
   */
  maxInFlight?: number;
  /**
   * A further batch starts while one runs only once the newest running batch has taken this
   * long (default 20 ms). Normally a batch takes a few milliseconds and the next one gathers
   * everything that queued meanwhile: a batch statement costs about 0.6 ms in the backend
   * whatever its size, so one batch at a time measured +9 % logins per second over two running
   * freely on the 2026-12-01 Intel machine (and three −7 %; on the 2026-11-26 machine 1, 2 and 4
   * were within the noise, 8 and 16 clearly slower). But a batch can stall: a row lock held by
   * another instance's transaction, a slow disk, a connection gone half-open. Then the queue
   * must not wait behind it: after this long a second batch starts, on another connection, and
   * batches go on through that one while the first waits. (Two stalled at once still block
   * both; the statement timeout ends them.)
   */
  overlapAfterMs?: number;
}

export class ExchangeBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  /** When each batch in flight started (performance.now()), oldest first. */
  private readonly starts: number[] = [];
  /** Armed while a batch runs and others wait: starts the next one if this one stalls. */
  private overlapTimer: NodeJS.Timeout | null = null;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  private readonly overlapAfterMs: number;

  constructor(
    private readonly transaction: Transaction,
    private readonly exchange: Exchange,
    options: BatchOptions = {},
    private readonly fast: FastBatch | null = null,
    private readonly settleUnknown: SettleUnknown = unknownToAll,
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 64);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 2);
    const overlap = options.overlapAfterMs ?? 20;
    // setTimeout takes at most 2³¹−1 ms (a larger delay would fire after 1 ms, every time).
    this.overlapAfterMs = Number.isFinite(overlap) ? Math.min(2 ** 31 - 1, Math.max(0, overlap)) : 20;
  }

  submit(input: ExchangeInput): Promise<ExchangeOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.pump();
    });
  }

  /** Resolves once nothing is queued or in flight. */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      if (this.inFlight > 0) {
        // Measured from the newest batch still running: once a later batch has finished, a
        // stalled older one must not make the next batch wait again.
        const waited = performance.now() - this.starts[this.starts.length - 1]!;
        if (waited < this.overlapAfterMs) {
          this.overlapTimer ??= setTimeout(() => {
            this.overlapTimer = null;
            this.pump();
          }, this.overlapAfterMs - waited);
          return;
        }
      }
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight += 1;
      const started = performance.now();
      this.starts.push(started);
      if (this.queue.length === 0 && this.overlapTimer !== null) {
        clearTimeout(this.overlapTimer);
        this.overlapTimer = null;
      }
      void this.run(batch).finally(() => {
        this.starts.splice(this.starts.indexOf(started), 1);
        this.inFlight -= 1;
        this.pump();
        if (this.queue.length === 0 && this.inFlight === 0) {
          for (const wake of this.idleWaiters.splice(0)) wake();
        }
      });
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    const ordered = batch.sort((a, b) =>
      a.input.codeHash < b.input.codeHash ? -1 : a.input.codeHash > b.input.codeHash ? 1 : 0,
    );
    let rest = ordered;
    if (this.fast) {
      let decided: Array<ExchangeOutcome | null>;
      try {
        decided = await this.fast(ordered.map((item) => item.input));
      } catch (error) {
        // The connection failed (or PostgreSQL ended the session) once the statement was sent:
        // its commit may have happened. Never run the batch again (its codes may be consumed):
        // read back what committed. An ERROR PostgreSQL reported aborted the statement.
        if (error instanceof StorageUnavailableError) {
          // Nothing was sent (no connection): the callers may retry.
          for (const item of ordered) item.reject(error);
          return;
        }
        if (mayHaveCommitted(error)) {
          await this.settleUnknown(ordered, error);
          return;
        }
        decided = [];
      }
      rest = [];
      for (const [index, item] of ordered.entries()) {
        const outcome = decided[index];
        if (outcome) item.resolve(outcome);
        else rest.push(item);
      }
      if (rest.length === 0) return;
    }
    await this.runEach(rest);
  }

  /** The per-exchange path: one transaction, one savepoint per exchange. */
  private async runEach(ordered: Pending[]): Promise<void> {
    let settled: Map<Pending, Settled>;
    try {
      settled = await this.transaction(async (client) => {
        const results = new Map<Pending, Settled>();
        for (const [index, item] of ordered.entries()) {
          const savepoint = `exchange_${index}`;
          await client.query(`SAVEPOINT ${savepoint}`);
          try {
            results.set(item, { ok: true, outcome: await this.exchange(client, item.input) });
          } catch (error) {
            // A lost connection fails the whole batch; anything else only this exchange.
            if (isTransient(error) && !hasSqlState(error)) throw error;
            await client.query(`ROLLBACK TO SAVEPOINT ${savepoint}`);
            results.set(item, { ok: false, error: translateError(error) });
          }
        }
        return results;
      });
    } catch (error) {
      if (error instanceof StorageOutcomeUnknownError) {
        await this.settleUnknown(ordered, error);
        return;
      }
      const failure = translateError(error);
      for (const item of ordered) item.reject(failure);
      return;
    }
    for (const item of ordered) {
      const result = settled.get(item)!;
      if (result.ok) item.resolve(result.outcome);
      else item.reject(result.error);
    }
  }
}
