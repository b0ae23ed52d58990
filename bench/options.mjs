// The bench's command line: its flags read, checked and turned into settings. A flag in error
// ends the bench with exit code 2 before anything starts.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

export const SYSTEMS = [
  "node-http-ceiling",
  "mina-auth-sqlite",
  "oidc-provider-authcode",
  "mina-auth-postgres",
];
/** With --variant: mina-auth on SQLite with those settings, beside mina-auth-sqlite. */
export const VARIANT = "mina-auth-sqlite-variant";

export function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}
export const log = (message) => process.stderr.write(`${message}\n`);
let verbose = false;
export const debug = (message) => verbose && log(`  · ${message}`);

/**
 * Reads the flags of `argv`; `--help` prints the usage of `usageFile` (its comment lines 2–12)
 * and exits.
 */
export function readOptions(argv, usageFile) {
  const { values: flags } = parseArgs({
    args: argv,
    options: {
      duration: { type: "string", default: "10" },
      runs: { type: "string", default: "3" },
      warmup: { type: "string" },
      connections: { type: "string", default: "50" },
      only: { type: "string" },
      json: { type: "string" },
      loadgen: { type: "string" },
      "log-level": { type: "string", default: "warn" },
      "server-env": { type: "string", default: "" },
      variant: { type: "string" },
      "pg-admin-url": {
        type: "string",
        default: process.env.BENCH_PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
      },
      verbose: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (flags.help) {
    process.stdout.write(
      `${readFileSync(usageFile, "utf8")
        .split("\n")
        .slice(1, 12)
        .join("\n")
        .replace(/^\/\/ ?/gm, "")}\n`,
    );
    process.exit(0);
  }
  verbose = flags.verbose;

  const positive = (name, value, min) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number ≥ ${min} (got ${value})`);
    return n;
  };
  const duration = Math.round(positive("duration", flags.duration, 1));
  const runs = Math.round(positive("runs", flags.runs, 1));
  // A short warm-up (JIT, caches, the database's first pages), which also sizes the code batches.
  const warmup = Math.round(positive("warmup", flags.warmup ?? String(Math.min(3, duration)), 0));
  const connections = Math.round(positive("connections", flags.connections, 1));
  const only = flags.only
    ? flags.only
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : SYSTEMS;
  // mina-auth's own settings for its servers, e.g. --server-env MINA_AUTH_FAST_LANE=false.
  // The purge of expired rows is off unless named: its first run falls at a random point of its
  // first five minutes, so within a bench of minutes it would land in one system's measurement and
  // not another's. Its own cost: --variant MINA_AUTH_PURGE_INTERVAL_MS=1000 (docs/performance.md).
  const serverEnv = {
    MINA_AUTH_PURGE_INTERVAL_MS: "0",
    ...settingsOf("server-env", flags["server-env"], ["MINA_AUTH_"]),
  };
  // A second SQLite server with other settings, measured in the same rounds (a lever's A/B):
  // mina-auth's settings, or a debug preload's BENCH_* (e.g. BENCH_FLOOR with bench/floor-probe.mjs).
  const variantEnv =
    flags.variant === undefined ? null : settingsOf("variant", flags.variant, ["MINA_AUTH_", "BENCH_"]);
  if (variantEnv?.BENCH_SERVER_NODE_ARGS !== undefined)
    fail("--variant: BENCH_SERVER_NODE_ARGS is the bench's own; it reaches every mina-auth server");
  /** The debug preloads' settings the servers inherit (recorded in --json; the PostgreSQL URL is not). */
  const benchEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k.startsWith("BENCH_") && k !== "BENCH_PG_ADMIN_URL"),
  );
  if (variantEnv !== null && Object.keys(variantEnv).length === 0)
    fail("--variant: name at least one setting");
  for (const name of only)
    if (!SYSTEMS.includes(name)) fail(`--only: unknown system ${name} (known: ${SYSTEMS.join(", ")})`);
  if (variantEnv !== null && !only.includes("mina-auth-sqlite"))
    fail("--variant is measured beside mina-auth-sqlite: include it in --only");

  return {
    duration,
    runs,
    warmup,
    connections,
    only,
    json: flags.json,
    loadgen: flags.loadgen,
    logLevel: flags["log-level"],
    serverEnv,
    variantEnv,
    benchEnv,
    pgAdminUrl: flags["pg-admin-url"],
    verbose: flags.verbose,
  };
}

/** `NAME=value,…` as an object, each NAME starting with one of `prefixes`; anything else is refused. */
function settingsOf(flag, text, prefixes) {
  return Object.fromEntries(
    text
      .split(",")
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf("=");
        if (at < 1 || !prefixes.some((prefix) => pair.startsWith(prefix)))
          fail(`--${flag}: expected ${prefixes.map((p) => `${p}NAME=value`).join(" or ")} (got ${pair})`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  );
}
