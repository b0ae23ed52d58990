/**
 * Keeps `npm run bench` from rotting: two rounds of one second of the ceiling and of mina-auth on
 * a SQLite file must produce numbers, round ratios and no error reply. No threshold: timing
 * belongs to the benchmark itself (docs/performance.md), never to a unit test.
 * @see issue 6
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const root = new URL("../../../", import.meta.url).pathname;

/** Runs the bench with `args`; its exit code and everything it printed. */
async function bench(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ["scripts/bench.mjs", ...args], {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    // Shorter than every test's timeout: a bench that overruns is stopped (SIGTERM: it cleans up).
    timeout: 100_000,
  });
  let output = "";
  child.stdout.on("data", (c) => (output += c));
  child.stderr.on("data", (c) => (output += c));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  return { code, output };
}

describe("npm run bench (smoke)", () => {
  const dir = mkdtempSync(join(tmpdir(), "mina-auth-bench-smoke-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("measures the ceiling and mina-auth on SQLite, with zero errors", { timeout: 180_000 }, async () => {
    const out = join(dir, "bench.json");
    const { code, output } = await bench([
      "--duration",
      "1",
      "--runs",
      "2",
      "--only",
      "node-http-ceiling,mina-auth-sqlite",
      "--json",
      out,
    ]);
    assert.equal(code, 0, `bench exited with ${code}:\n${output.slice(-3000)}`);

    const report = JSON.parse(readFileSync(out, "utf8")) as {
      systems: {
        name: string;
        rps: number;
        p50_ms: number;
        p99_ms: number;
        rss_mb: number | null;
        errors: number;
        runs: number[];
        ratio_to_ceiling: number | null;
      }[];
    };
    for (const name of ["node-http-ceiling", "mina-auth-sqlite"]) {
      const system = report.systems.find((s) => s.name === name);
      assert.ok(system, `${name} missing from ${JSON.stringify(report.systems)}`);
      assert.ok(system.rps > 0, `${name}: rps ${system.rps}`);
      assert.equal(system.errors, 0, `${name}: ${system.errors} error replies`);
      for (const key of ["p50_ms", "p99_ms"] as const) assert.equal(typeof system[key], "number");
      assert.equal(system.runs.length, 2, `${name}: one run per round`);
    }
    // The arithmetic is pinned in bench-round-stats.test.ts; here: each run is paired with the
    // ceiling's run of its round, the right way up (the median of two is their mean).
    const [ceiling, sqlite] = ["node-http-ceiling", "mina-auth-sqlite"].map(
      (name) => report.systems.find((s) => s.name === name)!,
    ) as [(typeof report.systems)[number], (typeof report.systems)[number]];
    assert.equal(ceiling.ratio_to_ceiling, 1);
    const expected = (sqlite.runs[0]! / ceiling.runs[0]! + sqlite.runs[1]! / ceiling.runs[1]!) / 2;
    assert.ok(Math.abs(sqlite.ratio_to_ceiling! - expected) < 0.005, JSON.stringify({ sqlite, ceiling }));
  });

  it("refuses a --variant that is not a server setting, or without mina-auth-sqlite", {
    timeout: 120_000,
  }, async () => {
    // Bounded, should the refusal ever regress into a run.
    const quick = ["--only", "mina-auth-sqlite", "--duration", "1", "--runs", "1", "--warmup", "0"];
    const foreign = await bench([...quick, "--variant", "NODE_OPTIONS=--inspect"]);
    assert.equal(foreign.code, 2);
    assert.match(
      foreign.output,
      /--variant: expected MINA_AUTH_NAME=value or BENCH_NAME=value \(got NODE_OPTIONS=--inspect\)/,
    );
    const own = await bench([...quick, "--variant", "BENCH_SERVER_NODE_ARGS=--inspect"]);
    assert.equal(own.code, 2);
    assert.match(own.output, /--variant: BENCH_SERVER_NODE_ARGS is the bench's own/);
    const alone = await bench([
      ...quick,
      "--only",
      "node-http-ceiling",
      "--variant",
      "MINA_AUTH_RATE_LIMITS=false",
    ]);
    assert.equal(alone.code, 2);
    assert.match(alone.output, /--variant is measured beside mina-auth-sqlite/);
  });

  it("runs bench/floor-probe.mjs, base and variant in the same rounds, with zero errors", {
    timeout: 120_000,
  }, async (t) => {
    const out = join(dir, "floor.json");
    const args = ["--only", "mina-auth-sqlite", "--variant", "BENCH_FLOOR=rows", "--duration", "1"];
    // --verbose: the servers' own lines, where each probe says what it does.
    const { code, output } = await bench(
      [...args, "--runs", "1", "--warmup", "1", "--verbose", "--json", out],
      { ...process.env, BENCH_SERVER_NODE_ARGS: "--import ./bench/floor-probe.mjs", BENCH_FLOOR: "consume" },
    );
    // The probe patches the build; a checkout edited since its last build runs from source.
    if (/runs from source/.test(output) && process.env.CI !== "true") {
      t.skip("the build is older than the sources: run `npm run build` to include this test");
      return;
    }
    assert.equal(code, 0, output.slice(-3000));
    assert.match(output, /floor-probe: tokenLoginValidate writes only the consume floor/);
    assert.match(output, /floor-probe: tokenLoginValidate writes only the rows floor/);
    const report = JSON.parse(readFileSync(out, "utf8")) as {
      systems: { name: string; errors: number; requests: number }[];
    };
    assert.deepEqual(
      report.systems.map((s) => [s.name, s.errors, s.requests > 0]),
      [
        ["mina-auth-sqlite", 0, true],
        ["mina-auth-sqlite-variant", 0, true],
      ],
    );
  });

  it("exits 2 and says so when --json cannot be written", { timeout: 60_000 }, async () => {
    const out = join(dir, "no-such-folder", "bench.json");
    const args = ["--only", "node-http-ceiling", "--duration", "1", "--runs", "1", "--warmup", "0"];
    const { code, output } = await bench([...args, "--json", out]);
    assert.equal(code, 2, output.slice(-2000));
    assert.match(output, /bench: cannot write .*no-such-folder/);
    assert.match(output, /\| node-http-ceiling/, "the table is still printed");
  });
});
