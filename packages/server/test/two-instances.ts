/**
 * What the multi-instance-*.test.ts files share: two `mina-auth serve` child processes on one
 * fresh PostgreSQL database (a suite's fixture), the HTTP calls the tests make through them, a
 * query on that database, and control of the machine's PostgreSQL cluster for the restart case.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { after, before } from "node:test";
import pg from "pg";
import {
  createTestDatabase,
  probePostgres,
  type TestDatabase,
} from "../src/storage/postgres/test-database.ts";
import {
  appToken,
  call,
  isRunning,
  type ServerProcess,
  startServerProcess,
  stopServerProcess,
} from "./child-server.ts";
import { DEMO } from "./harness.ts";

export const ADMIN = "multi-instance-admin-token-0123456789";

/** Why the cluster-restart case cannot run here, or false when it may. */
export function restartSkipReason(): string | false {
  if (process.env.MINA_AUTH_TEST_PG_RESTART !== "1") {
    return "restarts the machine's PostgreSQL cluster: set MINA_AUTH_TEST_PG_RESTART=1 to allow it";
  }
  if (!existsSync("/etc/postgresql") || readdirSync("/etc/postgresql").length === 0) {
    return "no cluster under /etc/postgresql to restart";
  }
  const onPath = (process.env.PATH ?? "").split(":").some((dir) => existsSync(`${dir}/pg_ctlcluster`));
  return onPath ? false : "pg_ctlcluster is not on PATH";
}

// --- child processes ----------------------------------------------------------------------------

export type Child = ServerProcess;

// A 64-way race is exactly what the rate limits throttle: they are tested in rate-limits.test.ts.
export const startChild = (name: string, dbUrl: string): Promise<Child> =>
  startServerProcess({
    name,
    db: dbUrl,
    adminToken: ADMIN,
    env: { MINA_AUTH_LOG_LEVEL: "error", MINA_AUTH_RATE_LIMITS: "false" },
  });
export const alive = isRunning;
export const stopChild = stopServerProcess;

// --- HTTP helpers -------------------------------------------------------------------------------

export const mint = (base: string, userId: string = DEMO.visibleUser) =>
  call(base, "POST", "/admin/v1/login-codes", { app_id: DEMO.appId, user_id: userId }, ADMIN);
export const exchange = (base: string, code: string, token: string) =>
  call(base, "POST", "/open-apis/mina/v2/tokenLoginValidate", { code }, token);
export const userInfo = (base: string, accessToken: string) =>
  call(base, "GET", "/open-apis/authen/v1/user_info", undefined, accessToken);
export const refresh = (base: string, refreshToken: string, token: string) =>
  call(
    base,
    "POST",
    "/open-apis/authen/v1/oidc/refresh_access_token",
    { grant_type: "refresh_token", refresh_token: refreshToken },
    token,
  );

export async function mintCode(base: string, userId?: string): Promise<string> {
  const res = await mint(base, userId);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.code;
}

export interface Acked {
  by: string;
  code: string;
  accessToken: string;
  refreshToken: string;
}

export async function login(base: string, token: string, by: string, userId?: string): Promise<Acked> {
  const code = await mintCode(base, userId);
  const res = await exchange(base, code, token);
  assert.equal(res.body.code, 0, JSON.stringify(res.body));
  return { by, code, accessToken: res.body.data.access_token, refreshToken: res.body.data.refresh_token };
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** What an acknowledged login must still do through `base`: user_info 0, and (optionally) refresh 0. */
export async function brokenLogins(
  acked: Acked[],
  base: string,
  token: string,
  withRefresh: (a: Acked) => boolean,
) {
  const failures: string[] = [];
  await eachLimited(acked, 16, async (a) => {
    const info = await userInfo(base, a.accessToken);
    if (info.body.code !== 0) failures.push(`${a.by}: user_info ${info.body.code}`);
    if (withRefresh(a)) {
      const refreshed = await refresh(base, a.refreshToken, token);
      if (refreshed.body.code !== 0) failures.push(`${a.by}: refresh ${refreshed.body.code}`);
    }
  });
  return failures;
}

/** One query on the test database, on a connection of its own (PostgreSQL restarts below). */
export async function sql<R extends pg.QueryResultRow>(
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  const client = new pg.Client({ connectionString: currentDatabaseUrl });
  client.on("error", () => {});
  await client.connect();
  try {
    return await client.query<R>(text, values);
  } finally {
    await client.end().catch(() => {});
  }
}
let currentDatabaseUrl = "";

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// --- the two instances --------------------------------------------------------------------------

/** Two child processes, A and B, on one fresh database; the suite's tests share them. */
export interface TwoInstances {
  readonly database: TestDatabase;
  readonly a: Child;
  readonly b: Child;
  readonly tokenA: string;
  readonly tokenB: string;
  /** A third process a test may start (S3): stopped with the others. */
  a2: Child | undefined;
}

/**
 * Starts A and B in the calling suite's `before` and stops them (and A2), then drops the
 * database, in its `after`, once PostgreSQL runs again (a restart may have failed midway). What
 * it returns names them from that `before` on.
 */
export function twoInstances(): TwoInstances {
  const started: { -readonly [K in Exclude<keyof TwoInstances, "a2">]?: TwoInstances[K] } = {};
  let a2: Child | undefined;
  before(async () => {
    const database = await createTestDatabase();
    started.database = database;
    currentDatabaseUrl = database.url;
    // One after the other: the first seeds the empty catalogue, the second finds it there.
    started.a = await startChild("A", database.url);
    started.b = await startChild("B", database.url);
    started.tokenA = await appToken(started.a.url);
    started.tokenB = await appToken(started.b.url);
  });
  after(async () => {
    await ensurePostgresRunning();
    await Promise.allSettled([stopChild(started.a), stopChild(started.b), stopChild(a2)]);
    await started.database?.drop();
  });
  const ready = <K extends keyof typeof started>(key: K): NonNullable<(typeof started)[K]> => {
    const value = started[key];
    if (value === undefined) throw new Error(`${key} is set up in the suite's before hook`);
    return value as NonNullable<(typeof started)[K]>;
  };
  return {
    get database() {
      return ready("database");
    },
    get a() {
      return ready("a");
    },
    get b() {
      return ready("b");
    },
    get tokenA() {
      return ready("tokenA");
    },
    get tokenB() {
      return ready("tokenB");
    },
    get a2() {
      return a2;
    },
    set a2(child) {
      a2 = child;
    },
  };
}

// --- PostgreSQL control -------------------------------------------------------------------------

export function pgCluster(action: "restart" | "start"): Promise<void> {
  const version = readdirSync("/etc/postgresql")[0];
  if (!version) return Promise.reject(new Error("no cluster under /etc/postgresql"));
  return new Promise((resolve, reject) =>
    execFile(
      "pg_ctlcluster",
      ["--skip-systemctl-redirect", version, "main", action],
      { timeout: 60_000 },
      (error, _stdout, stderr) =>
        error ? reject(new Error(`pg_ctlcluster ${action}: ${stderr || error.message}`)) : resolve(),
    ),
  );
}

/** PostgreSQL must be running when this file ends, even after a failure mid-restart. */
async function ensurePostgresRunning(): Promise<void> {
  // Only a suite that found PostgreSQL runs its hooks; only the restart case stops it.
  if (restartSkipReason() !== false) return;
  for (let attempt = 0; attempt < 50; attempt++) {
    if ((await probePostgres()).ok) return;
    if (attempt === 0 || attempt === 20) await pgCluster("start").catch(() => {});
    await sleep(200);
  }
}
