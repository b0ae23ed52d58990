import type BetterSqlite3 from "better-sqlite3";
import { StorageOutcomeUnknownError, StorageUnavailableError } from "../port.ts";
import type { WriteGate } from "./checkpointer.ts";
import { toStorageError } from "./errors.ts";

interface QueuedWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

type Settlement = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Told of every COMMIT; calls back once that commit is durable (see wal-sync.ts). */
export interface CommitDurability {
  committed(done: (error: Error | null) => void): void;
  /** Set once durability failed: nothing may commit after that. */
  readonly failure: Error | null;
}

export interface WriteQueueOptions {
  /** Most operations committed together in one transaction. */
  maxBatch?: number;
  durability?: CommitDurability;
  /** Told of every COMMIT, after it returned (the checkpointer counts them). */
  afterCommit?: () => void;
  /** Told when a batch's transaction begins (again, when a batch is run a second time). */
  onBegin?: () => void;
  /**
   * Runs inside the batch's transaction after its last operation, before COMMIT: work the
   * batch's operations left for once per commit (their audit events). Throwing fails the batch.
   */
  beforeCommit?: () => void;
}

/**
 * Group commit. Every write queued during one turn of the event loop runs in one
 * `BEGIN IMMEDIATE … COMMIT`. An operation that throws rolls back only itself and rejects
 * only its own promise (the batch is run again with each operation in its own SAVEPOINT).
 * No promise settles before the COMMIT has returned, and with a `CommitDurability`, before
 * that commit is on disk; when the COMMIT (or the transaction) fails, every operation of the
 * batch rejects with `StorageUnavailableError` and none of them took effect. When the COMMIT
 * succeeded but its fsync failed, they reject with `StorageOutcomeUnknownError`.
 *
 * better-sqlite3 is synchronous, so a batch runs start to finish without yielding: nothing
 * else in this process can observe it half-done.
 */
export class WriteQueue implements WriteGate {
  readonly #db: BetterSqlite3.Database;
  readonly #maxBatch: number;
  readonly #durability: CommitDurability | undefined;
  readonly #afterCommit: (() => void) | undefined;
  readonly #onBegin: (() => void) | undefined;
  readonly #beforeCommit: (() => void) | undefined;
  #held = false;
  #pending: QueuedWrite[] = [];
  #scheduled = false;
  #closed = false;
  #batches = 0;
  #operations = 0;
  readonly #begin: BetterSqlite3.Statement<[]>;
  readonly #commit: BetterSqlite3.Statement<[]>;
  readonly #rollback: BetterSqlite3.Statement<[]>;
  readonly #savepoint: BetterSqlite3.Statement<[]>;
  readonly #release: BetterSqlite3.Statement<[]>;
  readonly #rollbackTo: BetterSqlite3.Statement<[]>;

  constructor(db: BetterSqlite3.Database, options: WriteQueueOptions = {}) {
    this.#db = db;
    this.#maxBatch = options.maxBatch ?? 256;
    this.#durability = options.durability;
    this.#afterCommit = options.afterCommit;
    this.#onBegin = options.onBegin;
    this.#beforeCommit = options.beforeCommit;
    this.#begin = db.prepare("BEGIN IMMEDIATE");
    this.#commit = db.prepare("COMMIT");
    this.#rollback = db.prepare("ROLLBACK");
    this.#savepoint = db.prepare("SAVEPOINT op");
    this.#release = db.prepare("RELEASE op");
    this.#rollbackTo = db.prepare("ROLLBACK TO op");
  }

