// Debug preload for the mina-auth server (never loaded by default): counts how many exchanges
// each SQLite group commit carries, by watching the statements it runs, and prints a
// histogram to stderr every 2 s. Use: BENCH_SERVER_NODE_OPTIONS="--import ./bench/batch-probe.mjs"
import Database from "better-sqlite3";

const db = new Database(":memory:");
const Statement = Object.getPrototypeOf(db.prepare("SELECT 1"));
db.close();
const run = Statement.run;
let ops = 0;
let open = false;
const sizes = new Map();
let commits = 0;
Statement.run = function (...args) {
  const sql = this.source;
  if (sql === "BEGIN IMMEDIATE") {
    open = true;
    ops = 0;
  } else if (sql === "ROLLBACK" && open) ops = 0; // a batch about to be run again, isolated
  const result = run.apply(this, args);
  if (sql === "COMMIT" && open) {
    open = false;
    commits++;
    sizes.set(ops, (sizes.get(ops) ?? 0) + 1);
  }
  return result;
};
// The exchange's single-use UPDATE … RETURNING runs through get(): one per exchange.
const get = Statement.get;
Statement.get = function (...args) {
  if (open && this.source.startsWith("UPDATE login_codes SET consumed_at")) ops++;
  return get.apply(this, args);
};
setInterval(() => {
  if (commits === 0) return;
  let total = 0;
  for (const [size, n] of sizes) total += size * n;
  const top = [...sizes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([s, n]) => `${s}:${n}`)
    .join(" ");
  process.stderr.write(
    `batch-probe: ${commits} commits, ${total} ops, mean ${(total / commits).toFixed(1)} ops/commit; size:count ${top}\n`,
  );
  sizes.clear();
  commits = 0;
}, 2000).unref();
