/**
 * The `mina-auth` CLI run as a user runs it: a child process on the TypeScript sources, in any
 * working directory (the config-file tests need their own).
 */
import { spawn } from "node:child_process";

const CLI = new URL("../src/cli.ts", import.meta.url).pathname;
const TSX = import.meta.resolve("tsx");
export const REPO_ROOT = new URL("../../../", import.meta.url).pathname;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=source", "--import", TSX, CLI, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

export interface ServingCli {
  url: string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** `mina-auth serve …` as a child process; resolves once it prints where it listens. */
export function serveCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<ServingCli> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", TSX, CLI, "serve", ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, MINA_AUTH_PURGE_INTERVAL_MS: "0", ...options.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let stderr = "";
  return new Promise((resolve, reject) => {
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match)
        resolve({
          url: match[1]!,
          stop: () => {
            child.kill("SIGTERM");
            return exited;
          },
        });
    });
    exited.then((code) => reject(new Error(`serve exited (${code}) before listening:\n${stderr}`)));
  });
}
