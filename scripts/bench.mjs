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
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import { availableParallelism, cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { median, roundRatio } from "../bench/round-stats.mjs";

const root = new URL("..", import.meta.url).pathname;
const SYSTEMS = ["node-http-ceiling", "mina-auth-sqlite", "oidc-provider-authcode", "mina-auth-postgres"];
/** With --variant: mina-auth on SQLite with those settings, beside mina-auth-sqlite. */
const VARIANT = "mina-auth-sqlite-variant";

const { values: flags } = parseArgs({
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
    `${readFileSync(new URL(import.meta.url), "utf8")
      .split("\n")
      .slice(1, 12)
      .join("\n")
      .replace(/^\/\/ ?/gm, "")}\n`,
  );
  process.exit(0);
}

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
/** `NAME=value,…` as an object, each NAME starting with one of `prefixes`; anything else is refused. */
const settingsOf = (flag, text, prefixes) =>
  Object.fromEntries(
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
if (variantEnv !== null && Object.keys(variantEnv).length === 0) fail("--variant: name at least one setting");
for (const name of only)
  if (!SYSTEMS.includes(name)) fail(`--only: unknown system ${name} (known: ${SYSTEMS.join(", ")})`);
if (variantEnv !== null && !only.includes("mina-auth-sqlite"))
  fail("--variant is measured beside mina-auth-sqlite: include it in --only");

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}
const log = (message) => process.stderr.write(`${message}\n`);
const debug = (message) => flags.verbose && log(`  · ${message}`);

// --- Machine, pinning, load generator -----------------------------------------------------------

const hasCommand = (cmd, args = ["--version"]) => {
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  return !r.error;
};
const cores = availableParallelism();
const pin = cores >= 2 && hasCommand("taskset", ["-V"]);
const SERVER_CPU = "0";
const LOAD_CPU = "1";
const loadgen = flags.loadgen ?? (hasCommand("wrk", ["-v"]) ? "wrk" : "autocannon");
if (!["wrk", "autocannon"].includes(loadgen)) fail("--loadgen must be wrk or autocannon");
if (loadgen === "wrk" && !hasCommand("wrk", ["-v"])) fail("--loadgen wrk: wrk is not installed");
// This process mints codes and waits on the load generator: keep it off the server's core.
if (pin) spawnSync("taskset", ["-pc", LOAD_CPU, String(process.pid)], { stdio: "ignore" });

// --- Child processes: every one is killed when this process ends, however it ends -------------

const children = new Set();
const cleanups = [];
function killAll() {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
  children.clear();
}
process.on("exit", killAll);
let stopping = false;
async function abort(reason, code = 1) {
  // A second call (a run failing because the first one killed its server) waits for the exit;
  // a second signal exits at once.
  if (stopping) {
    if (code !== 1) process.exit(code);
    return new Promise(() => {});
  }
  stopping = true;
  // Cleanup that hangs (a DROP DATABASE on a dead connection) must not keep the bench alive.
  setTimeout(() => process.exit(code), 15_000).unref();
  log(`bench: ${reason}`);
  killAll();
  for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
  process.exit(code);
}
process.on("SIGINT", () => abort("interrupted", 130));
process.on("SIGTERM", () => abort("terminated", 143));

/** Spawns a command (pinned to `cpu` when pinning is possible); tracked until it exits. */
function launch(command, args, { cpu, env, stdout = "pipe", stderr = "pipe" } = {}) {
  const [cmd, argv] = pin && cpu !== undefined ? ["taskset", ["-c", cpu, command, ...args]] : [command, args];
  // taskset execs the command: child.pid is the server's own pid (for /proc/<pid>/status).
  const child = spawn(cmd, argv, { cwd: root, env: env ?? process.env, stdio: ["ignore", stdout, stderr] });
  children.add(child);
  child.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  child.exited.then(() => children.delete(child));
  child.tail = "";
  const keep = (chunk) => {
    child.tail = (child.tail + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await child.exited;
  clearTimeout(timer);
}

/** Resolves with the first match of `pattern` in the child's output, or rejects after `ms`. */
function waitFor(child, pattern, ms = 30_000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = pattern.exec(child.tail);
      if (m) {
        done();
        resolve(m);
      }
    };
    const onExit = () => {
      done();
      reject(new Error(`exited before it was ready:\n${child.tail.slice(-1500)}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`not ready after ${ms} ms:\n${child.tail.slice(-1500)}`));
    }, ms);
    const done = () => {
      clearTimeout(timer);
      child.stdout?.off("data", check);
      child.stderr?.off("data", check);
      child.off("exit", onExit);
    };
    child.stdout?.on("data", check);
    child.stderr?.on("data", check);
    child.on("exit", onExit);
    check();
  });
}

/** Peak resident set size of a live process, in MB (VmHWM), or null where /proc is missing. */
function peakRssMb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

/**
 * CPU seconds (user + system) the process has used so far, from /proc (null elsewhere). Only the
 * server process itself: PostgreSQL's backends are not in it.
 */
const TICKS_PER_SECOND = 100;
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

// --- HTTP helpers (loopback only) ---------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
function post(port, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = typeof body === "string" ? body : JSON.stringify(body);
    const req = http.request(
      {
        host: "127.0.0.1",
        port,
        path,
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(data),
          ...headers,
        },
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") }),
        );
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** Codes per POST /admin/v1/login-codes (its most). */
const MINT_CHUNK = 1000;

/** Runs `task(i)` for i in [0, n) with `concurrency` in flight; returns results in order. */
async function pool(n, concurrency, task) {
  const out = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

// --- The systems ------------------------------------------------------------------------------

const work = mkdtempSync(join(tmpdir(), "mina-auth-bench-"));
cleanups.push(async () => rmSync(work, { recursive: true, force: true }));
process.on("exit", () => rmSync(work, { recursive: true, force: true }));

// The demo app `serve --demo` loads (packages/server/src/demo-seed.ts): public demo credentials.
const DEMO_APP_ID = "cli_a1b2c3d4e5f6a7b8";
const DEMO_APP_SECRET = "demo-app-secret-2f7c9e41b8d3a6f0";
const DEMO_TENANT = "2c5914ac018f97";
const DEMO_USERS = ["6c486g", "7d597h"]; // both visible to the demo app

/** Source through tsx unless a build at least as new as every source file exists. */
function minaEntry() {
  const dist = join(root, "packages/server/dist/cli.js");
  if (existsSync(dist)) {
    const newest = (dir, ext) => {
      let t = 0;
      for (const name of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, name.name);
        t = Math.max(
          t,
          name.isDirectory() ? newest(p, ext) : name.name.endsWith(ext) ? statSync(p).mtimeMs : 0,
        );
      }
      return t;
    };
    const srcNewest = Math.max(
      newest(join(root, "packages/server/src"), ".ts"),
      newest(join(root, "packages/protocol/src"), ".ts"),
    );
    // tsc -b rewrites only the outputs that changed: the build is as new as its newest file.
    const distNewest = Math.max(
      newest(join(root, "packages/server/dist"), ".js"),
      newest(join(root, "packages/protocol/dist"), ".js"),
    );
    if (distNewest >= srcNewest) return { args: [dist], from: "dist" };
  }
  return {
    args: ["--conditions=source", "--import", "tsx", join(root, "packages/server/src/cli.ts")],
    from: "source (tsx)",
  };
}

function minaSystem(name, dbUrl, settings = {}) {
  const adminToken = `adm-bench-${randomBytes(16).toString("hex")}`;
  return {
    name,
    guessRate: 10_000,
    async start() {
      const entry = minaEntry();
      // The caller's MINA_AUTH_* settings stay out, unless named with --server-env (to measure one).
      const env = {
        ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MINA_AUTH_"))),
        ...serverEnv,
        ...settings,
      };
      // Debug only: e.g. BENCH_SERVER_NODE_ARGS="--cpu-prof" or "--import ./bench/batch-probe.mjs".
      const extra = process.env.BENCH_SERVER_NODE_ARGS?.split(" ").filter(Boolean) ?? [];
      const args = [
        ...extra,
        ...entry.args,
        "serve",
        "--demo",
        "--db",
        dbUrl,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--admin-token",
        adminToken,
        "--log-level",
        flags["log-level"],
      ];
      // Logs go to /dev/null: the cost measured is producing them, not a terminal drawing them.
      const child = launch(process.execPath, args, { cpu: SERVER_CPU, env, stdout: "ignore" });
      if (extra.length > 0) child.stderr.on("data", (c) => flags.verbose && process.stderr.write(c));
      const m = await waitFor(child, /listening on http:\/\/127\.0\.0\.1:(\d+)/);
      const port = Number(m[1]);
      const res = await post(port, "/open-apis/auth/v3/app_access_token/internal", {
        app_id: DEMO_APP_ID,
        app_secret: DEMO_APP_SECRET,
      });
      const token = JSON.parse(res.text).app_access_token;
      if (!token) throw new Error(`no app token: ${res.text}`);
      debug(`${name}: pid ${child.pid}, port ${port}, from ${entry.from}`);
      return {
        child,
        port,
        note: `from ${entry.from}, --log-level ${flags["log-level"]}`,
        path: "/open-apis/mina/v2/tokenLoginValidate",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        ok: '"code":0,"msg":"success"',
        // Through the admin API, as a test suite would, a thousand codes per call.
        async bodies(n) {
          const chunks = await pool(Math.ceil(n / MINT_CHUNK), 4, async (i) => {
            const r = await post(
              port,
              "/admin/v1/login-codes",
              {
                app_id: DEMO_APP_ID,
                user_id: DEMO_USERS[i % 2],
                tenant_key: DEMO_TENANT,
                count: Math.min(MINT_CHUNK, n - i * MINT_CHUNK),
              },
              { authorization: `Bearer ${adminToken}` },
            );
            if (r.status !== 201) throw new Error(`minting failed: ${r.status} ${r.text}`);
            return JSON.parse(r.text).codes;
          });
          return chunks.flat().map((code) => `{"code":"${code}"}`);
        },
      };
    },
  };
}

const ceiling = {
  name: "node-http-ceiling",
  guessRate: 50_000,
  async start() {
    const child = launch(process.execPath, [join(root, "bench/ceiling-server.mjs")], { cpu: SERVER_CPU });
    const m = await waitFor(child, /"port":(\d+)/);
    return {
      child,
      port: Number(m[1]),
      note: "",
      path: "/open-apis/mina/v2/tokenLoginValidate",
      headers: { "Content-Type": "application/json", Authorization: `Bearer t-${"0".repeat(64)}` },
      ok: '"code":0',
      // Same shape as mina-auth's requests; nothing is consumed, so a smaller set may cycle.
      reusable: true,
      async bodies(n) {
        return Array.from(
          { length: Math.min(n, 50_000) },
          () => `{"code":"${randomBytes(16).toString("hex")}"}`,
        );
      },
    };
  },
};

const oidc = {
  name: "oidc-provider-authcode",
  guessRate: 5_000,
  async start() {
    const child = launch(process.execPath, [join(root, "bench/oidc-server.mjs")], { cpu: SERVER_CPU });
    const m = await waitFor(child, /^(\{"port".*\})$/m);
    const info = JSON.parse(m[1]);
    const redirect = encodeURIComponent(info.redirectUri);
    const basic = Buffer.from(`${info.clientId}:${info.clientSecret}`).toString("base64");
    return {
      child,
      port: info.port,
      note: "oidc-provider in memory, client_secret_basic, scope offline_access",
      path: "/token",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: `Basic ${basic}` },
      ok: '"refresh_token"',
      async bodies(n) {
        const codes = [];
        for (let done = 0; done < n; done += 10_000) {
          const r = await new Promise((resolve, reject) => {
            http
              .get(
                {
                  host: "127.0.0.1",
                  port: info.mintPort,
                  path: `/mint?n=${Math.min(10_000, n - done)}`,
                  method: "POST",
                },
                (res) => {
                  let text = "";
                  res.on("data", (c) => {
                    text += c;
                  });
                  res.on("end", () => resolve(text));
                },
              )
              .on("error", reject);
          });
          codes.push(...r.split("\n").filter(Boolean));
        }
        return codes.map((code) => `grant_type=authorization_code&code=${code}&redirect_uri=${redirect}`);
      },
    };
  },
};

async function postgresSystem() {
  let pg;
  try {
    pg = (await import("pg")).default;
  } catch {
    return { skip: "the pg module is not installed" };
  }
  const adminUrl = flags["pg-admin-url"];
  const admin = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
  // Idle through every other system's rounds: a dropped connection must not end the bench (the
  // drop then fails, and says so).
  admin.on("error", (error) => debug(`PostgreSQL admin connection: ${error.message}`));
  try {
    await admin.connect();
  } catch (error) {
    return {
      skip: `PostgreSQL unreachable at ${adminUrl.replace(/:[^:@/]*@/, ":***@")} (${error.code ?? error.message})`,
    };
  }
  const dbName = `mina_auth_bench_${randomBytes(6).toString("hex")}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    const sql = `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`;
    try {
      await admin.query(sql);
    } catch {
      // The admin connection idled through every other system's rounds; it may be gone.
      const again = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
      again.on("error", () => {});
      try {
        await again.connect();
        await again.query(sql);
      } catch (error) {
        log(`bench: could not drop the database ${dbName} (${error.message}); drop it by hand`);
      } finally {
        await again.end().catch(() => {});
      }
    }
    await admin.end().catch(() => {});
  };
  // Before CREATE: an interruption while it runs still drops what it may have made.
  cleanups.push(drop);
  try {
    await admin.query(`CREATE DATABASE ${dbName}`);
  } catch (error) {
    await drop();
    return { skip: `cannot create a database: ${error.message}` };
  }
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const system = minaSystem("mina-auth-postgres", url.toString());
  return { system, drop };
}

// --- One measurement --------------------------------------------------------------------------

async function loadOnce(srv, seconds, bodies) {
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
async function prepare(system) {
  log(`\n${system.name}: starting`);
  const running = new Set(children);
  try {
    const srv = await system.start();
    const live = { system, srv, rate: system.guessRate, results: [] };
    if (warmup > 0) {
      const t0 = Date.now();
      const bodies = await srv.bodies(codesFor(warmup, live.rate));
      debug(`${system.name} warm-up: ${bodies.length} codes minted in ${Date.now() - t0} ms`);
      const w = await loadOnce(srv, warmup, bodies);
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
async function runOnce(live, round) {
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
    const neighboursBefore = idleCpuSeconds(live);
    const cpuBefore = cpuSeconds(srv.child.pid);
    result = await loadOnce(srv, duration, bodies);
    const cpuAfter = cpuSeconds(srv.child.pid);
    result.neighbours_cpu_pct = ((idleCpuSeconds(live) - neighboursBefore) * 100) / duration;
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
function idleCpuSeconds(live) {
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
function orderOf(round) {
  const shift = (round - 1) % lives.length;
  const order = [...lives.slice(shift), ...lives.slice(0, shift)];
  return (round - 1) % 4 >= 2 ? order.reverse() : order;
}

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

// --- Main ---------------------------------------------------------------------------------------

const perSystemSeconds = (runs + 1) * (duration + 60) + 60;
const systemCount = only.length + (variantEnv === null ? 0 : 1);
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

/** Every selected system, started and warmed up; PostgreSQL is skipped, with its reason, when it cannot run. */
const lives = [];
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
  for (const name of SYSTEMS.filter((n) => only.includes(n))) {
    if (name === "node-http-ceiling") lives.push(await prepare(ceiling));
    else if (name === "mina-auth-sqlite") {
      lives.push(await prepare(minaSystem(name, `sqlite:${join(work, "mina-auth.db")}`)));
      if (variantEnv !== null) {
        const file = `sqlite:${join(work, "mina-auth-variant.db")}`;
        lives.push(await prepare(minaSystem(VARIANT, file, variantEnv)));
      }
    } else if (name === "oidc-provider-authcode") lives.push(await prepare(oidc));
    else if (name === "mina-auth-postgres") {
      const pgSys = await postgresSystem();
      if (pgSys.skip) {
        log(`\n${name}: skipped — ${pgSys.skip}`);
        skipped.push({ name, reason: pgSys.skip });
        continue;
      }
      try {
        lives.push({ ...(await prepare(pgSys.system)), postgres: true, drop: pgSys.drop });
      } catch (error) {
        await skipPostgres(null, error);
        await pgSys.drop();
      }
    }
  }
  // Rounds: each measures every system once, in an order that changes from round to round.
  for (let round = 1; round <= runs; round++) {
    log(`\nround ${round} of ${runs}`);
    const order = orderOf(round);
    orders.push(order.map((live) => live.system.name));
    for (const live of order) {
      try {
        await runOnce(live, round);
      } catch (error) {
        if (!live.postgres) throw error;
        await skipPostgres(live, error);
      }
    }
  }
} catch (error) {
  await abort(`failed: ${error.stack ?? error}`);
}
const liveByName = Object.fromEntries(lives.map((l) => [l.system.name, l]));
const measured = lives.map((live) => ({
  ...summarise(live),
  ratio_to_ceiling: ratioTo(live, liveByName["node-http-ceiling"]),
  ratio_to_oidc: ratioTo(live, liveByName["oidc-provider-authcode"]),
  ...(live.system.name === VARIANT ? { ratio_to_base: ratioTo(live, liveByName["mina-auth-sqlite"]) } : {}),
}));
await Promise.all(lives.map((live) => stop(live.srv.child)));
// Before the report, which may still fail (an unwritable --json path): the PostgreSQL database goes.
for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});

// --- Report -----------------------------------------------------------------------------------

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

let jsonFailed = false;
if (flags.json) {
  try {
    writeJson(flags.json);
  } catch (error) {
    log(`bench: cannot write ${flags.json}: ${error.message}`);
    jsonFailed = true;
  }
}
agent.destroy();
killAll();
process.exit(jsonFailed ? 2 : erroneous.length > 0 ? 1 : 0);

function writeJson(path) {
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
          pinned: pin,
          log_level: flags["log-level"],
          server_env: serverEnv,
          variant_env: variantEnv,
          bench_env: benchEnv,
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
