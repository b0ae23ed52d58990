#!/usr/bin/env node
// Runs every *.test.ts in the workspace with Node's own test runner (through tsx), and fails
// when no test ran: Node 20 neither expands globs nor complains about an empty run.
// Usage: node scripts/run-tests.mjs [path-filter …]
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const searchRoots = ["packages", "examples"].map((dir) => join(root, dir));

function findTests(dir, found = []) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of entries) {
    if (name === "node_modules" || name === "dist") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, found);
    else if (name.endsWith(".test.ts")) found.push(path);
  }
  return found;
}

const filters = process.argv.slice(2);
const files = searchRoots
  .flatMap((dir) => findTests(dir))
  .filter((file) => filters.length === 0 || filters.some((f) => relative(root, file).includes(f)))
  .sort();

if (files.length === 0) {
  console.error("run-tests: no test files matched");
  process.exit(1);
}

const child = spawn(
  process.execPath,
  ["--conditions=source", "--import", "tsx", "--test", "--test-reporter=spec", ...files],
  { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, MINA_AUTH_TEST: "1" } },
);

// The summary (ℹ tests N …) comes before the list of failures, which may be long: read it from
// every line as it passes, not from the end of the output.
const counts = { tests: 0, pass: 0, fail: 0, skipped: 0 };
let partial = "";
child.stdout.setEncoding("utf8");
child.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  const lines = (partial + chunk).split("\n");
  partial = lines.pop() ?? "";
  for (const line of lines) {
    const match = /^ℹ (tests|pass|fail|skipped) (\d+)$/.exec(line);
    if (match) counts[match[1]] = Number(match[2]);
  }
});
child.on("close", (code) => {
  console.log(`\n${counts.pass} passed, ${counts.fail} failed, ${counts.skipped} skipped`);
  if (counts.tests === 0) {
    console.error("run-tests: the runner executed no test");
    process.exit(1);
  }
  process.exit(code ?? 1);
});
