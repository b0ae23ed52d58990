/**
 * The folder's Vitest and Jest files, each run by its own runner as a user would run them
 * (`npm run test:vitest`, `npm run test:jest`), so that `npm test` at the repository root runs
 * and counts them too: each runner must pick exactly its own file and pass all of its tests.
 * (The node:test file, login.node.test.ts, is run by the root suite directly.)
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";

const here = new URL(".", import.meta.url).pathname;
const bin = (name: string) => join(here, "..", "..", "node_modules", ".bin", name);
const run = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), "mina-auth-runners-"));
after(() => rmSync(out, { recursive: true, force: true }));

interface Report {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  testResults: Array<{ name: string }>;
}

async function report(
  command: string,
  args: string[],
  file: string,
  env: NodeJS.ProcessEnv = {},
): Promise<Report> {
  // Exit code aside: a failing run still writes its report, which says more than the code.
  await run(bin(command), args, {
    cwd: here,
    env: { ...process.env, ...env, NODE_TEST_CONTEXT: undefined },
  }).catch(() => {});
  return JSON.parse(readFileSync(file, "utf8")) as Report;
}

test("Vitest runs login.vitest.ts alone, and its 2 tests pass", async () => {
  const file = join(out, "vitest.json");
  const r = await report("vitest", ["run", "--reporter=json", `--outputFile=${file}`], file);
  assert.deepEqual(
    r.testResults.map((t) => basename(t.name)),
    ["login.vitest.ts"],
  );
  assert.equal(r.numTotalTests, 2);
  assert.equal(r.numPassedTests, 2);
});

test("Jest runs login.jest.mjs alone, and its 2 tests pass", async () => {
  const file = join(out, "jest.json");
  const r = await report("jest", ["--json", `--outputFile=${file}`], file, {
    NODE_OPTIONS: "--experimental-vm-modules",
  });
  assert.deepEqual(
    r.testResults.map((t) => basename(t.name)),
    ["login.jest.mjs"],
  );
  assert.equal(r.numTotalTests, 2);
  assert.equal(r.numPassedTests, 2);
});

test("the client README shows these files as they are here", () => {
  const readme = readFileSync(join(here, "..", "..", "packages", "client", "README.md"), "utf8");
  for (const file of [
    "app.ts",
    "login.node.test.ts",
    "vitest.config.ts",
    "login.vitest.ts",
    "login.jest.mjs",
  ]) {
    // The first comment line of a test file says how to run it here; the README words it for a reader.
    const body = readFileSync(join(here, file), "utf8")
      .replace(/^\/\/ .*\n(\/\/ NODE_OPTIONS.*\n)?/, "")
      .trimEnd();
    assert.ok(readme.includes(body), `packages/client/README.md shows ${file} as it is`);
  }
});
