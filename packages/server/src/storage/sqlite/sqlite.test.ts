import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import {
  barrierHooks,
  exchangeInput,
  login,
  mintCode,
  runStorageContract,
  SECOND,
  seedWorld,
  suiteSecrets,
  T0,
} from "../contract-suite.ts";
import { naiveExchange } from "../naive-store.test-fixture.ts";
import { StorageUnavailableError } from "../port.ts";
import { createSqliteStorage, type SqliteStorage } from "./sqlite-storage.ts";
import { dir, openFile, tempPath } from "./test-files.ts";

// The files stay until the end of this test file: the at-rest scan below reads them all.
runStorageContract("sqlite file", async (hooks) => createSqliteStorage({ path: tempPath("suite"), hooks }));
runStorageContract("sqlite :memory:", async (hooks) => createSqliteStorage({ path: ":memory:", hooks }));

describe("sqlite adapter", () => {
  it("sets WAL (files), synchronous=NORMAL under our own WAL fsync, temp_store=MEMORY, foreign keys and a busy timeout", async () => {
    const file = openFile(tempPath("pragmas"));
    const memory = openFile(":memory:");
    const normal = createSqliteStorage({ path: tempPath("pragmas"), synchronous: "NORMAL" }) as SqliteStorage;
    try {
      const pragma = (s: SqliteStorage, name: string) => s.database.pragma(name, { simple: true });
      assert.equal(pragma(file, "journal_mode"), "wal");
      assert.equal(pragma(memory, "journal_mode"), "memory");
      // FULL durability comes from WalSync (wal-sync.test.ts), not from SQLite's in-COMMIT fsync.
      assert.equal(pragma(file, "synchronous"), 1);
      assert.equal(pragma(normal, "synchronous"), 1);
      assert.equal(pragma(file, "temp_store"), 2);
      assert.equal(pragma(file, "foreign_keys"), 1);
      assert.equal(pragma(file, "busy_timeout"), 5000);
    } finally {
      await Promise.all([file.close(), memory.close(), normal.close()]);
    }
  });

  it("migrations are recorded; a second process migrating the same file finds them applied", async () => {
    const path = tempPath("migrate");
    const a = openFile(path);
    const b = openFile(path);
    try {
      await Promise.all([a.migrate(), b.migrate()]);
      const rows = a.database.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all();
      assert.deepEqual(rows[0], { version: 1, name: "init" });
      assert.equal(new Set(rows.map((r) => (r as { version: number }).version)).size, rows.length);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a file reopened after close keeps everything", async () => {
    const path = tempPath("reopen");
    const first = openFile(path);
    await first.migrate();
    const w = await seedWorld(first);
    const session = await login(first, w.app, w.alice, T0 + SECOND);
    const spare = await mintCode(first, w.app, w.bob, T0 + SECOND);
    const catalog = await first.exportCatalog();
    const audit = await first.listAuditEvents(50);
    await first.close();

    const second = openFile(path);
    try {
      await second.migrate();
      assert.deepEqual(await second.exportCatalog(), catalog);
      assert.deepEqual(await second.listAuditEvents(50), audit);
      const subject = await second.findAccessToken(session.accessTokenHash, T0 + 2 * SECOND);
      assert.deepEqual(subject?.identity, session.identity);
      // The consumed code is still consumed, the unused one still redeemable.
      const replay = exchangeInput(session.code.record.codeHash, w.app.appId, T0 + 3 * SECOND);
      assert.equal((await second.exchangeLoginCode(replay.input)).kind, "reused");
      const fresh = exchangeInput(spare.record.codeHash, w.app.appId, T0 + 3 * SECOND);
      assert.equal((await second.exchangeLoginCode(fresh.input)).kind, "issued");
    } finally {
      await second.close();
    }
  });

  it("two storages on one file (two processes' view): 64 redemptions split across them, one issued", async () => {
    const path = tempPath("two");
    const a = openFile(path);
    const b = openFile(path);
    try {
      await a.migrate();
      await b.migrate();
      const w = await seedWorld(a);
      for (let round = 0; round < 3; round++) {
        const code = await mintCode(a, w.app, w.alice, T0 + round * SECOND);
        const outcomes = await Promise.all(
          Array.from({ length: 64 }, (_, i) =>
            (i % 2 === 0 ? a : b).exchangeLoginCode(
              exchangeInput(code.record.codeHash, w.app.appId, T0 + round * SECOND + 1).input,
            ),
          ),
        );
        assert.equal(outcomes.filter((o) => o.kind === "issued").length, 1, `round ${round}`);
        assert.equal(outcomes.filter((o) => o.kind === "reused").length, 63, `round ${round}`);
      }
      // Redeemed through A, replayed through B: B knows.
      const code = await mintCode(a, w.app, w.bob, T0);
      assert.equal(
        (await a.exchangeLoginCode(exchangeInput(code.record.codeHash, w.app.appId, T0 + 1).input)).kind,
        "issued",
      );
      assert.equal(
        (await b.exchangeLoginCode(exchangeInput(code.record.codeHash, w.app.appId, T0 + 2).input)).kind,
        "reused",
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("the naive read-then-write fixture DOES double-issue under the hook the real store survives", async () => {
    const barrier = barrierHooks(2);
    const storage = openFile(tempPath("naive"));
    try {
      await storage.migrate();
      const w = await seedWorld(storage);
      const code = await mintCode(storage, w.app, w.alice, T0);
      const exchange = naiveExchange(storage.database, barrier.hooks);
      barrier.arm();
      const outcomes = await Promise.all([
        exchange(exchangeInput(code.record.codeHash, w.app.appId, T0 + SECOND).input),
        exchange(exchangeInput(code.record.codeHash, w.app.appId, T0 + SECOND).input),
      ]);
      assert.equal(barrier.arrived(), 2);
      assert.deepEqual(
        outcomes.map((o) => o.kind),
        ["issued", "issued"],
        "the naive store issues twice: the hook forces the race",
      );
      assert.equal((await storage.listGrants({ appId: w.app.appId, limit: 10 })).length, 2);
    } finally {
      await storage.close();
    }
  });

  it("SQLITE_BUSY is a StorageUnavailableError, never an outcome; the code is left intact", async () => {
    const path = tempPath("busy");
    const storage = openFile(path, undefined, 50);
    const blocker = new Database(path);
    try {
      await storage.migrate();
      const w = await seedWorld(storage);
      const code = await mintCode(storage, w.app, w.alice, T0);
      blocker.exec("BEGIN IMMEDIATE");
      const { input } = exchangeInput(code.record.codeHash, w.app.appId, T0 + SECOND);
      await assert.rejects(storage.exchangeLoginCode(input), StorageUnavailableError);
      await assert.rejects(storage.revokeGrant("grant_x", T0, "admin"), StorageUnavailableError);
      // Reads still answer under WAL.
      assert.equal((await storage.getApp(w.app.appId))?.appId, w.app.appId);
      blocker.exec("ROLLBACK");
      assert.equal((await storage.exchangeLoginCode(input)).kind, "issued");
    } finally {
      blocker.close();
      await storage.close();
    }
  });

  it("measures exchange throughput on a file with synchronous=FULL (informative)", async () => {
    const storage = openFile(tempPath("bench"));
    try {
      await storage.migrate();
      const w = await seedWorld(storage);
      const n = 2000;
      const codes = [];
      for (let i = 0; i < n; i += 200) {
        codes.push(
          ...(await Promise.all(Array.from({ length: 200 }, () => mintCode(storage, w.app, w.alice, T0)))),
        );
      }
      const start = process.hrtime.bigint();
      const outcomes = await Promise.all(
        codes.map((c) =>
          storage.exchangeLoginCode(exchangeInput(c.record.codeHash, w.app.appId, T0 + 1).input),
        ),
      );
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      assert.ok(outcomes.every((o) => o.kind === "issued"));
      const sequentialStart = process.hrtime.bigint();
      for (let i = 0; i < 50; i++) {
        const c = await mintCode(storage, w.app, w.alice, T0);
        await storage.exchangeLoginCode(exchangeInput(c.record.codeHash, w.app.appId, T0 + 1).input);
      }
      const sequentialMs = Number(process.hrtime.bigint() - sequentialStart) / 1e6;
      console.log(
        `# sqlite exchange: ${n} concurrent in ${ms.toFixed(0)} ms (${Math.round((n / ms) * 1000)}/s); ` +
          `sequential mint+exchange ${(sequentialMs / 50).toFixed(2)} ms each`,
      );
    } finally {
      await storage.close();
    }
  });
});

// Registered last, so it runs after both suites and every test above (node:test keeps order).
describe("sqlite at rest", () => {
  /** Finds every 32-hex-digit window of the bytes that is one of the suite's raw secrets. */
  function leakedSecrets(bytes: Buffer, secrets: ReadonlySet<string>): string[] {
    const text = bytes.toString("latin1");
    const found: string[] = [];
    for (const match of text.matchAll(/[0-9a-f]{32,}/g)) {
      const run = match[0];
      for (let i = 0; i + 32 <= run.length; i++) {
        const window = run.slice(i, i + 32);
        if (secrets.has(window)) found.push(window);
      }
    }
    return found;
  }

  it("the scan finds a secret that was stored raw (control)", async () => {
    const path = tempPath("control");
    const storage = openFile(path);
    const raw = "0123456789abcdef0123456789abcdef";
    await storage.migrate();
    await storage.upsertTenant({ tenantKey: "control", name: raw });
    await storage.close();
    const name = basename(path);
    const files = readdirSync(dir).filter((f) => f.startsWith(name));
    const bytes = Buffer.concat(files.map((f) => readFileSync(join(dir, f))));
    assert.deepEqual(leakedSecrets(bytes, new Set([raw])), [raw]);
  });

  it("no raw secret handed out by the suite appears in any database file (hashes only)", () => {
    const secrets = suiteSecrets();
    assert.ok(secrets.size > 1000, `the suite issued ${secrets.size} secrets`);
    const files = readdirSync(dir).filter((f) => !f.startsWith("control-"));
    assert.ok(
      files.filter((f) => f.startsWith("suite-")).length >= 30,
      "the file suite's databases are here",
    );
    for (const file of files) {
      const leaks = leakedSecrets(readFileSync(join(dir, file)), secrets);
      assert.deepEqual(leaks, [], `${file} holds raw secrets`);
    }
  });
});
