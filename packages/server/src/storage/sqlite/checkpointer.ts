import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type BetterSqlite3 from "better-sqlite3";

/** The messages exchanged with WORKER_SOURCE below. */
type CheckpointRequest = { kind: "checkpoint"; id: number } | { kind: "close" };
type CheckpointReply =
  | { kind: "done"; id: number; busy: boolean; log: number; checkpointed: number }
  | { kind: "failed"; id: number; message: string };

/**
 * The checkpointing thread: its own connection to the file, copying WAL frames back into the
 * database (and fsyncing it) whenever the writer asks. Plain CommonJS evaluated as a worker,
 * so that it runs the same from source (tsx) and from the build; it loads the driver the
 * server itself resolved.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 0"); // a busy checkpoint is tried again at the next request
db.pragma("synchronous = NORMAL");
const checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
parentPort.on("message", (request) => {
  if (request.kind === "close") {
    db.close();
    parentPort.close();
    return;
  }
  try {
    const row = checkpoint.get();
    parentPort.postMessage({ kind: "done", id: request.id, busy: row.busy === 1, log: row.log, checkpointed: row.checkpointed });
  } catch (error) {
    parentPort.postMessage({ kind: "failed", id: request.id, message: String(error && error.message) });
  }
});
`;

/** Holds back new write transactions for the short last step of a checkpoint. */
export interface WriteGate {
  hold(): void;
  release(): void;
}

/** How often, at most, the WAL is copied back while writes keep coming. */
const CHECKPOINT_INTERVAL_MS = 100;
/**
 * The writer's own checkpoint threshold while the worker is in charge: only reached if the
 * worker stalls, so that the WAL still cannot grow without bound.
 */
const BACKSTOP_AUTOCHECKPOINT_PAGES = 20_000;
/**
 * Longest the tail step may hold writes. A worker stuck that long (a disk stalling in fsync)
 * is given up: writes resume and the writer checkpoints by itself again.
 */
const TAIL_HOLD_LIMIT_MS = 1000;
/** SQLite's own checkpointing, back in the writer, if the worker cannot run. */
const FALLBACK_AUTOCHECKPOINT_PAGES = 4000;

/**
 * Runs WAL checkpoints on a worker thread with its own connection. Run by the writing
 * connection (SQLite's autocheckpoint), a checkpoint copies thousands of pages and fsyncs twice
 * inside one COMMIT, stopping every request for ~10 ms several times a second (the p99 of the
 * benchmark; docs/performance.md, "checkpoints off the event loop").
 *
 * Two steps, because SQLite restarts the WAL from its beginning only when a write transaction
 * starts with every frame already copied back:
 * 1. bulk: a PASSIVE checkpoint copies what the WAL holds while writes go on;
 * 2. tail: if commits landed meanwhile, new write transactions are held back (the event loop
 *    keeps serving; writes queue) while the few frames left are copied, then released. The
 *    next write transaction starts the WAL over, so it stays a few megabytes.
 * If the worker cannot start or dies, the writer's own autocheckpoint takes over again.
 */
export class Checkpointer {
  readonly #db: BetterSqlite3.Database;
  readonly #gate: WriteGate;
  readonly #worker: Worker;
  readonly #tailHoldLimitMs: number;
  #step: "idle" | "bulk" | "tail" | "stopped" = "idle";
  #lastStarted = 0;
  #id = 0;
  #dirty = false;
  #stats = { checkpoints: 0 };
  #exited: Promise<void>;
  #tailTimer: NodeJS.Timeout | undefined;

  /** `workerSource` is replaceable so that tests can make the worker fail. */
  constructor(
    db: BetterSqlite3.Database,
    gate: WriteGate,
    workerSource = WORKER_SOURCE,
    tailHoldLimitMs = TAIL_HOLD_LIMIT_MS,
  ) {
    this.#tailHoldLimitMs = tailHoldLimitMs;
    this.#db = db;
    this.#gate = gate;
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    this.#worker = new Worker(workerSource, { eval: true, workerData: { path: db.name, driver } });
    this.#worker.unref();
    this.#exited = new Promise((resolve) => this.#worker.once("exit", () => resolve()));
    this.#worker.on("message", (reply: CheckpointReply) => this.#onReply(reply));
    this.#worker.on("error", () => this.#fallBack());
    this.#worker.once("exit", () => this.#fallBack());
    db.pragma(`wal_autocheckpoint = ${BACKSTOP_AUTOCHECKPOINT_PAGES}`);
  }

  /** Checkpoints the worker completed. */
  get stats(): { checkpoints: number } {
    return { ...this.#stats };
  }

  /** Called after every COMMIT: starts a checkpoint when the last one is old enough. */
  committed(): void {
    this.#dirty = true;
    if (this.#step !== "idle") return;
    const now = performance.now();
    if (now - this.#lastStarted < CHECKPOINT_INTERVAL_MS) return;
    this.#lastStarted = now;
    this.#request("bulk");
  }

  /** Stops the worker (releasing any held writes first); the writer checkpoints on close. */
  async close(): Promise<void> {
    if (this.#step === "stopped") return;
    clearTimeout(this.#tailTimer);
    if (this.#step === "tail") this.#gate.release();
    this.#step = "stopped";
    // Unreferenced so that a storage left open never keeps a process alive; while closing,
    // referenced so that the process waits for the worker to let go of the file.
    this.#worker.ref();
    this.#worker.postMessage({ kind: "close" } satisfies CheckpointRequest);
    await this.#exited;
  }

  #request(step: "bulk" | "tail"): void {
    this.#step = step;
    this.#dirty = false;
    this.#id += 1;
    this.#worker.postMessage({ kind: "checkpoint", id: this.#id } satisfies CheckpointRequest);
    if (step === "tail") {
      this.#tailTimer = setTimeout(() => {
        this.#fallBack();
        void this.#worker.terminate();
      }, this.#tailHoldLimitMs);
      this.#tailTimer.unref();
    }
  }

  #onReply(reply: CheckpointReply): void {
    if (this.#step === "stopped" || reply.id !== this.#id) return;
    const step = this.#step;
    if (step === "tail") {
      clearTimeout(this.#tailTimer);
      this.#gate.release();
    }
    this.#step = "idle";
    if (reply.kind === "failed" || reply.busy) return; // tried again after the next commit
    this.#stats.checkpoints += 1;
    if (step === "bulk" && (reply.log > reply.checkpointed || this.#dirty)) {
      this.#gate.hold();
      this.#request("tail");
    }
  }

  #fallBack(): void {
    if (this.#step === "stopped") return;
    clearTimeout(this.#tailTimer);
    if (this.#step === "tail") this.#gate.release();
    this.#step = "stopped";
    try {
      this.#db.pragma(`wal_autocheckpoint = ${FALLBACK_AUTOCHECKPOINT_PAGES}`);
    } catch {
      // The connection is closed or broken; its next statement reports it.
    }
  }
}
