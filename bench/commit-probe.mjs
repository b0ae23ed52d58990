// Debug preload for the mina-auth server (never loaded by default): times every SQLite COMMIT
// and prints, every 2 s, how many there were, their mean, and those over 1 ms (a checkpoint or
// a WAL restart run inside the COMMIT shows there). Use:
// BENCH_SERVER_NODE_ARGS="--import ./bench/commit-probe.mjs" node scripts/bench.mjs --verbose
import Database from "better-sqlite3";

const db = new Database(":memory:");
const Statement = Object.getPrototypeOf(db.prepare("SELECT 1"));
db.close();
const run = Statement.run;
let commits = 0;
let totalMs = 0;
let slow = 0;
let slowMs = 0;
let maxMs = 0;
Statement.run = function (...args) {
  if (this.source !== "COMMIT") return run.apply(this, args);
  const started = performance.now();
  const result = run.apply(this, args);
  const ms = performance.now() - started;
  commits++;
  totalMs += ms;
  maxMs = Math.max(maxMs, ms);
  if (ms > 1) {
    slow++;
    slowMs += ms;
  }
  return result;
};
setInterval(() => {
  if (commits === 0) return;
  process.stderr.write(
    `commit-probe: ${commits} commits, mean ${((totalMs / commits) * 1000).toFixed(0)} µs, ` +
      `${slow} over 1 ms (${slowMs.toFixed(0)} ms in all), longest ${maxMs.toFixed(1)} ms\n`,
  );
  commits = totalMs = slow = slowMs = maxMs = 0;
}, 2000).unref();
