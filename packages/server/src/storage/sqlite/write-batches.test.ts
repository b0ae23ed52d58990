/**
 * The SQLite adapter's group commit and its failures: one event-loop turn of writes in one
 * transaction, an operation that throws rolling back alone, a failed audit write or COMMIT
 * failing the whole batch, and what close() leaves.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exchangeInput, mintCode, SECOND, seedWorld, sha256, T0 } from "../contract-suite.ts";
import type { LoginCodeRecord } from "../port.ts";
import { StorageUnavailableError } from "../port.ts";
import { openFile, tempPath } from "./test-files.ts";

describe("sqlite write batches", () => {
  it("a failure at any step of an exchange rolls back that exchange only: the code stays unconsumed", async () => {
    const storage = openFile(tempPath("inject"));
    try {
      await storage.migrate();
      const w = await seedWorld(storage);
      // The login's own writes: the code's consumption, then its one row.
      for (const table of ["login_codes", "grants"]) {
        const code = await mintCode(storage, w.app, w.alice, T0);
        const bystander = await mintCode(storage, w.app, w.bob, T0);
        storage.database.exec(
          `CREATE TEMP TRIGGER inject BEFORE ${table === "grants" ? "INSERT" : "UPDATE"} ON main.${table}
           WHEN ${table === "grants" ? "NEW" : "OLD"}.code_hash = '${code.record.codeHash}'
           BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
        );
        const failing = exchangeInput(code.record.codeHash, w.app.appId, T0 + SECOND);
        const [failed, other] = await Promise.allSettled([
          storage.exchangeLoginCode(failing.input),
          storage.upsertTenant({ tenantKey: w.other.tenantKey, name: `after ${table}` }),
        ]);
        storage.database.exec("DROP TRIGGER temp.inject");
        assert.equal(failed.status, "rejected", table);
        assert.equal(other.status, "fulfilled", `${table}: the batch-mate committed`);
        assert.equal((await storage.getTenant(w.other.tenantKey))?.name, `after ${table}`);
        assert.equal(await storage.findAccessToken(failing.input.tokens.accessTokenHash, T0 + SECOND), null);
        const grants = await storage.listGrants({ appId: w.app.appId, limit: 100 });
        assert.ok(!grants.some((g) => g.grantId === failing.input.grantId), `${table}: no half grant`);
        const retry = exchangeInput(code.record.codeHash, w.app.appId, T0 + 2 * SECOND);
        assert.equal(
          (await storage.exchangeLoginCode(retry.input)).kind,
          "issued",
          `${table}: code unconsumed`,
        );
        const ok = exchangeInput(bystander.record.codeHash, w.app.appId, T0 + 2 * SECOND);
        assert.equal((await storage.exchangeLoginCode(ok.input)).kind, "issued");
      }
    } finally {
      await storage.close();
    }
  });

  it("audit events are written with their batch: when that write fails, nothing of the batch commits", async () => {
    const storage = openFile(tempPath("inject-audit"));
    try {
      await storage.migrate();
      const w = await seedWorld(storage);
      const code = await mintCode(storage, w.app, w.alice, T0);
      storage.database.exec(
        `CREATE TEMP TRIGGER inject BEFORE INSERT ON main.audit_events
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
      );
      const failing = exchangeInput(code.record.codeHash, w.app.appId, T0 + SECOND);
      const results = await Promise.allSettled([
        storage.exchangeLoginCode(failing.input),
        storage.upsertTenant({ tenantKey: w.other.tenantKey, name: "never" }),
      ]);
      storage.database.exec("DROP TRIGGER temp.inject");
      for (const result of results) {
        assert.equal(result.status, "rejected");
        assert.ok((result as PromiseRejectedResult).reason instanceof StorageUnavailableError);
      }
      assert.notEqual((await storage.getTenant(w.other.tenantKey))?.name, "never");
      assert.equal(await storage.findAccessToken(failing.input.tokens.accessTokenHash, T0 + SECOND), null);
      // Never a committed login without its event: the retry issues, and its event is there.
      const retry = exchangeInput(code.record.codeHash, w.app.appId, T0 + 2 * SECOND);
      assert.equal((await storage.exchangeLoginCode(retry.input)).kind, "issued");
      const events = await storage.listAuditEvents(10);
      assert.deepEqual(
        events.filter((e) => e.grantId === retry.input.grantId).map((e) => e.type),
        ["login_code.consumed"],
      );
      assert.ok(!events.some((e) => e.grantId === failing.input.grantId));
    } finally {
      await storage.close();
    }
  });

  it("a throwing operation mid-batch: the batch runs again isolated, and the others apply exactly once", async () => {
    const storage = openFile(tempPath("retry"));
    try {
      await storage.migrate();
      const w = await seedWorld(storage);
      const [before, failing, afterward] = [
        await mintCode(storage, w.app, w.alice, T0),
        await mintCode(storage, w.app, w.alice, T0),
        await mintCode(storage, w.app, w.bob, T0),
      ];
      // Fails only the middle exchange's grant insert, after the first one already ran.
      storage.database.exec(
        `CREATE TEMP TRIGGER inject BEFORE INSERT ON main.grants WHEN NEW.code_hash = '${failing.record.codeHash}'
         BEGIN SELECT RAISE(ABORT, 'injected failure'); END`,
      );
      const inputs = [before, failing, afterward].map((c) =>
        exchangeInput(c.record.codeHash, w.app.appId, T0 + SECOND),
      );
      const batches = storage.writeStats.batches;
      const results = await Promise.allSettled(inputs.map(({ input }) => storage.exchangeLoginCode(input)));
      storage.database.exec("DROP TRIGGER temp.inject");
      assert.equal(storage.writeStats.batches - batches, 1, "one committed batch");
      assert.deepEqual(
        results.map((r) => (r.status === "fulfilled" ? r.value.kind : "rejected")),
        ["issued", "rejected", "issued"],
      );
      const count = (sql: string, ...args: string[]) =>
        (storage.database.prepare(sql).get(...args) as { n: number }).n;
      for (const i of [0, 2]) {
        const grantId = inputs[i]!.input.grantId;
        assert.equal(count("SELECT count(*) AS n FROM grants WHERE grant_id = ?", grantId), 1);
        assert.equal(
          count(
            "SELECT count(*) AS n FROM grants WHERE grant_id = ? AND access_hash = ?",
            grantId,
            inputs[i]!.input.tokens.accessTokenHash,
          ),
          1,
        );
        assert.equal(count("SELECT count(*) AS n FROM audit_events WHERE grant_id = ?", grantId), 1);
      }
      assert.equal(
        count(
          "SELECT count(*) AS n FROM login_codes WHERE code_hash = ? AND consumed_at IS NULL",
          failing.record.codeHash,
        ),
        1,
        "the failed exchange left its code unconsumed",
      );
    } finally {
      await storage.close();
    }
  });

  it("group commit: 37 logins in one commit all land, in order, and later operations of the same batch see them", async () => {
    const storage = openFile(tempPath("one-batch"));
    try {
      await storage.migrate();
      const w = await seedWorld(storage);
      const codes = [];
      for (let i = 0; i < 37; i++) codes.push(await mintCode(storage, w.app, i % 2 ? w.alice : w.bob, T0));
      const inputs = codes.map((c) => exchangeInput(c.record.codeHash, w.app.appId, T0 + SECOND).input);
      const replay = exchangeInput(codes[5]!.record.codeHash, w.app.appId, T0 + SECOND).input;
      const batches = storage.writeStats.batches;
      // All queued in one event-loop turn: one batch. An admin revocation and a replay come after
      // the 37 exchanges, in the same transaction, and must find what those wrote.
      const [results, revoked, replayed] = await Promise.all([
        Promise.all(inputs.map((input) => storage.exchangeLoginCode(input))),
        storage.revokeGrant(inputs[9]!.grantId, T0 + SECOND, "admin"),
        storage.exchangeLoginCode(replay),
      ]);
      assert.equal(storage.writeStats.batches - batches, 1, "one committed batch");
      assert.deepEqual(new Set(results.map((r) => r.kind)), new Set(["issued"]));
      assert.deepEqual(replayed, { kind: "reused", revokedGrantId: inputs[5]!.grantId });
      assert.equal(revoked, true, "the admin revocation found the grant its batch issued");

      const db = storage.database;
      const grants = db
        .prepare<[], { grant_id: string; revoked_at: number | null }>(
          "SELECT grant_id, revoked_at FROM grants ORDER BY rowid",
        )
        .all();
      assert.deepEqual(
        grants.map((g) => g.grant_id),
        inputs.map((i) => i.grantId),
      );
      assert.deepEqual(
        grants.filter((g) => g.revoked_at !== null).map((g) => g.grant_id),
        [inputs[5]!.grantId, inputs[9]!.grantId],
      );
      // Each login is one row holding its current tokens.
      const rows = db
        .prepare<[], { access_hash: string; refresh_hash: string }>(
          "SELECT access_hash, refresh_hash FROM grants ORDER BY rowid",
        )
        .all();
      assert.deepEqual(
        rows,
        inputs.map((i) => ({
          access_hash: i.tokens.accessTokenHash,
          refresh_hash: i.tokens.refreshTokenHash,
        })),
      );
      const audit = db
        .prepare<[], { type: string; grant_id: string }>(
          "SELECT type, grant_id FROM audit_events ORDER BY id",
        )
        .all()
        .filter((e) => e.grant_id !== null);
      assert.deepEqual(
        audit.slice(0, 37),
        inputs.map((i) => ({ type: "login_code.consumed", grant_id: i.grantId })),
      );
      assert.deepEqual(
        audit.slice(37).map((e) => e.type),
        ["grant.revoked", "grant.revoked", "login_code.reused"],
      );
    } finally {
      await storage.close();
    }
  });

  it("a failed COMMIT rejects every write of the batch, and none of them took effect", async () => {
    const storage = openFile(tempPath("commit"));
    try {
      await storage.migrate();
      const w = await seedWorld(storage);
      await storage.ensureOpenId(w.app.appId, w.bob.tenantKey, w.bob.userId, "ou_bob");
      const poison = sha256("poison");
      // A deferred foreign key is only checked at COMMIT: the savepoints all succeed, the
      // COMMIT fails.
      storage.database.exec(`
        CREATE TABLE commit_guard (ref TEXT REFERENCES tenants (tenant_key) DEFERRABLE INITIALLY DEFERRED);
        CREATE TRIGGER commit_fails AFTER INSERT ON login_codes WHEN NEW.code_hash = '${poison}'
        BEGIN INSERT INTO commit_guard VALUES ('no such tenant'); END;
      `);
      const record = (codeHash: string): LoginCodeRecord => ({
        codeHash,
        appId: w.app.appId,
        tenantKey: w.bob.tenantKey,
        userId: w.bob.userId,
        issuedAt: T0,
        expiresAt: T0 + 180 * SECOND,
      });
      const good = record(sha256("good"));
      const results = await Promise.allSettled([
        storage.saveLoginCodes([good]),
        storage.saveLoginCodes([record(poison)]),
        storage.upsertTenant({ tenantKey: w.tenant.tenantKey, name: "never" }),
      ]);
      for (const r of results) {
        assert.equal(r.status, "rejected");
        assert.ok((r as PromiseRejectedResult).reason instanceof StorageUnavailableError);
      }
      assert.equal((await storage.getTenant(w.tenant.tenantKey))?.name, w.tenant.name);
      const { input } = exchangeInput(good.codeHash, w.app.appId, T0 + SECOND);
      assert.deepEqual(await storage.exchangeLoginCode(input), { kind: "invalid" });
      // The queue keeps working after a failed batch.
      await storage.saveLoginCodes([good]);
      assert.equal((await storage.exchangeLoginCode(input)).kind, "issued");
    } finally {
      await storage.close();
    }
  });

  it("group commit: one event-loop turn of writes shares one transaction (batches of at most 256)", async () => {
    const storage = openFile(tempPath("group"));
    try {
      await storage.migrate();
      const before = storage.writeStats;
      await Promise.all(
        Array.from({ length: 600 }, (_, i) =>
          storage.hitRateLimit({ key: `group:${i % 7}`, now: T0, windowMs: 60 * SECOND, limit: 1000 }),
        ),
      );
      const after = storage.writeStats;
      assert.equal(after.operations - before.operations, 600);
      assert.equal(after.batches - before.batches, 3, "256 + 256 + 88");
    } finally {
      await storage.close();
    }
  });

  it("every operation rejects cleanly after close", async () => {
    const storage = openFile(":memory:");
    await storage.migrate();
    await storage.close();
    await storage.close();
    await assert.rejects(storage.ping(), StorageUnavailableError);
    await assert.rejects(storage.listTenants(), StorageUnavailableError);
    await assert.rejects(storage.upsertTenant({ tenantKey: "t", name: "n" }), StorageUnavailableError);
  });
});
