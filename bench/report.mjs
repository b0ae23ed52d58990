// The bench's report: each system's row (medians over its runs, round ratios against the ceiling
// and oidc-provider), printed as a table on stdout, and the same as JSON with --json.
import { writeFileSync } from "node:fs";
import { VARIANT } from "./options.mjs";
import { peakRssMb } from "./processes.mjs";
import { median, roundRatio } from "./round-stats.mjs";

/** A system's row: the median of each column over its runs, and its peak RSS. */
function summarise(live) {
  const { results, srv, system } = live;
  return {
    name: system.name,
    rps: Math.round(median(results.map((r) => r.rps))),
    p50_ms: Number(median(results.map((r) => r.p50_ms)).toFixed(2)),
    p99_ms: Number(median(results.map((r) => r.p99_ms)).toFixed(2)),
    rss_mb: peakRssMb(srv.child.pid),
    cpu_us_per_req: results.some((r) => r.cpu_us === null)
      ? null
      : Number(median(results.map((r) => r.cpu_us)).toFixed(1)),
    errors: results.reduce((a, r) => a + r.errors, 0),
    requests: results.reduce((a, r) => a + r.requests, 0),
    runs: results.map((r) => Math.round(r.rps)),
    /** The most the other, idle servers used of a CPU during one of this system's runs. */
    neighbours_cpu_pct: Number(Math.max(0, ...results.map((r) => r.neighbours_cpu_pct)).toFixed(1)),
    note: srv.note,
  };
}

/** A system's round ratio against another live system (null when either is missing). */
function ratioTo(live, reference) {
  if (!reference) return null;
  return roundRatio(
    live.results.map((r) => r.rps),
    reference.results.map((r) => r.rps),
  );
}

/**
 * Every live system's row with its ratios. Read while the servers still run: the peak RSS comes
 * from their /proc entries.
 */
export function measuredRows(lives) {
  const liveByName = Object.fromEntries(lives.map((l) => [l.system.name, l]));
  return lives.map((live) => ({
    ...summarise(live),
    ratio_to_ceiling: ratioTo(live, liveByName["node-http-ceiling"]),
    ratio_to_oidc: ratioTo(live, liveByName["oidc-provider-authcode"]),
    ...(live.system.name === VARIANT ? { ratio_to_base: ratioTo(live, liveByName["mina-auth-sqlite"]) } : {}),
  }));
}

/**
 * Prints the table, the skipped systems, the variant's line, a warning per system that answered
 * errors and the footnote; returns the systems that answered errors.
 */
export function printReport(measured, skipped, { opts, loadgen }) {
  const { connections, duration, runs, variantEnv } = opts;
  const ratio = (value) => (value === null ? "–" : value.toFixed(2));
  const byName = (name) => measured.find((s) => s.name === name);
  const rows = [
    [
      "system",
      "req/s",
      "p50 ms",
      "p99 ms",
      "peak RSS MB",
      "server CPU µs/req",
      "× ceiling",
      "× oidc-provider",
      "errors",
    ],
  ];
  for (const s of measured) {
    rows.push([
      s.name,
      s.rps.toLocaleString("en-US"),
      s.p50_ms.toFixed(2),
      s.p99_ms.toFixed(2),
      s.rss_mb === null ? "–" : String(s.rss_mb),
      s.cpu_us_per_req === null ? "–" : s.cpu_us_per_req.toFixed(1),
      ratio(s.ratio_to_ceiling),
      ratio(s.ratio_to_oidc),
      String(s.errors),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
  const table = [
    line(rows[0]),
    `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`,
    ...rows.slice(1).map(line),
  ];
  process.stdout.write(`\n${table.join("\n")}\n`);
  for (const s of skipped) process.stdout.write(`${s.name}: skipped — ${s.reason}\n`);
  const variant = byName(VARIANT);
  if (variant) {
    const settings = Object.entries(variantEnv)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ");
    process.stdout.write(
      `${VARIANT} (${settings}): ${ratio(variant.ratio_to_base)} × mina-auth-sqlite, CPU µs/req ${variant.cpu_us_per_req ?? "–"} against ${byName("mina-auth-sqlite")?.cpu_us_per_req ?? "–"}\n`,
    );
  }
  const erroneous = measured.filter((s) => s.errors > 0);
  for (const s of erroneous) {
    process.stdout.write(
      `WARNING: ${s.name} answered ${s.errors} of ${s.requests} requests with an error: its numbers measure errors, not the exchange\n`,
    );
  }
  process.stdout.write(
    `(${loadgen}, ${connections} connections, median of ${runs} round(s) of ${duration} s, every system measured once per round; the ratios are the median over rounds of the ratio within a round; peak RSS is the server process's VmHWM over its whole run, minting included; server CPU is its user + system time during the measured load per request, without PostgreSQL's)\n`,
  );
  return erroneous;
}

/** The run's settings, machine, rows, skipped systems and round orders as JSON in `path`. */
export function writeJson(path, { measured, skipped, orders }, { opts, loadgen, machine, pinned }) {
  const { connections, duration, runs, warmup } = opts;
  writeFileSync(
    path,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        machine,
        settings: {
          loadgen,
          connections,
          duration_s: duration,
          runs,
          warmup_s: warmup,
          pinned,
          log_level: opts.logLevel,
          server_env: opts.serverEnv,
          variant_env: opts.variantEnv,
          bench_env: opts.benchEnv,
        },
        systems: measured,
        skipped,
        rounds: orders,
      },
      (key, value) => (key.startsWith("ratio_") && value !== null ? Number(value.toFixed(3)) : value),
      2,
    )}\n`,
  );
}
