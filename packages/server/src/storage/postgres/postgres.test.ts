/**
 * The PostgreSQL adapter against a real PostgreSQL: a fresh database per test run
 * (`mina_auth_test_<random>`, dropped with FORCE afterwards), one schema per storage so that
 * every test starts empty.
 *
 * Without a reachable PostgreSQL these tests skip with the reason, except with CI=true, where
 * that is a failure.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { runStorageContract } from "../contract-suite.ts";
import type { ExchangeInput, Storage } from "../port.ts";
import { StorageUnavailableError } from "../port.ts";
import type { StorageTestHooks } from "../test-hooks.ts";
import { translateError } from "./errors.ts";
import { exchangeBatchWith } from "./flow.ts";
import { loadMigrations, MIGRATION_LOCK_KEY } from "./migrate.ts";
import { createPostgresStorage, type PostgresStorageOptions } from "./postgres-storage.ts";
import { createTestDatabase, probePostgres, type TestDatabase } from "./test-database.ts";

const probe = await probePostgres();
const inCi = process.env.CI === "true";
const skip = probe.ok ? false : `${probe.reason}; start it or set MINA_AUTH_TEST_PG_ADMIN_URL`;

if (!probe.ok && inCi) {
  test("PostgreSQL is reachable (required with CI=true)", () => {
    assert.fail(probe.reason);
  });
}
if (!probe.ok && !inCi) {
  test("storage contract: postgres", { skip }, () => {});
}

let database: TestDatabase | null = null;
let admin: pg.Client | null = null;
let schemaCounter = 0;
const opened: Storage[] = [];

before(async () => {
  if (!probe.ok) return;
  database = await createTestDatabase();
  admin = new pg.Client({ connectionString: database.url });
  admin.on("error", () => {});
  await admin.connect();
});

after(async () => {
  await Promise.allSettled(opened.map((storage) => storage.close()));
  await admin?.end().catch(() => {});
  await database?.drop();
});

const schemaByStorage = new WeakMap<Storage, string>();
const schemaOfUrl = (url: string) => new URL(url).searchParams.get("options")!.split("=")[1]!;
const schemaOf = (storage: Storage) => schemaByStorage.get(storage)!;

/** A URL of the test database whose connections work in a fresh, empty schema. */
async function freshSchemaUrl(): Promise<string> {
  const schema = `t${++schemaCounter}_${randomBytes(3).toString("hex")}`;
  await admin!.query(`CREATE SCHEMA ${schema}`);
  const url = new URL(database!.url);
  url.searchParams.set("options", `-c search_path=${schema}`);
  return url.toString();
}

/** A migrated storage on a fresh schema; closed after the run. */
async function openStorage(
  extra: Partial<PostgresStorageOptions> = {},
  url?: string,
): Promise<{ storage: Storage; url: string }> {
  const target = url ?? (await freshSchemaUrl());
  const storage = createPostgresStorage({ url: target, poolSize: 8, ...extra });
  opened.push(storage);
  schemaByStorage.set(storage, schemaOfUrl(target));
  await storage.migrate();
  return { storage, url: target };
}

/** Rounds of the concurrency tests; raise with MINA_AUTH_PG_ROUNDS for a longer one-off run. */
const ROUNDS = Number(process.env.MINA_AUTH_PG_ROUNDS ?? 25);
const sha = (value: string) => createHash("sha256").update(value).digest("hex");
const NOW = 1_750_000_000_000;
const TENANT = "2c5914ac018f97";
const APP = "cli_a1b2c3d4e5f6a7b8";
const OTHER_APP = "cli_0000000000000001";

