/**
 * What the cli-*.test.ts files share: the CLI on its sources (cli-process.ts), the shape of a
 * refusal, and a scratch folder for the files a test writes.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { type CliRun, runCli } from "./cli-process.ts";

export type Run = CliRun;

/** The CLI on its sources, from the repository root (cli-process.ts). */
export const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> => runCli(args, { env });

/** Exit 2, one line on stderr that starts with `mina-auth:`, no stack trace. */
export function assertRefused(run: Run, pattern: RegExp): void {
  assert.equal(run.code, 2, `exit code (stderr: ${run.stderr})`);
  const lines = run.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line, got:\n${run.stderr}`);
  assert.match(lines[0]!, /^mina-auth: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(run.stderr, /^\s+at /m, "no stack trace");
}

/**
 * A fresh folder, made in the `before` of the suite (or file) that calls this and removed in its
 * `after`; the returned function names it, from that `before` on.
 */
export function scratchDir(): () => string {
  let dir: string | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "mina-auth-cli-"));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error("the scratch folder is made in the before hook");
    return dir;
  };
}