  /** Queues `run` for the next batch; resolves with its result once the batch committed. */
  push<T>(run: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new StorageUnavailableError("sqlite: storage is closed"));
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ run, resolve: resolve as (value: unknown) => void, reject });
      this.#schedule();
    });
  }

  /** Writes waiting for the next batch. */
  get size(): number {
    return this.#pending.length;
  }

  /** Committed batches and the operations they carried, since the queue was created. */
  get stats(): { batches: number; operations: number } {
    return { batches: this.#batches, operations: this.#operations };
  }

  /** No new transaction begins until `release` (writes keep queueing meanwhile). */
  hold(): void {
    this.#held = true;
  }

  release(): void {
    this.#held = false;
    if (this.#pending.length > 0) this.#schedule();
  }

  /** Refuses new writes and commits everything already queued, synchronously. */
  close(): void {
    this.#closed = true;
    this.#held = false;
    while (this.#pending.length > 0) this.#flushBatch();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#pending.length === 0 || this.#held) return;
      this.#flushBatch();
      if (this.#pending.length > 0) this.#schedule();
    });
  }

  #flushBatch(): void {
    const batch = this.#pending.splice(0, this.#maxBatch);
    // Writes queued before durability failed must not commit either: other processes and the
    // checkpointer would see data whose callers were told it failed.
    const failure = this.#durability?.failure;
    if (failure) {
      this.#settleAll(batch, failure);
      return;
    }
    // Optimistic first: operations almost never throw, and two statements fewer per operation
    // measured at about a fifth of an exchange's storage cost. Only a batch where one did is rolled back and run
    // again with each operation isolated in its own SAVEPOINT. Operations are SQL alone, so
    // running one twice, the first time rolled back, has no other effect.
    let settlements = this.#runBatch(batch, false);
    if (settlements === "retry") settlements = this.#runBatch(batch, true);
    if (settlements === "retry" || settlements === "settled") return;
    try {
      this.#beforeCommit?.();
      this.#commit.run();
    } catch (error) {
      this.#abort();
      this.#settleAll(batch, error);
      return;
    }
    this.#batches += 1;
    this.#operations += batch.length;
    this.#afterCommit?.();
    if (this.#durability === undefined) settle(batch, settlements);
    else {
      this.#durability.committed((error) =>
        error === null ? settle(batch, settlements) : settleNotDurable(batch, settlements, error),
      );
    }
  }

  /**
   * Opens the batch's transaction and runs its operations. Without `isolate`, the first
   * throwing operation rolls everything back and asks for a `retry`; with it, each operation
   * runs in a SAVEPOINT and a throw undoes that operation alone. `settled`: the batch failed
   * as a whole and every operation already has its answer.
   */
  #runBatch(batch: QueuedWrite[], isolate: boolean): Settlement[] | "retry" | "settled" {
    const settlements: Settlement[] = [];
    try {
      this.#begin.run();
    } catch (error) {
      this.#settleAll(batch, error);
      return "settled";
    }
    this.#onBegin?.();
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i]!;
      if (!isolate) {
        try {
          settlements.push({ ok: true, value: op.run() });
        } catch {
          this.#abort();
          return "retry";
        }
        continue;
      }
      this.#savepoint.run();
      try {
        const value = op.run();
        this.#release.run();
        settlements.push({ ok: true, value });
      } catch (error) {
        if (!this.#db.inTransaction) {
          // SQLite rolled the whole transaction back (I/O error, disk full…): every earlier
          // operation of the batch is lost with it. The ones not yet run go back in front.
          this.#pending.unshift(...batch.slice(i + 1));
          this.#settleAll(batch.slice(0, i + 1), error);
          return "settled";
        }
        try {
          this.#rollbackTo.run();
          this.#release.run();
        } catch (rollbackError) {
          this.#abort();
          this.#pending.unshift(...batch.slice(i + 1));
          this.#settleAll(batch.slice(0, i + 1), rollbackError);
          return "settled";
        }
        settlements.push({ ok: false, error: toStorageError(error) });
      }
    }
    return settlements;
  }

  #abort(): void {
    if (!this.#db.inTransaction) return;
    try {
      this.#rollback.run();
    } catch {
      // The connection is unusable; the next BEGIN will report it.
    }
  }

  /** Rejects every operation of a batch that did not commit, or whose commit is not durable. */
  #settleAll(batch: QueuedWrite[], cause: unknown): void {
    const mapped = toStorageError(cause);
    const error =
      mapped instanceof StorageUnavailableError
        ? mapped
        : new StorageUnavailableError("sqlite: the write batch did not commit", { cause });
    for (const op of batch) op.reject(error);
  }
}

/**
 * The batch committed (other connections already see it) but its fsync failed: whether it
 * survives a crash is unknown. Never "retry" for it (a retry would meet a consumed code or a
 * spent refresh token), nor success (the port promises durable commits): the outcome is unknown.
 * An operation rolled back to its savepoint keeps its own answer: nothing of it committed.
 */
function settleNotDurable(batch: QueuedWrite[], settlements: Settlement[], cause: Error): void {
  const unknown = new StorageOutcomeUnknownError(
    "sqlite: the write committed but could not be flushed to disk; restart the server once the disk is healthy",
    { cause },
  );
  settle(
    batch,
    settlements.map((outcome) => (outcome.ok ? { ok: false, error: unknown } : outcome)),
  );
}

function settle(batch: QueuedWrite[], settlements: Settlement[]): void {
  for (let i = 0; i < batch.length; i++) {
    const op = batch[i]!;
    const outcome = settlements[i]!;
    if (outcome.ok) op.resolve(outcome.value);
    else op.reject(outcome.error);
  }
}
