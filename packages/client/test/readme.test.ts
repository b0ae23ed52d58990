// Keeps README.md honest: its login route and its test run as written, against the emulator.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));

test("the README's route and its test pass", () => {
  const readme = readFileSync(join(pkgDir, "README.md"), "utf8");
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
  const [route = "", routeTest = ""] = blocks;
  assert.ok(route.includes("buildApp") && routeTest.includes("startEmulator"), "README code blocks moved");
  // Inside the package, so that fastify, mina-auth and @mina-auth/client resolve from the workspace.
  const dir = mkdtempSync(join(pkgDir, "test", ".readme-"));
  try {
    writeFileSync(join(dir, "app.ts"), route);
    writeFileSync(join(dir, "app.test.ts"), routeTest);
    const out = execFileSync(
      process.execPath,
      ["--conditions=source", "--import", "tsx", "--test", "--test-reporter=tap", "app.test.ts"],
      {
        cwd: dir,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, NODE_TEST_CONTEXT: undefined },
      },
    );
    assert.match(out, /# pass 1/);
    assert.match(out, /# fail 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
