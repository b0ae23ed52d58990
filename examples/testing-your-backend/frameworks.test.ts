// Runs the guide's Vitest and Jest examples (docs/testing-your-backend.md) inside the suite, each
// with its own runner in a child process; the node:test example (node-test/) the suite runs itself.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";

const run = promisify(execFile);
const here = import.meta.dirname;
const installed =
  existsSync(join(here, "node_modules", "vitest")) && existsSync(join(here, "node_modules", "jest"));
// .ci/run installs them (npm ci --prefix examples/testing-your-backend); elsewhere say how.
const skip =
  installed || process.env.CI === "true" ? false : "run npm ci --prefix examples/testing-your-backend first";

describe("the guide's examples", () => {
  it("type-check under the project's strict settings (tsconfig.json)", async () => {
    const tsc = join(here, "../../node_modules/typescript/bin/tsc");
    // tsc exits non-zero (run rejects) and prints the errors when there are any.
    const { stdout } = await run(process.execPath, [tsc, "-p", here], { cwd: here });
    assert.equal(stdout, "");
  });
});

describe("the guide's examples under their own runners", { skip }, () => {
  it("Vitest: the four scenarios pass", async () => {
    const { stdout } = await run(process.execPath, [join(here, "node_modules/vitest/vitest.mjs"), "run"], {
      cwd: here,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    assert.match(stdout, /Tests\s+4 passed \(4\)/);
  });

  it("Jest: the four scenarios pass", async () => {
    const { stderr } = await run(
      process.execPath,
      ["--experimental-vm-modules", join(here, "node_modules/jest/bin/jest.js"), "--ci"],
      { cwd: here, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } },
    );
    // Jest reports on stderr.
    assert.match(stderr, /Tests:\s+4 passed, 4 total/);
  });
});