async function seed(storage: Storage): Promise<void> {
  await storage.upsertTenant({ tenantKey: TENANT, name: "Acme" });
  await storage.upsertUser({
    tenantKey: TENANT,
    userId: "6c486g",
    unionId: `on_${"a".repeat(32)}`,
    name: "Zhang San",
    enName: "San Zhang",
    email: "zhangsan@acme.test",
    mobile: null,
    avatarUrl: "https://example.test/a.png",
    status: "active",
    departmentIds: ["d1"],
  });
  for (const appId of [APP, OTHER_APP]) {
    await storage.upsertApp({
      appId,
      name: appId,
      type: "self_built",
      scopes: ["contact:user.employee_id:readonly"],
      secretHash: sha(`secret-${appId}`),
    });
    await storage.upsertInstallation({ appId, tenantKey: TENANT, visibility: { all: true } });
    await storage.ensureOpenId(appId, TENANT, "6c486g", `ou_${randomBytes(16).toString("hex")}`);
  }
}

async function mint(storage: Storage, now = NOW): Promise<string> {
  const codeHash = sha(randomBytes(16).toString("hex"));
  await storage.saveLoginCodes([
    {
      codeHash,
      appId: APP,
      tenantKey: TENANT,
      userId: "6c486g",
      issuedAt: now,
      expiresAt: now + 180_000,
    },
  ]);
  return codeHash;
}

function exchangeInput(codeHash: string, overrides: Partial<ExchangeInput> = {}): ExchangeInput {
  const tag = randomBytes(16).toString("hex");
  return {
    codeHash,
    appId: APP,
    now: NOW + 1000,
    grantId: `g_${tag}`,
    sessionKeyHash: sha(`sk-${tag}`),
    tokens: {
      accessTokenHash: sha(`u-${tag}`),
      accessExpiresAt: NOW + 6_901_000,
      refreshTokenHash: sha(`ur-${tag}`),
    },
    familyExpiresAt: NOW + 30 * 86_400_000,
    revokeGrantOnReuse: true,
    ...overrides,
  };
}

/** The code was left exactly as it was: unconsumed, and it redeems now. */
async function assertUnconsumedThenIssued(storage: Storage, codeHash: string): Promise<void> {
  const { rows } = await admin!.query(
    `SELECT consumed_at FROM ${schemaOf(storage)}.login_codes WHERE code_hash = $1`,
    [codeHash],
  );
  assert.equal(rows[0].consumed_at, null);
  assert.equal(
    (await storage.exchangeLoginCode(exchangeInput(codeHash))).kind,
    "issued",
    "the retry succeeds",
  );
}

/** Another session's open transaction holding a code's row, as a stalled or cut-off one would. */
async function lockCodeRow(schema: string, codeHash: string): Promise<pg.Client> {
  const holder = new pg.Client({ connectionString: database!.url });
  holder.on("error", () => {});
  await holder.connect();
  await holder.query("BEGIN");
  await holder.query(`SELECT 1 FROM ${schema}.login_codes WHERE code_hash = $1 FOR UPDATE`, [codeHash]);
  return holder;
}

/** Releases everyone once `size` callers wait (a test-only pause before the conditional write). */
function barrier(size: number): StorageTestHooks & { reset(): void } {
  let waiting: Array<() => void> = [];
  return {
    beforeConsume() {
      return new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (waiting.length >= size) {
          for (const release of waiting.splice(0)) release();
        }
      });
    },
    reset() {
      waiting = [];
    },
  };
}

