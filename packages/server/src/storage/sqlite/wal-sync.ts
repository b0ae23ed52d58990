import { closeSync, fdatasync, openSync } from "node:fs";
import { StorageUnavailableError } from "../port.ts";

/** Flushes a file's data to disk and calls back, off the event loop (fs.fdatasync's shape). */
export type SyncFile = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;

interface Waiter {
  /** The commit (or the state a read observed) that must be on disk first. */
  seq: number;
  done: (error: StorageUnavailableError | null) => void;
}

/**
 * Durable commits without blocking the event loop. The connection commits with
 * `synchronous = NORMAL`, so a COMMIT only write()s its frames to the WAL; this then
 * fdatasync()s the WAL file on libuv's thread pool and settles every commit the sync covers.
 * Nothing is acknowledged before its frames are on disk: the promise of `synchronous = FULL`,
 * but the event loop keeps serving requests during the fsync, and commits that land while one
 * fsync runs share the next one.
 *
 * A failed fsync poisons the storage for the rest of the process: after a failed fsync the
 * kernel may have dropped the dirty pages, so nothing written since can be called durable
 * (PostgreSQL panics for the same reason). Every waiting and later commit fails as unavailable.
 */
/**
 * One fsync at a time. Several at once on the one descriptor measured 3-4 % faster, but Linux
 * reports a write-back error to only one of the fsyncs checking it, and the one that returned 0
 * could settle the commit whose page was lost. (One descriptor per fsync would fix that; the
 * gain did not seem worth it.)
 */
const MAX_IN_FLIGHT = 1;

export class WalSync {
  readonly #walPath: string;
  readonly #sync: SyncFile;
  #fd: number | null = null;
  #committed = 0;
  #durable = 0;
  /** The last commit an fsync already started will cover. */
  #started = 0;
  #inFlight = 0;
  #waiters: Waiter[] = [];
  #failure: StorageUnavailableError | null = null;
  #idle: (() => void)[] = [];

  /**
   * `databaseFile` is the file SQLite actually opened (`PRAGMA database_list`: absolute, with
   * symlinks resolved), so that the WAL synced is the one SQLite writes, wherever the process's
   * working directory goes.
   */
  constructor(databaseFile: string, sync: SyncFile = fdatasync) {
    this.#walPath = `${databaseFile}-wal`;
    this.#sync = sync;
  }

  /** Set once an fsync failed; the storage refuses writes from then on. */
  get failure(): StorageUnavailableError | null {
    return this.#failure;
  }

  /** Records a COMMIT that just returned; `done` runs once its frames are on disk. */
  committed(done: Waiter["done"]): void {
    this.#committed += 1;
    this.#wait(this.#committed, done);
  }

  /**
   * Resolves once everything committed so far is on disk: a read awaits this before it answers,
   * so that nobody is shown a commit a power cut could still take back. `othersCommitted`: the
   * read saw commits of another connection to the file (another process), which only an fsync
   * started from now on is sure to cover.
   */
  observed(othersCommitted = false): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (othersCommitted) this.#committed += 1;
    if (this.#durable >= this.#committed) return Promise.resolve();
    return new Promise((resolve, reject) =>
      this.#wait(this.#committed, (error) => (error ? reject(error) : resolve())),
    );
  }

  /** Waits for every commit to be on disk (or failed), then closes the WAL's descriptor. */
  async close(): Promise<void> {
    if (this.#inFlight > 0 || this.#waiters.length > 0) {
      await new Promise<void>((resolve) => this.#idle.push(resolve));
    }
    if (this.#fd !== null) {
      closeSync(this.#fd);
      this.#fd = null;
    }
  }

  #wait(seq: number, done: Waiter["done"]): void {
    if (this.#failure) {
      done(this.#failure);
      return;
    }
    this.#waiters.push({ seq, done });
    this.#startIfNeeded();
  }

  /** Starts an fsync for commits no running fsync covers, if fewer than the limit run. */
  #startIfNeeded(): void {
    if (this.#inFlight >= MAX_IN_FLIGHT || this.#started >= this.#committed) return;
    if (!this.#waiters.some((waiter) => waiter.seq > this.#started)) return;
    this.#start();
  }

  #start(): void {
    // Everything committed before this point is in the kernel's cache: this fsync covers it.
    const covers = this.#committed;
    this.#started = covers;
    let fd: number;
    try {
      // Opened on first use: the WAL file exists once the first COMMIT has written to it.
      // Read-write: Windows refuses to flush a read-only handle.
      this.#fd ??= openSync(this.#walPath, "r+");
      fd = this.#fd;
    } catch (error) {
      this.#fail(error);
      return;
    }
    this.#inFlight += 1;
    this.#sync(fd, (error) => {
      this.#inFlight -= 1;
      if (this.#failure) {
        if (this.#inFlight === 0) this.#settleIdle();
        return;
      }
      if (error) {
        this.#fail(error);
        return;
      }
      // fsyncs may finish out of order; each makes durable all it covers, whatever its rank.
      this.#durable = Math.max(this.#durable, covers);
      const still: Waiter[] = [];
      for (const waiter of this.#waiters) {
        if (waiter.seq <= this.#durable) waiter.done(null);
        else still.push(waiter);
      }
      this.#waiters = still;
      this.#startIfNeeded();
      if (this.#inFlight === 0 && still.length === 0) this.#settleIdle();
    });
  }

  #fail(cause: unknown): void {
    this.#failure = new StorageUnavailableError(
      "sqlite: the WAL could not be flushed to disk; restart the server once the disk is healthy",
      { cause },
    );
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.done(this.#failure);
    this.#settleIdle();
  }

  #settleIdle(): void {
    const idle = this.#idle;
    this.#idle = [];
    for (const resolve of idle) resolve();
  }
}
