/**
 * Group commit for code exchanges: concurrent exchanges that queue up while earlier ones are
 * in flight are sent together in ONE transaction, each inside its own SAVEPOINT, with one
 * COMMIT for all. This saves a commit (and its WAL flush) per exchange under load.
 *
 * Guarantees, as the port requires:
 * - every caller's promise settles only after the batch's COMMIT succeeded (or failed: then
 *   every caller of the batch gets `StorageUnavailableError`, and nothing of it exists);
 * - one exchange's failure is rolled back to its own savepoint and never changes another's
 *   effects;
 * - exchanges run in `codeHash` order inside a batch, so two batches lock code rows in the
 *   same order and cannot deadlock each other on them.
 */
import type pg from "pg";
import type { ExchangeInput, ExchangeOutcome } from "../port.ts";
import { hasSqlState, isTransient, translateError } from "./errors.ts";

type Transaction = <T>(body: (client: pg.PoolClient) => Promise<T>) => Promise<T>;
type Exchange = (client: pg.PoolClient, input: ExchangeInput) => Promise<ExchangeOutcome>;

interface Pending {
  input: ExchangeInput;
  resolve: (outcome: ExchangeOutcome) => void;
  reject: (error: unknown) => void;
}

type Settled = { ok: true; outcome: ExchangeOutcome } | { ok: false; error: unknown };

export interface BatchOptions {
  /** Most exchanges in one transaction. Default 32. */
  maxBatch?: number;
  /** Most batch transactions in flight at once (each holds one connection). Default 4. */
  maxInFlight?: number;
}

export class ExchangeBatcher {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(
    private readonly transaction: Transaction,
    private readonly exchange: Exchange,
    options: BatchOptions = {},
  ) {
    this.maxBatch = Math.max(1, options.maxBatch ?? 32);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 4);
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
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight += 1;
      void this.run(batch).finally(() => {
        this.inFlight -= 1;
        this.pump();
        if (this.queue.length === 0 && this.inFlight === 0) {
          for (const wake of this.idleWaiters.splice(0)) wake();
        }
      });
    }
  }

  private async run(batch: Pending[]): Promise<void> {
    const ordered = [...batch].sort((a, b) =>
      a.input.codeHash < b.input.codeHash ? -1 : a.input.codeHash > b.input.codeHash ? 1 : 0,
    );
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
      const failure = translateError(error);
      for (const item of batch) item.reject(failure);
      return;
    }
    for (const item of batch) {
      const result = settled.get(item)!;
      if (result.ok) item.resolve(result.outcome);
      else item.reject(result.error);
    }
  }
}
