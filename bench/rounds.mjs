// The rounds: every selected system started and warmed up, then measured once per round in an
// order that changes from round to round, each run on codes minted just before it. A PostgreSQL
// system that fails is skipped with its reason; any other failure ends the bench.
//
// `bench` is { opts (options.mjs), loadgen, work (the scratch folder), lives: [] }; `lives`
// collects each started system as { system, srv, rate, results }, one result per run.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { debug, log, SYSTEMS, VARIANT } from "./options.mjs";
import { abort, children, cpuSeconds, LOAD_CPU, launch, root, stop } from "./processes.mjs";
import { ceiling, minaSystem, oidc, postgresSystem } from "./systems.mjs";

// --- One measurement --------------------------------------------------------------------------

async function loadOnce(bench, srv, seconds, bodies) {
  const { loadgen, work } = bench;
  const { connections } = bench.opts;
  const file = join(work, `bodies-${randomBytes(4).toString("hex")}.txt`);
  writeFileSync(file, `${bodies.join("\n")}\n`);
  try {
    let child;
    if (loadgen === "wrk") {
      const env = {
        ...process.env,
        BENCH_BODIES: file,
        BENCH_PATH: srv.path,
        BENCH_HEADERS: Object.entries(srv.headers)
          .map(([k, v]) => `${k}: ${v}`)
          .join("\n"),
        BENCH_OK: srv.ok,
        BENCH_THREADS: "1",
      };
      child = launch(
        "wrk",
        [
          "-t1",
          `-c${connections}`,
          `-d${seconds}s`,
          "--timeout",
          "10s",
          "-s",
          join(root, "bench/walk.lua"),
          `http://127.0.0.1:${srv.port}`,
        ],
        { cpu: LOAD_CPU, env },
      );
    } else {
      const opts = {
        url: `http://127.0.0.1:${srv.port}${srv.path}`,
        bodiesFile: file,
        headers: srv.headers,
        ok: srv.ok,
        connections,
        duration: seconds,
      };
      child = launch(process.execPath, [join(root, "bench/autocannon-run.mjs"), JSON.stringify(opts)], {
        cpu: LOAD_CPU,
      });
    }
    let out = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    const { code } = await child.exited;
    const m = /BENCH_RESULT (\{.*\})/.exec(out);
    if (!m)
      throw new Error(`${loadgen} exited with ${code} without a result:\n${(out + child.tail).slice(-1500)}`);
    const r = JSON.parse(m[1]);
    const seconds_ = r.duration_us / 1e6;
    return {
      rps: r.requests / seconds_,
      p50_ms: r.p50_us / 1000,
      p99_ms: r.p99_us / 1000,
      requests: r.requests,
      errors: r.socket_errors + r.timeouts + r.non2xx + r.bad_body,
      exhausted: srv.reusable ? 0 : r.exhausted,
      sample: r.sample,
      raw: r,
    };
  } finally {
    rmSync(file, { force: true });
  }
}

/**
 * Starts a system and warms it up (JIT, caches, the database's first pages); the warm-up's rate
 * sizes its first batch of codes. The system keeps running, idle, until every round is done.
 */
async function prepare(bench, system) {
  const { warmup } = bench.opts;
  log(`\n${system.name}: starting`);
  const running = new Set(children);
  try {
    const srv = await system.start();
    const live = { system, srv, rate: system.guessRate, results: [] };
    if (warmup > 0) {
      const t0 = Date.now();
      const bodies = await srv.bodies(codesFor(warmup, live.rate));
      debug(`${system.name} warm-up: ${bodies.length} codes minted in ${Date.now() - t0} ms`);
      const w = await loadOnce(bench, srv, warmup, bodies);
      live.rate = w.rps;
      log(`  warm-up: ${Math.round(w.rps)} req/s (errors ${w.errors})`);
    }
    return live;
  } catch (error) {
    // A server that failed its readiness checks or its warm-up must not idle through the rounds.
    for (const child of children) if (!running.has(child)) await stop(child);
    throw error;
  }
}

/** Codes for `seconds` at `rate` req/s, with room to spare. */
const codesFor = (seconds, rate) => Math.ceil(rate * seconds * 1.3) + 2000;