describe("postgres adapter", { skip }, () => {
  test("migrate is idempotent and safe when several instances start at once", async () => {
    const url = await freshSchemaUrl();
    const storages = Array.from({ length: 4 }, () => createPostgresStorage({ url, poolSize: 2 }));
    opened.push(...storages);
    await Promise.all(storages.map((s) => s.migrate()));
    await storages[0]!.migrate();
    const { rows } = await admin!.query<{ version: number }>(
      `SELECT version FROM ${schemaOfUrl(url)}.schema_migrations`,
    );
    assert.deepEqual(
      rows.map((r) => r.version).sort((a, b) => a - b),
      (await loadMigrations()).map((m) => m.version),
      "every migration recorded once",
    );
  });

  test("a code is issued once, then reused revokes its grant, another app is foreign", async () => {
    const { storage } = await openStorage();
    await seed(storage);
    const code = await mint(storage);
    assert.deepEqual(await storage.exchangeLoginCode(exchangeInput(code, { appId: OTHER_APP })), {
      kind: "foreign",
    });
    const first = exchangeInput(code);
    const issued = await storage.exchangeLoginCode(first);
    assert.equal(issued.kind, "issued");
    const subject = await storage.findAccessToken(first.tokens.accessTokenHash, NOW + 2000);
    assert.equal(subject?.identity.grantId, first.grantId);
    assert.deepEqual(await storage.exchangeLoginCode(exchangeInput(code)), {
      kind: "reused",
      revokedGrantId: first.grantId,
    });
    assert.equal(await storage.findAccessToken(first.tokens.accessTokenHash, NOW + 2000), null);
    assert.deepEqual(await storage.exchangeLoginCode(exchangeInput(code, { now: NOW + 180_000 })), {
      kind: "invalid",
    });
    const events = (await storage.listAuditEvents(10)).map((e) => e.type);
    assert.deepEqual(events, ["login_code.reused", "grant.revoked", "login_code.consumed"]);
  });

  test("refresh rotates once; a replay revokes the family", async () => {
    const { storage } = await openStorage();
    await seed(storage);
    const first = exchangeInput(await mint(storage));
    await storage.exchangeLoginCode(first);
    const next = exchangeInput("x").tokens;
    const rotated = await storage.rotateRefreshToken({
      refreshTokenHash: first.tokens.refreshTokenHash,
      appId: APP,
      now: NOW + 5000,
      next,
    });
    assert.equal(rotated.kind, "rotated");
    assert.equal(rotated.kind === "rotated" && rotated.familyExpiresAt, first.familyExpiresAt);
    const replay = await storage.rotateRefreshToken({
      refreshTokenHash: first.tokens.refreshTokenHash,
      appId: APP,
      now: NOW + 6000,
      next: exchangeInput("y").tokens,
    });
    assert.deepEqual(replay, { kind: "reused", revokedGrantId: first.grantId });
    const after = await storage.rotateRefreshToken({
      refreshTokenHash: next.refreshTokenHash,
      appId: APP,
      now: NOW + 7000,
      next: exchangeInput("z").tokens,
    });
    assert.deepEqual(after, { kind: "revoked" });
  });

  test("rate limits count across instances sharing the database", async () => {
    const { storage: a, url } = await openStorage();
    const { storage: b } = await openStorage({}, url);
    const hit = (s: Storage) =>
      s.hitRateLimit({ key: "secret:cli_x", now: NOW + 10, windowMs: 60_000, limit: 3 });
    const results = await Promise.all([hit(a), hit(b), hit(a), hit(b), hit(a)]);
    assert.equal(results.filter((r) => r.allowed).length, 3);
    assert.ok(
      results.filter((r) => !r.allowed).every((r) => r.retryAfterMs === 60_000 - (NOW % 60_000) - 10),
    );
  });

  test("int8 beyond Number.MAX_SAFE_INTEGER is refused, not rounded", async () => {
    const { storage } = await openStorage();
    await seed(storage);
    await assert.rejects(
      storage.latestAppToken("app", APP, null, 0).then(async () => {
        await storage.saveAppToken({
          tokenHash: sha("t"),
          kind: "app",
          appId: APP,
          tenantKey: null,
          salt: "s",
          issuedAt: NOW,
          expiresAt: NOW + 1,
        });
        await admin!.query(
          `UPDATE ${schemaOf(storage)}.app_tokens SET expires_at = 9007199254740993 WHERE token_hash = $1`,
          [sha("t")],
        );
        return storage.findAppToken(sha("t"), NOW);
      }),
      RangeError,
    );
  });

  test("connection failures are StorageUnavailableError; constraint errors are not", async () => {
    const refused = createPostgresStorage({
      url: "postgres://postgres@127.0.0.1:1/none",
      connectTimeoutMs: 500,
    });
    opened.push(refused);
    await assert.rejects(refused.ping(), StorageUnavailableError);
    await assert.rejects(refused.exchangeLoginCode(exchangeInput(sha("c"))), StorageUnavailableError);
    assert.ok(
      translateError(Object.assign(new Error("x"), { code: "57P01" })) instanceof StorageUnavailableError,
    );
    assert.ok(
      translateError(Object.assign(new Error("x"), { code: "40001" })) instanceof StorageUnavailableError,
    );
    assert.ok(
      !(translateError(Object.assign(new Error("x"), { code: "23505" })) instanceof StorageUnavailableError),
    );
    assert.ok(
      translateError(new Error("Connection terminated unexpectedly")) instanceof StorageUnavailableError,
    );
    assert.ok(!(translateError(new TypeError("bug")) instanceof StorageUnavailableError));
  });

  test("the pool recovers after every backend connection is terminated (as on a restart)", async () => {
    const { storage } = await openStorage();
    await seed(storage);
    await Promise.all(Array.from({ length: 8 }, () => storage.ping()));
    const code = await mint(storage);
    // Kill this storage's connections, idle ones included, as an admin shutdown would.
    const killed = await admin!.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'mina-auth'`,
    );
    assert.ok(killed.rowCount! > 0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The first calls may fail (transiently, never as a domain outcome); then it works again.
    let outcome: Awaited<ReturnType<Storage["exchangeLoginCode"]>> | null = null;
    for (let attempt = 0; attempt < 20 && outcome === null; attempt++) {
      try {
        outcome = await storage.exchangeLoginCode(exchangeInput(code));
      } catch (error) {
        assert.ok(error instanceof StorageUnavailableError, String(error));
      }
    }
    assert.equal(outcome?.kind, "issued");
  });

  test("a connection killed mid-transaction fails transiently, leaves the code unconsumed", async () => {
    const { storage } = await openStorage();
    await seed(storage);
    const code = await mint(storage);
    const schema = schemaOf(storage);
    // Hold the code's row lock so that the exchange's conditional UPDATE waits inside its transaction.
    const holder = await lockCodeRow(schema, code);
    const pending = assert.rejects(storage.exchangeLoginCode(exchangeInput(code)), StorageUnavailableError);
    let waiting = 0;
    for (let i = 0; i < 100 && waiting === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      const { rows } = await admin!.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'mina-auth' AND wait_event_type = 'Lock'`,
      );
      for (const row of rows) await admin!.query("SELECT pg_terminate_backend($1)", [row.pid]);
      waiting = rows.length;
    }
    assert.equal(waiting, 1);
    await pending;
    await holder.query("ROLLBACK");
    await holder.end();
    await assertUnconsumedThenIssued(storage, code);
  });

  test("an exchange stalled on a row lock does not hold up the others: they are issued while it waits", {
    timeout: 10_000,
  }, async () => {
    const { storage } = await openStorage();
    await seed(storage);
    const [stuck, ...others] = await Promise.all(Array.from({ length: 4 }, () => mint(storage)));
    const schema = schemaOf(storage);
    const holder = await lockCodeRow(schema, stuck!);
    try {
      let stuckSettled = false;
      const stalled = storage.exchangeLoginCode(exchangeInput(stuck!)).finally(() => {
        stuckSettled = true;
      });
      const outcomes = await Promise.all(
        others.map((code) => storage.exchangeLoginCode(exchangeInput(code))),
      );
      assert.deepEqual(
        outcomes.map((o) => o.kind),
        ["issued", "issued", "issued"],
      );
      assert.equal(stuckSettled, false, "the others were answered while the stalled one still waited");
      await holder.query("ROLLBACK");
      assert.equal((await stalled).kind, "issued", "once the lock is gone the stalled exchange completes");
    } finally {
      await holder.end();
    }
  });

  test("migrate waits for another instance's migration however long it takes: lockTimeoutMs does not apply", async () => {
    const url = await freshSchemaUrl();
    const storage = createPostgresStorage({ url, poolSize: 2, lockTimeoutMs: 100 });
    opened.push(storage);
    const holder = new pg.Client({ connectionString: database!.url });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY.toString()]);
      let migrated = false;
      const migrating = storage.migrate().then(() => {
        migrated = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal(migrated, false, "still waiting for the lock");
      await holder.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY.toString()]);
      await migrating;
    } finally {
      await holder.end();
    }
    await seed(storage);
    assert.equal((await storage.exchangeLoginCode(exchangeInput(await mint(storage)))).kind, "issued");
  });

  test("an exchange whose code row stays locked fails as retryable after lockTimeoutMs, and the code stays unconsumed", {
    timeout: 10_000,
  }, async () => {
    const { storage } = await openStorage({ lockTimeoutMs: 200 });
    await seed(storage);
    const [stuck, other] = await Promise.all([mint(storage), mint(storage)]);
    const schema = schemaOf(storage);
    const holder = await lockCodeRow(schema, stuck!);
    try {
      const started = performance.now();
      await assert.rejects(storage.exchangeLoginCode(exchangeInput(stuck!)), StorageUnavailableError);
      const waited = performance.now() - started;
      // The batch statement, then the per-exchange path, each gave up after the lock timeout.
      assert.ok(waited >= 200 && waited < 5_000, `failed after ${waited.toFixed(0)} ms`);
      assert.equal((await storage.exchangeLoginCode(exchangeInput(other!))).kind, "issued");
    } finally {
      await holder.query("ROLLBACK");
      await holder.end();
    }
    await assertUnconsumedThenIssued(storage, stuck!);
  });

  test("the race has teeth: a read-then-write redemption on the same database lets several win", async () => {
    const { storage, url } = await openStorage();
    await seed(storage);
    const code = await mint(storage);
    const gate = barrier(8);
    const pool = new pg.Pool({ connectionString: url, max: 8 });
    pool.on("error", () => {});
    try {
      // What ory/hydra#1719 did: read "unused" under READ COMMITTED, then write unconditionally.
      const naive = async () => {
        const client = await pool.connect();
        try {
          await client.query("BEGIN");
          const { rows } = await client.query("SELECT consumed_at FROM login_codes WHERE code_hash = $1", [
            code,
          ]);
          await gate.beforeConsume!();
          if (rows[0].consumed_at !== null) return false;
          await client.query("UPDATE login_codes SET consumed_at = $1 WHERE code_hash = $2", [NOW, code]);
          await client.query("COMMIT");
          return true;
        } finally {
          client.release();
        }
      };
      const winners = (await Promise.all(Array.from({ length: 8 }, naive))).filter(Boolean).length;
      assert.ok(winners > 1, `naive winners: ${winners}`);
    } finally {
      await pool.end();
    }
  });

  for (const batched of [false, true]) {
    test(`64 concurrent redemptions over two instances: exactly one issued (${batched ? "batched" : "one transaction each"})`, async () => {
      const gate = barrier(64);
      const options = { hooks: gate, batchExchanges: batched };
      const { storage: a, url } = await openStorage(options);
      const { storage: b } = await openStorage(options, url);
      await seed(a);
      const rounds = ROUNDS;
      for (let round = 0; round < rounds; round++) {
        gate.reset();
        const code = await mint(a);
        const outcomes = await Promise.all(
          Array.from({ length: 64 }, (_, i) =>
            (i % 2 === 0 ? a : b).exchangeLoginCode(exchangeInput(code, { revokeGrantOnReuse: false })),
          ),
        );
        const kinds = outcomes.map((o) => o.kind);
        assert.equal(kinds.filter((k) => k === "issued").length, 1, `round ${round}: ${kinds.join(",")}`);
        assert.equal(kinds.filter((k) => k === "reused").length, 63);
      }
      const { rows } = await admin!.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${schemaOfUrl(url)}.grants`,
      );
      assert.equal(Number(rows[0]!.n), rounds);
    });
  }

  test("one statement decides a batch; what it cannot decide is left to the per-exchange path", async () => {
    const { storage, url } = await openStorage({ batchExchanges: false });
    await seed(storage);
    const schema = schemaOf(storage);
    // A user without an open_id for APP, and one the app cannot see.
    const lisi = {
      ...(await storage.getUser(TENANT, "6c486g"))!,
      userId: "7d597h",
      unionId: `on_${"b".repeat(32)}`,
    };
    await storage.upsertUser(lisi);
    await storage.upsertUser({ ...lisi, userId: "8e6a8i", status: "deactivated" });
    await storage.ensureOpenId(APP, TENANT, "8e6a8i", `ou_${randomBytes(16).toString("hex")}`);
    const codeFor = async (userId: string) => {
      const codeHash = sha(randomBytes(16).toString("hex"));
      await storage.saveLoginCodes([
        {
          codeHash,
          appId: APP,
          tenantKey: TENANT,
          userId,
          issuedAt: NOW,
          expiresAt: NOW + 180_000,
        },
      ]);
      return codeHash;
    };
    const fresh = [await mint(storage), await mint(storage)];
    const duplicate = await mint(storage);
    const consumed = await mint(storage);
    await storage.exchangeLoginCode(exchangeInput(consumed));
    const expired = await mint(storage, NOW - 180_000);
    const hidden = await codeFor("8e6a8i");
    const noOpenId = await codeFor("7d597h");
    const inputs = [
      exchangeInput(fresh[0]!),
      exchangeInput(duplicate),
      exchangeInput(sha("unknown")),
      exchangeInput(fresh[1]!, { appId: OTHER_APP }),
      exchangeInput(consumed),
      exchangeInput(expired),
      exchangeInput(hidden),
      exchangeInput(noOpenId),
      exchangeInput(duplicate),
      exchangeInput(fresh[1]!),
    ];
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    pool.on("error", () => {});
    let outcomes: Awaited<ReturnType<typeof exchangeBatchWith>>;
    try {
      outcomes = await exchangeBatchWith(pool, inputs);
    } finally {
      await pool.end();
    }
    const kinds = outcomes.map((o) => o?.kind ?? null);
    // The second entry of the duplicated code may be the one that wins: which one is PostgreSQL's choice.
    const [dupA, dupB] = [kinds[1], kinds[8]];
    assert.deepEqual([dupA, dupB].sort(), ["issued", null]);
    assert.deepEqual(
      [kinds[0], kinds[2], kinds[3], kinds[4], kinds[5], kinds[6], kinds[7], kinds[9]],
      ["issued", null, null, null, null, "not_visible", null, "issued"],
    );
    const first = outcomes[0];
    assert.ok(first?.kind === "issued");
    assert.deepEqual(first.identity, {
      grantId: inputs[0]!.grantId,
      appId: APP,
      tenantKey: TENANT,
      userId: "6c486g",
      openId: await storage.ensureOpenId(APP, TENANT, "6c486g", "ou_unused"),
      scopes: ["contact:user.employee_id:readonly"],
    });
    // Committed when the statement answered: the tokens work, the code points at its grant.
    const subject = await storage.findAccessToken(inputs[0]!.tokens.accessTokenHash, NOW + 2000);
    assert.equal(subject?.identity.grantId, inputs[0]!.grantId);
    const codes = await admin!.query<{
      code_hash: string;
      consumed_at: string | null;
      grant_id: string | null;
    }>(`SELECT code_hash, consumed_at, grant_id FROM ${schema}.login_codes WHERE code_hash = ANY ($1)`, [
      [fresh[0], hidden, noOpenId, expired, duplicate],
    ]);
    const byHash = new Map(codes.rows.map((row) => [row.code_hash, row]));
    assert.equal(byHash.get(fresh[0]!)?.grant_id, inputs[0]!.grantId);
    assert.notEqual(byHash.get(hidden)?.consumed_at, null, "a code the user may not use is consumed anyway");
    assert.equal(byHash.get(hidden)?.grant_id, null);
    assert.equal(byHash.get(noOpenId)?.consumed_at, null, "left unconsumed for the per-exchange path");
    assert.equal(byHash.get(expired)?.consumed_at, null);
    const winner = dupA === "issued" ? inputs[1]! : inputs[8]!;
    assert.equal(byHash.get(duplicate)?.grant_id, winner.grantId);
    const grants = await admin!.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.grants`);
    assert.equal(Number(grants.rows[0]!.n), 4, "the earlier login and the three issued here");
    const events = (await storage.listAuditEvents(10)).map((e) => e.type).sort();
    assert.deepEqual(events, [...Array(4).fill("login_code.consumed"), "login_code.rejected_visibility"]);
    // And the entries it left undecided end as before on the default (batched) storage.
    const { storage: batched } = await openStorage({}, url);
    const later = await Promise.all(
      [2, 3, 4, 5, 7].map((i) => batched.exchangeLoginCode({ ...inputs[i]!, revokeGrantOnReuse: false })),
    );
    assert.deepEqual(
      later.map((o) => o.kind),
      ["invalid", "foreign", "reused", "invalid", "issued"],
    );
  });

  test("a batch whose one exchange fails: the others are issued, the failing code stays unconsumed", async () => {
    // One batch in flight at a time: the first exchange goes alone, the next five queue into one batch.
    const gate = barrier(6);
    const { storage, url } = await openStorage({ hooks: gate, batchExchanges: { maxInFlight: 1 } });
    await seed(storage);
    const earlier = exchangeInput(await mint(storage));
    gate.reset();
    const filler = Array.from({ length: 5 }, () => gate.beforeConsume!());
    await Promise.all([storage.exchangeLoginCode(earlier), ...filler]);
    gate.reset();
    const codes = await Promise.all(Array.from({ length: 6 }, () => mint(storage)));
    const inputs = codes.map((code) => exchangeInput(code));
    // The same access-token hash as an existing token: a unique violation inside the batch statement.
    inputs[3] = exchangeInput(codes[3]!, {
      tokens: { ...inputs[3]!.tokens, accessTokenHash: earlier.tokens.accessTokenHash },
    });
    const results = await Promise.allSettled(inputs.map((input) => storage.exchangeLoginCode(input)));
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value.kind : "rejected")),
      ["issued", "issued", "issued", "rejected", "issued", "issued"],
    );
    const failure = (results[3] as PromiseRejectedResult).reason as { code?: string };
    assert.equal(failure.code, "23505", "a bug-class failure is passed on, not reported as unavailable");
    const { rows } = await admin!.query<{ consumed_at: string | null }>(
      `SELECT consumed_at FROM ${schemaOfUrl(url)}.login_codes WHERE code_hash = $1`,
      [codes[3]],
    );
    assert.equal(rows[0]!.consumed_at, null);
  });

  test("16 concurrent refreshes of one token over two instances: exactly one rotated", async () => {
    const gate = barrier(16);
    const { storage: a, url } = await openStorage({ hooks: gate });
    const { storage: b } = await openStorage({ hooks: gate }, url);
    await seed(a);
    for (let round = 0; round < ROUNDS; round++) {
      gate.reset();
      const login = exchangeInput(await mint(a));
      // Let the exchange itself pass the gate.
      const exchanged = a.exchangeLoginCode(login);
      const filler = Array.from({ length: 15 }, () => gate.beforeConsume!());
      await Promise.all([exchanged, ...filler]);
      gate.reset();
      const outcomes = await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          (i % 2 === 0 ? a : b).rotateRefreshToken({
            refreshTokenHash: login.tokens.refreshTokenHash,
            appId: APP,
            now: NOW + 10_000,
            next: exchangeInput("n").tokens,
          }),
        ),
      );
      const kinds = outcomes.map((o) => o.kind);
      assert.equal(kinds.filter((k) => k === "rotated").length, 1, `round ${round}: ${kinds.join(",")}`);
      assert.ok(kinds.every((k) => k === "rotated" || k === "reused" || k === "revoked"));
    }
  });

  test("instances purging at once neither deadlock nor leave a token without its grant", async () => {
    const { storage, url } = await openStorage();
    await seed(storage);
    const schema = schemaOf(storage);
    const cut = NOW + 120 * 86_400_000;
    const endedBy = cut - 60 * 86_400_000 - 1000; // past its family's end and ENDED_GRANT_KEPT_MS
    // 600 ended grants, each one row with an expired access token and its current refresh
    // token, and a spent refresh token each, so that every instance's picks overlap the others'
    // grants; and one live grant that stays.
    await admin!.query(
      `INSERT INTO ${schema}.grants (grant_id, app_id, tenant_key, user_id, session_key_hash, code_hash, created_at,
                                     expires_at, access_hash, access_expires_at, refresh_hash)
       SELECT 'g_' || n, $1, $2, '6c486g', 'sk', 'c', $3::bigint, $4::bigint,
              'a_g_' || n, $3::bigint + 6900000, 'r2_g_' || n FROM generate_series(1, 600) AS n
       UNION ALL SELECT 'g_live', $1, $2, '6c486g', 'sk', 'c', $5::bigint, $5::bigint + 86400000,
              'a_g_live', $5::bigint + 6900000, 'r2_g_live'`,
      [APP, TENANT, endedBy - 30 * 86_400_000, endedBy, cut],
    );
    await admin!.query(
      `INSERT INTO ${schema}.spent_refresh_tokens (token_hash, grant_id, spent_at)
       SELECT 'r1_' || grant_id, grant_id, created_at FROM ${schema}.grants`,
    );
    const others = await Promise.all([openStorage({}, url), openStorage({}, url)]);
    const instances = [storage, ...others.map((o) => o.storage)];
    const purgeUntilDone = async (instance: Storage) => {
      for (let calls = 0; calls < 1000; calls++) if ((await instance.purgeExpired(cut, 100)) === 0) return;
    };
    // Several rounds: an instance that found the purge lock taken stops early, as its timer would.
    for (let round = 0; round < 10; round++) {
      const results = await Promise.allSettled(instances.map(purgeUntilDone));
      const failures = results.filter((r) => r.status === "rejected").map((r) => String(r.reason));
      assert.deepEqual(failures, [], `round ${round}`);
    }
    const { rows } = await admin!.query<{ grants: string; access: string; spent: string; orphans: string }>(
      `SELECT (SELECT count(*) FROM ${schema}.grants) AS grants,
              (SELECT count(*) FROM ${schema}.grants WHERE access_hash IS NOT NULL) AS access,
              (SELECT count(*) FROM ${schema}.spent_refresh_tokens) AS spent,
              (SELECT count(*) FROM ${schema}.spent_refresh_tokens r
                WHERE NOT EXISTS (SELECT 1 FROM ${schema}.grants g WHERE g.grant_id = r.grant_id)) AS orphans`,
    );
    assert.deepEqual(
      rows[0],
      { grants: "1", access: "1", spent: "1", orphans: "0" },
      "only the live grant is left",
    );
  });
});

if (probe.ok) {
  // The suite seeds random ids in every test, so all its storages share the run's database.
  runStorageContract("postgres, one transaction per exchange", async (hooks) =>
    createPostgresStorage({
      url: database!.url,
      poolSize: 10,
      batchExchanges: false,
      ...(hooks ? { hooks } : {}),
    }),
  );
  // The default: batched exchanges, one statement per batch.
  runStorageContract("postgres, batched exchanges", async (hooks) =>
    createPostgresStorage({ url: database!.url, poolSize: 10, ...(hooks ? { hooks } : {}) }),
  );
}
