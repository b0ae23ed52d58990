/**
 * The PostgreSQL adapter against a real PostgreSQL (see test-kit.ts): the storage contract suite,
 * migrations, outcomes across instances, failures and locks.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import pg from "pg";
import { runStorageContract } from "../contract-suite.ts";
import type { Storage } from "../port.ts";
import { StorageUnavailableError } from "../port.ts";
import { translateError } from "./errors.ts";
import { loadMigrations, MIGRATION_LOCK_KEY } from "./migrate.ts";
import { createPostgresStorage } from "./postgres-storage.ts";
import {
  APP,
  admin,
  assertUnconsumedThenIssued,
  barrier,
  database,
  exchangeInput,
  freshSchemaUrl,
  lockCodeRow,
  mint,
  NOW,
  OTHER_APP,
  opened,
  openStorage,
  probe,
  ROUNDS,
  schemaOf,
  schemaOfUrl,
  seed,
  sha,
  skip,
} from "./test-kit.ts";

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
      kind: "expired",
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
