/**
 * Shared harness for HTTP tests: the real server on loopback, a real SQLite file in a fresh temp
 * folder, one injected clock, and every log line captured so tests can grep it for secrets.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { ManualClock } from "../src/clock.ts";
import { defaultConfig, type ServerConfig } from "../src/config.ts";
import { DEMO_APP_SECRET, DEMO_STORE_APP_SECRET, demoSeed } from "../src/demo-seed.ts";
import type { SeedFile } from "../src/domain/seed.ts";
import { type RunningServer, startServer } from "../src/server.ts";
import type { Storage } from "../src/storage/port.ts";

export const DEMO = {
  appId: "cli_a1b2c3d4e5f6a7b8",
  appSecret: DEMO_APP_SECRET,
  storeAppId: "cli_9f8e7d6c5b4a3921",
  storeAppSecret: DEMO_STORE_APP_SECRET,
  acme: "2c5914ac018f97",
  globex: "736588c9260f175d",
  /** Zhang San: visible to the demo app (engineering). */
  visibleUser: "6c486g",
  /** Li Si: visible too. */
  otherVisibleUser: "7d597h",
  /** Wang Wu: sales, outside the demo app's visibility. */
  invisibleUser: "8e6a8i",
  globexUser: "a1b2c3",
} as const;

export const ADMIN_TOKEN = "test-admin-token-0123456789abcdef";

/** Polls `condition` until it holds; fails with `failure` after `ms` (a slow machine's margin). */
export async function until(
  condition: () => boolean | Promise<boolean>,
  failure: string,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    assert.ok(Date.now() < deadline, failure);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export interface TestServer {
  server: RunningServer;
  url: string;
  clock: ManualClock;
  dbPath: string;
  /** Every log line the server wrote so far. */
  logs(): string;
  /** JSON request helper: returns status, headers and parsed body. */
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  /** app_access_token for an app (the demo app by default; a store app's through an app_ticket). */
  appToken(appId?: string, appSecret?: string): Promise<string>;
  /** A fresh login code, as tt.login would return it. */
  mintCode(userId?: string, appId?: string, tenantKey?: string): Promise<string>;
  /** tokenLoginValidate with that code, as that app. */
  exchange(code: string, appToken: string): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface RequestOptions {
  body?: unknown;
  /** Raw body, sent as is (for malformed input). */
  raw?: string | Buffer;
  token?: string;
  headers?: Record<string, string>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are inspected field by field
  body: any;
  text: string;
}

/** The answer is the platform's failure envelope: exactly `{code, msg}`, that code, a non-empty msg. */
export function assertEnvelope(res: TestResponse, code: number, status = 200): void {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.body).sort(), ["code", "msg"], res.text);
  assert.equal(res.body.code, code, res.text);
  assert.ok(typeof res.body.msg === "string" && res.body.msg.length > 0, res.text);
}

export async function startTestServer(
  options: {
    seed?: SeedFile;
    config?: Partial<ServerConfig>;
    dbPath?: string;
    clock?: ManualClock;
    /** The console's built files (default: packages/console/dist). */
    consoleDir?: string;
    /** A storage built by the test (a PostgreSQL behind a proxy, say) instead of `config.db`'s. */
    storage?: Storage;
  } = {},
): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "mina-auth-test-"));
  const dbPath = options.dbPath ?? join(dir, "mina-auth.db");
  const clock = options.clock ?? new ManualClock(Date.UTC(2026, 10, 26, 9, 0, 0));
  const lines: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const server = await startServer({
    config: {
      ...defaultConfig,
      port: 0,
      db: `sqlite:${dbPath}`,
      adminToken: ADMIN_TOKEN,
      logLevel: "info",
      // Off by default so that no existing test trips a limit; rate-limits.test.ts enables them.
      rateLimits: { ...defaultConfig.rateLimits, enabled: false },
      // Off unless a test names an interval (purge-schedule.test.ts): none at a random minute.
      purgeIntervalMs: 0,
      ...options.config,
    },
    seed: options.seed ?? demoSeed,
    clock,
    logStream,
    ...(options.consoleDir ? { consoleDir: options.consoleDir } : {}),
    ...(options.storage ? { storage: options.storage } : {}),
  });
  const url = server.url;

  const request = async (method: string, path: string, opts: RequestOptions = {}): Promise<TestResponse> => {
    const headers: Record<string, string> = { ...opts.headers };
    let body: string | Buffer | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers["content-type"] ??= "application/json; charset=utf-8";
    }
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
    const response = await fetch(`${url}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body } : {}),
    });
    const text = await response.text();
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  };

  const appToken = async (appId: string = DEMO.appId, appSecret: string = DEMO.appSecret) => {
    // A store app's token takes an app_ticket, as on the platform: the admin API hands one out
    // as a push would have delivered it.
    const store = (await server.storage.getApp(appId))?.type === "store";
    const ticket = store
      ? await request("POST", `/admin/v1/apps/${appId}/app-tickets`, { token: ADMIN_TOKEN })
      : null;
    const res = ticket
      ? await request("POST", "/open-apis/auth/v3/app_access_token", {
          body: { app_id: appId, app_secret: appSecret, app_ticket: ticket.body.app_ticket },
        })
      : await request("POST", "/open-apis/auth/v3/app_access_token/internal", {
          body: { app_id: appId, app_secret: appSecret },
        });
    if (res.body?.code !== 0) throw new Error(`app token failed: ${res.text}`);
    return res.body.app_access_token as string;
  };
  const mintCode = async (
    userId: string = DEMO.visibleUser,
    appId: string = DEMO.appId,
    tenantKey?: string,
  ) => {
    const res = await request("POST", "/admin/v1/login-codes", {
      token: ADMIN_TOKEN,
      body: { app_id: appId, user_id: userId, ...(tenantKey ? { tenant_key: tenantKey } : {}) },
    });
    if (res.status !== 201) throw new Error(`mint failed: ${res.text}`);
    return res.body.code as string;
  };
  const exchange = (code: string, token: string) =>
    request("POST", "/open-apis/mina/v2/tokenLoginValidate", { token, body: { code } });

  return {
    server,
    url,
    clock,
    dbPath,
    logs: () => lines.join(""),
    request,
    appToken,
    mintCode,
    exchange,
    async close() {
      await server.close();
      if (!options.dbPath) rmSync(dir, { recursive: true, force: true });
    },
  };
}