/** One measured run of a prepared system, on codes minted just before it. */
async function runOnce(bench, live, round) {
  const { duration } = bench.opts;
  const { srv, system } = live;
  let result;
  for (let attempt = 0; attempt < 3; attempt++) {
    const n = codesFor(duration, live.rate) * 2 ** attempt;
    const t0 = Date.now();
    const bodies = await srv.bodies(n);
    debug(`${system.name} round ${round}: ${bodies.length} bodies ready in ${Date.now() - t0} ms`);
    const profiling = (process.env.BENCH_SERVER_NODE_ARGS ?? "").includes("profile-probe");
    if (profiling) srv.child.kill("SIGUSR2");
    // The other servers idle meanwhile, and PostgreSQL may still be busy after its own run (a
    // checkpoint, autovacuum): what they use of the CPUs is reported, not hidden.
    const neighboursBefore = idleCpuSeconds(bench.lives, live);
    const cpuBefore = cpuSeconds(srv.child.pid);
    result = await loadOnce(bench, srv, duration, bodies);
    const cpuAfter = cpuSeconds(srv.child.pid);
    result.neighbours_cpu_pct = ((idleCpuSeconds(bench.lives, live) - neighboursBefore) * 100) / duration;
    result.cpu_us =
      cpuBefore === null || cpuAfter === null || result.requests === 0
        ? null
        : ((cpuAfter - cpuBefore) * 1e6) / result.requests;
    if (profiling) srv.child.kill("SIGUSR2");
    live.rate = Math.max(live.rate, result.rps);
    if (result.exhausted === 0) break;
    log(`  ${system.name}: the ${bodies.length} codes ran out; minting more and measuring again`);
  }
  if (result.exhausted > 0) throw new Error("codes ran out three times in a row");
  log(
    `  ${system.name}: ${Math.round(result.rps)} req/s, p50 ${result.p50_ms.toFixed(2)} ms, p99 ${result.p99_ms.toFixed(2)} ms, errors ${result.errors}${result.sample ? ` (e.g. ${result.sample})` : ""}` +
      (result.neighbours_cpu_pct >= 1
        ? `; the idle servers used ${result.neighbours_cpu_pct.toFixed(1)} % of a CPU meanwhile`
        : ""),
  );
  live.results.push(result);
}

/**
 * CPU seconds used so far by everything that should idle while `live` is measured: the other
 * servers, and PostgreSQL's processes unless `live` is mina-auth-postgres (then they are its work).
 */
function idleCpuSeconds(lives, live) {
  let total = 0;
  for (const other of lives) if (other !== live) total += cpuSeconds(other.srv.child.pid) ?? 0;
  if (live.system.name !== "mina-auth-postgres") {
    let pids = [];
    try {
      pids = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
    } catch {}
    for (const pid of pids) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, "utf8").startsWith("postgres")) total += cpuSeconds(pid) ?? 0;
      } catch {}
    }
  }
  return total;
}

/** Round `round` (from 1): rotated, and reversed in every other pair of rounds, so that a system neither holds one place nor follows one neighbour. */
function orderOf(lives, round) {
  const shift = (round - 1) % lives.length;
  const order = [...lives.slice(shift), ...lives.slice(0, shift)];
  return (round - 1) % 4 >= 2 ? order.reverse() : order;
}

/**
 * Starts and warms up every selected system, then runs the rounds; returns the systems skipped
 * (with their reasons) and each round's order of systems. On failure the bench aborts.
 */
export async function runRounds(bench) {
  const { opts, lives } = bench;
  const skipped = [];
  /** Each round's order of systems, for the JSON. */
  const orders = [];
  /** Stops a PostgreSQL system that failed and records why; any other system's failure ends the bench. */
  async function skipPostgres(live, error) {
    const reason = `the server did not run on PostgreSQL: ${error.message.split("\n").slice(0, 6).join(" | ")}`;
    log(`\nmina-auth-postgres: skipped — ${reason}`);
    skipped.push({ name: "mina-auth-postgres", reason });
    if (live) {
      lives.splice(lives.indexOf(live), 1);
      await stop(live.srv.child);
      await live.drop();
    }
  }
  try {
    for (const name of SYSTEMS.filter((n) => opts.only.includes(n))) {
      if (name === "node-http-ceiling") lives.push(await prepare(bench, ceiling));
      else if (name === "mina-auth-sqlite") {
        lives.push(
          await prepare(bench, minaSystem(opts, name, `sqlite:${join(bench.work, "mina-auth.db")}`)),
        );
        if (opts.variantEnv !== null) {
          const file = `sqlite:${join(bench.work, "mina-auth-variant.db")}`;
          lives.push(await prepare(bench, minaSystem(opts, VARIANT, file, opts.variantEnv)));
        }
      } else if (name === "oidc-provider-authcode") lives.push(await prepare(bench, oidc));
      else if (name === "mina-auth-postgres") {
        const pgSys = await postgresSystem(opts);
        if (pgSys.skip) {
          log(`\n${name}: skipped — ${pgSys.skip}`);
          skipped.push({ name, reason: pgSys.skip });
          continue;
        }
        try {
          lives.push({ ...(await prepare(bench, pgSys.system)), postgres: true, drop: pgSys.drop });
        } catch (error) {
          await skipPostgres(null, error);
          await pgSys.drop();
        }
      }
    }
    // Rounds: each measures every system once, in an order that changes from round to round.
    for (let round = 1; round <= opts.runs; round++) {
      log(`\nround ${round} of ${opts.runs}`);
      const order = orderOf(lives, round);
      orders.push(order.map((live) => live.system.name));
      for (const live of order) {
        try {
          await runOnce(bench, live, round);
        } catch (error) {
          if (!live.postgres) throw error;
          await skipPostgres(live, error);
        }
      }
    }
  } catch (error) {
    await abort(`failed: ${error.stack ?? error}`);
  }
  return { skipped, orders };
}
