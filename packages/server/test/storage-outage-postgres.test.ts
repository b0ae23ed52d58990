/**
 * Issue 14, item 2: every way PostgreSQL can be unavailable answers the documented retryable
 * code with HTTP 200 and `Retry-After`, on every endpoint family: the app/tenant token
 * endpoints and tokenLoginValidate (1500), refresh and user_info (20050), the admin API (1500).
 * Refused: `ALTER DATABASE … ALLOW_CONNECTIONS false` with its backends terminated (a database
 * this test created). Pool exhausted: a pool of one connection, held by an exchange waiting on
 * a row lock. Timed out: connections that are accepted and never answered (a proxy). Skips with
 * the reason without PostgreSQL, except with CI=true.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Errors, Paths } from "@mina-auth/protocol";
import pg from "pg";
import { storageKey } from "../src/secrets.ts";
import { createPostgresStorage } from "../src/storage/postgres/postgres-storage.ts";
import {
  createTestDatabase,
  postgresForTests,
  type TestDatabase,
  testAdminUrl,
} from "../src/storage/postgres/test-database.ts";
import {
  ADMIN_TOKEN,
  assertEnvelope,
  DEMO,
  startTestServer,
  type TestResponse,
  type TestServer,
} from "./harness.ts";
import { type CutProxy, startCutProxy } from "./pg-cut-proxy.ts";

const { skip } = await postgresForTests();

interface Session {
  appToken: string;
  accessToken: string;
  refreshToken: string;
  code: string;
}

async function session(t: TestServer): Promise<Session> {
  const appToken = await t.appToken();
  const res = await t.exchange(await t.mintCode(), appToken);
  assert.equal(res.body.code, 0, res.text);
  return {
    appToken,
    accessToken: res.body.data.access_token,
    refreshToken: res.body.data.refresh_token,
    code: await t.mintCode(),
  };
}

/** One request of each family, with the code it must answer while storage is down. */
function families(t: TestServer, s: Session): Array<[string, () => Promise<TestResponse>, number]> {
  const unavailable = Errors.StorageUnavailable.code;
  const authen = Errors.AuthenSystemError.code;
  return [
    [
      "app_access_token",
      () =>
        t.request("POST", Paths.appAccessToken, { body: { app_id: DEMO.appId, app_secret: DEMO.appSecret } }),
      unavailable,
    ],
    [
      "tenant_access_token",
      () =>
        t.request("POST", Paths.tenantAccessToken, {
          body: { app_id: DEMO.appId, app_secret: DEMO.appSecret },
        }),
      unavailable,
    ],
    ["tokenLoginValidate", () => t.exchange(s.code, s.appToken), unavailable],
    // Before refresh: a refresh ends the access token it replaces.
    ["user_info", () => t.request("GET", Paths.userInfo, { token: s.accessToken }), authen],
    [
      "refresh",
      () =>
        t.request("POST", Paths.refreshAccessToken, {
          token: s.appToken,
          body: { grant_type: "refresh_token", refresh_token: s.refreshToken },
        }),
      authen,
    ],
    ["admin API", () => t.request("GET", "/admin/v1/apps", { token: ADMIN_TOKEN }), unavailable],
  ];
}

async function assertAllRetryable(t: TestServer, s: Session): Promise<void> {
  for (const [name, call, code] of families(t, s)) {
    const res = await call();
    assertEnvelope(res, code);
    assert.equal(res.headers.get("retry-after"), "1", `${name}: ${res.text}`);
  }
}

/** After the outage, the same requests succeed: nothing was consumed or spent meanwhile. */
async function assertAllBack(t: TestServer, s: Session): Promise<void> {
  for (const [name, call] of families(t, s)) {
    const res = await call();
    // The admin API answers its resource as is; the platform endpoints code 0.
    assert.ok(res.status === 200 && (res.body.code ?? 0) === 0, `${name}: ${res.text}`);
  }
}

describe("PostgreSQL unavailable: every endpoint family answers retryable, HTTP 200", { skip }, () => {
  let database: TestDatabase;
  let t: TestServer;
  let proxy: CutProxy;
  let viaProxy: TestServer;

  before(async () => {
    database = await createTestDatabase();
    t = await startTestServer({ config: { db: database.url } });
    proxy = await startCutProxy(database.url);
    viaProxy = await startTestServer({
      storage: createPostgresStorage({ url: proxy.url, connectTimeoutMs: 300 }),
    });
  });
  after(async () => {
    await t?.close();
    await viaProxy?.close();
    await proxy?.close();
    await database?.drop();
  });

  test("refused: ALLOW_CONNECTIONS false and its backends terminated", async () => {
    const s = await session(t);
    const admin = new pg.Client({ connectionString: testAdminUrl() });
    await admin.connect();
    try {
      const name = pg.escapeIdentifier(database.name);
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [
        database.name,
      ]);
      try {
        await assertAllRetryable(t, s);
      } finally {
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      }
    } finally {
      await admin.end();
    }
    await assertAllBack(t, s);
  });

  test("pool exhausted: the only connection is held by an exchange waiting on a row lock", async () => {
    const storage = createPostgresStorage({
      url: database.url,
      poolSize: 1,
      connectTimeoutMs: 200,
      lockTimeoutMs: 10_000,
    });
    const small = await startTestServer({ storage });
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      const s = await session(small);
      const stuckCode = await small.mintCode();
      await holder.query("BEGIN");
      await holder.query("SELECT 1 FROM login_codes WHERE code_hash = $1 FOR UPDATE", [
        storageKey("login_code", stuckCode),
      ]);
      const stuck = small.exchange(stuckCode, s.appToken);
      // Wait (bounded) until the exchange holds the pool's one connection, blocked on the lock.
      for (let i = 0; ; i++) {
        const { rows } = await holder.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
        );
        if (rows[0]!.n > 0) break;
        assert.ok(i < 500, "the exchange never waited on the lock");
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await assertAllRetryable(small, s);
      await holder.query("ROLLBACK");
      assert.equal((await stuck).body.code, 0, "the held exchange completes once the lock is gone");
      await assertAllBack(small, s);
    } finally {
      await holder.end();
      await small.close();
    }
  });

  test("timed out: connections accepted and never answered", async () => {
    const s = await session(viaProxy);
    proxy.newConnections("hold");
    try {
      await assertAllRetryable(viaProxy, s);
    } finally {
      proxy.newConnections("forward");
    }
    await assertAllBack(viaProxy, s);
  });
});
