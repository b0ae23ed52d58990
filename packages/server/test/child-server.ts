/**
 * `mina-auth serve` as a child process, for tests where a crash, a signal or a second instance
 * is the point. Runs the TypeScript sources (no build needed) and resolves once the CLI prints
 * where it listens.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { DEMO } from "./harness.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;

export interface ServerProcess {
  name: string;
  proc: ChildProcess;
  url: string;
  /** Everything written to stdout (the JSON log lines). */
  stdout(): string;
  /** The last 20,000 characters written to stderr (the banner, CLI errors). */
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ServerProcessOptions {
  /** `sqlite:PATH` or `postgres://…`. */
  db: string;
  adminToken: string;
  /** For error messages when several instances run. */
  name?: string;
  /** Added to the parent's environment (e.g. `MINA_AUTH_RATE_LIMITS: "false"`). */
  env?: Record<string, string>;
  /** What fills an empty database: the demo data (default) or `--seed FILE`. */
  seedFile?: string;
}

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const name = options.name ?? "server";
  const proc = spawn(
    process.execPath,
    [
      "--conditions=source",
      "--import",
      "tsx",
      "packages/server/src/cli.ts",
      "serve",
      "--db",
      options.db,
      "--port",
      "0",
      ...(options.seedFile ? ["--seed", options.seedFile] : ["--demo"]),
      "--admin-token",
      options.adminToken,
    ],
    {
      cwd: ROOT,
      // No purge at a random minute of a test unless the test names one.
      env: { ...process.env, MINA_AUTH_LOG_LEVEL: "info", MINA_AUTH_PURGE_INTERVAL_MS: "0", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  proc.stdout!.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    proc.stderr!.on("data", (chunk: Buffer) => {
      err = (err + chunk.toString()).slice(-20_000);
      const match = /listening on (http:\/\/[^\s]+)/.exec(err);
      if (match) resolve(match[1]!);
    });
    exited.then(({ code, signal }) =>
      reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${err}`)),
    );
  });
  return { name, proc, url, stdout: () => out, stderr: () => err, exited };
}

export function isRunning(child: ServerProcess): boolean {
  return child.proc.exitCode === null && child.proc.signalCode === null;
}

/** SIGTERM (if still running), then the exit code. */
export async function stopServerProcess(child: ServerProcess | undefined): Promise<number | null> {
  if (!child) return null;
  if (isRunning(child)) child.proc.kill("SIGTERM");
  return (await child.exited).code;
}

/** A server process's answer: the status, the JSON body (`{ unparsed }` if not JSON), Retry-After. */
export interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: inspected field by field
  body: any;
  retryAfter: string | null;
}

/** One request to the server at `base`: a JSON body and a bearer token when given. */
export async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { unparsed: text };
  }
  return { status: res.status, body: parsed, retryAfter: res.headers.get("retry-after") };
}

/** The demo app's app_access_token from the server at `base`. */
export async function appToken(base: string): Promise<string> {
  const res = await call(base, "POST", "/open-apis/auth/v3/app_access_token/internal", {
    app_id: DEMO.appId,
    app_secret: DEMO.appSecret,
  });
  assert.equal(res.body.code, 0, JSON.stringify(res.body));
  return res.body.app_access_token;
}
