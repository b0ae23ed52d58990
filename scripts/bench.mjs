#!/usr/bin/env node
// npm run bench — mina-auth's tokenLoginValidate side by side with the raw node:http ceiling and
// oidc-provider's authorization_code exchange (and mina-auth on PostgreSQL when one answers), with
// one load generator and one set of settings for all. Every request redeems a fresh code minted
// in bulk just before its measurement. All systems run side by side and are measured in rounds,
// one run of each per round, so that drift of the machine's speed biases the ratios less.
// See docs/performance.md for how to read the output.
//
//   node scripts/bench.mjs [--duration 10] [--runs 3] [--warmup min(3,duration)] [--connections 50]
//                          [--only name,name] [--json FILE] [--loadgen wrk|autocannon]
//                          [--log-level warn] [--server-env MINA_AUTH_X=v,…] [--pg-admin-url postgres://…]
//                          [--variant MINA_AUTH_X=v|BENCH_X=v,…] [--verbose]
//
// This file is the order of events; the work is in bench/: options.mjs (the flags),
// processes.mjs (pinning, child processes, /proc), systems.mjs (each system's server and request
// bodies), rounds.mjs (warm-up and the rounds), report.mjs (the table and the JSON).
import { cpus, totalmem } from "node:os";
import { log, readOptions } from "../bench/options.mjs";
import {
  abort,
  chooseLoadgen,
  cleanups,
  cores,
  killAll,
  LOAD_CPU,
  pin,
  SERVER_CPU,
  stop,
} from "../bench/processes.mjs";
import { measuredRows, printReport, writeJson } from "../bench/report.mjs";
import { runRounds } from "../bench/rounds.mjs";
import { closeAgent, makeWorkDir } from "../bench/systems.mjs";

const opts = readOptions(process.argv.slice(2), new URL(import.meta.url));
const { connections, duration, runs, warmup } = opts;
const loadgen = chooseLoadgen(opts.loadgen);
const work = makeWorkDir();

const perSystemSeconds = (runs + 1) * (duration + 60) + 60;
const systemCount = opts.only.length + (opts.variantEnv === null ? 0 : 1);
const watchdog = setTimeout(
  () => abort(`did not finish within ${Math.round((systemCount * perSystemSeconds) / 60)} min; stopped`),
  systemCount * perSystemSeconds * 1000,
);
watchdog.unref();

const machine = {
  cpus: cores,
  cpu_model: cpus()[0]?.model ?? "unknown",
  mem_gb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
};
log(
  `bench: ${loadgen}, ${connections} connections, ${runs} round(s) of ${duration} s per system after a ${warmup} s warm-up; ` +
    (pin
      ? `server on CPU ${SERVER_CPU}, load generator on CPU ${LOAD_CPU}`
      : "no pinning (needs taskset and 2+ CPUs)") +
    `; ${machine.cpus} × ${machine.cpu_model}, Node ${machine.node}`,
);

const bench = { opts, loadgen, work, lives: [] };
const { skipped, orders } = await runRounds(bench);
const measured = measuredRows(bench.lives);
await Promise.all(bench.lives.map((live) => stop(live.srv.child)));
// Before the report, which may still fail (an unwritable --json path): the PostgreSQL database goes.
for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});

const erroneous = printReport(measured, skipped, bench);
let jsonFailed = false;
if (opts.json) {
  try {
    writeJson(opts.json, { measured, skipped, orders }, { ...bench, machine, pinned: pin });
  } catch (error) {
    log(`bench: cannot write ${opts.json}: ${error.message}`);
    jsonFailed = true;
  }
}
closeAgent();
killAll();
process.exit(jsonFailed ? 2 : erroneous.length > 0 ? 1 : 0);
