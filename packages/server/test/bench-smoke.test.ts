/**
 * Keeps `npm run bench` from rotting: two rounds of one second of the ceiling and of mina-auth on
 * a SQLite file must produce numbers, round ratios and no error reply. No threshold: timing belongs to the benchmark
 * itself (docs/performance.md), never to a unit test.
 * @see issue 6
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const root = new URL("../../../", import.meta.url).pathname;

describe("npm run bench (smoke)", () => {
  const dir = mkdtempSync(join(tmpdir(), "mina-auth-bench-smoke-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("measures the ceiling and mina-auth on SQLite, with zero errors", { timeout: 180_000 }, async () => {
    const out = join(dir, "bench.json");
    const args = [
      "scripts/bench.mjs",
      "--duration",
      "1",
      "--runs",
      "2",
      "--only",
      "node-http-ceiling,mina-auth-sqlite",
    ];
    const child = spawn(process.execPath, [...args, "--json", out], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c) => (output += c));
    child.stderr.on("data", (c) => (output += c));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
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
    const [ceiling, sqlite] = ["node-http-ceiling", "mina-auth-sqlite"].map(
      (name) => report.systems.find((s) => s.name === name)!,
    ) as [(typeof report.systems)[number], (typeof report.systems)[number]];
    assert.equal(ceiling.ratio_to_ceiling, 1);
    // The median of the two rounds' ratios (each run against the ceiling's run of its round).
    const [a, b] = sqlite.runs.map((rps, i) => rps / ceiling.runs[i]!) as [number, number];
    assert.ok(Math.abs(sqlite.ratio_to_ceiling! - (a + b) / 2) < 0.002, JSON.stringify({ sqlite, ceiling }));
  });
});
