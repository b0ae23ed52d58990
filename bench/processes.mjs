// The bench's child processes and the machine they run on: CPU pinning, the load generator's
// choice, launching, readiness, stopping, and what /proc says of a process. Every child is killed
// when this process ends, however it ends.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fail, log } from "./options.mjs";

export const root = new URL("..", import.meta.url).pathname;

// --- Machine, pinning, load generator -----------------------------------------------------------

const hasCommand = (cmd, args = ["--version"]) => {
  const r = spawnSync(cmd, args, { stdio: "ignore" });
  return !r.error;
};
export const cores = availableParallelism();
export const pin = cores >= 2 && hasCommand("taskset", ["-V"]);
export const SERVER_CPU = "0";
export const LOAD_CPU = "1";

/** wrk when installed, else autocannon, unless `--loadgen` names one; pins this process. */
export function chooseLoadgen(requested) {
  const loadgen = requested ?? (hasCommand("wrk", ["-v"]) ? "wrk" : "autocannon");
  if (!["wrk", "autocannon"].includes(loadgen)) fail("--loadgen must be wrk or autocannon");
  if (loadgen === "wrk" && !hasCommand("wrk", ["-v"])) fail("--loadgen wrk: wrk is not installed");
  // This process mints codes and waits on the load generator: keep it off the server's core.
  if (pin) spawnSync("taskset", ["-pc", LOAD_CPU, String(process.pid)], { stdio: "ignore" });
  return loadgen;
}

// --- Child processes: every one is killed when this process ends, however it ends -------------

export const children = new Set();
/** Async undo steps (a database to drop, a folder to remove), run once by abort() or the end. */
export const cleanups = [];
export function killAll() {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {}
  }
  children.clear();
}
process.on("exit", killAll);
let stopping = false;
export async function abort(reason, code = 1) {
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
export function launch(command, args, { cpu, env, stdout = "pipe", stderr = "pipe" } = {}) {
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

export async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await child.exited;
  clearTimeout(timer);
}

/** Resolves with the first match of `pattern` in the child's output, or rejects after `ms`. */
export function waitFor(child, pattern, ms = 30_000) {
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
export function peakRssMb(pid) {
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
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return null;
  }
}
