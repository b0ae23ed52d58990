import assert from "node:assert/strict";
import { fdatasync, mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { exchangeInput, mintCode, seedWorld, T0 } from "../contract-suite.ts";
import { StorageOutcomeUnknownError, StorageUnavailableError } from "../port.ts";
import { createSqliteStorage, type SqliteStorage } from "./sqlite-storage.ts";
import type { SyncFile } from "./wal-sync.ts";

const dir = mkdtempSync(join(tmpdir(), "mina-auth-walsync-"));
let count = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The real fdatasync, whose completion a test can hold back: while `holding`, each finished
 * sync waits in `held` until the test releases it (optionally as a failure).
 */
function gatedSync() {
  const held: Array<(error?: NodeJS.ErrnoException) => void> = [];
  const gate = {
    holding: false,
    held,
    calls: 0,
    sync: ((fd, done) => {
      gate.calls += 1;
      fdatasync(fd, (error) => {
        if (!gate.holding) done(error);
        else held.push((injected) => done(injected ?? error));
      });
    }) as SyncFile,
    /** Resolves once `n` syncs are being held. */
    async heldCount(n: number): Promise<void> {
      const deadline = Date.now() + 5000;
      while (held.length < n) {
        assert.ok(Date.now() < deadline, `expected ${n} fsync(s) in flight, saw ${held.length}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    },
    release(error?: NodeJS.ErrnoException): void {
      held.shift()!(error);
    },
  };
  return gate;
}

async function openWorld(gate: ReturnType<typeof gatedSync>) {
  const path = join(dir, `durable-${++count}.db`);
  const storage = createSqliteStorage({ path, syncFile: gate.sync }) as SqliteStorage;
  await storage.migrate();
  const world = await seedWorld(storage);
  return { path, storage, world };
}

/** Tracks whether a promise settled, without awaiting it. */
function watch<T>(promise: Promise<T>) {
  const state = { settled: false, promise };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("sqlite FULL durability: the WAL is fsynced before any commit is acknowledged", () => {
  it("an exchange is committed at once but answered only after the fsync that covers it", async () => {
    const gate = gatedSync();
    const { path, storage, world } = await openWorld(gate);
    try {
      const code = await mintCode(storage, world.app, world.alice, T0);
      gate.holding = true;
      const exchange = watch(
        storage.exchangeLoginCode(exchangeInput(code.record.codeHash, world.app.appId, T0 + 1).input),
      );
      await gate.heldCount(1);
      for (let i = 0; i < 5; i++) await tick();
      assert.equal(exchange.settled, false, "answered before its commit was on disk");
      // The COMMIT itself has happened: another connection already sees the code consumed.
      const peer = new Database(path, { readonly: true });
      const row = peer
        .prepare("SELECT consumed_at FROM login_codes WHERE code_hash = ?")
        .get(code.record.codeHash);
      peer.close();
      assert.deepEqual(row, { consumed_at: T0 + 1 });
      gate.release();
      assert.equal((await exchange.promise).kind, "issued");
    } finally {
      gate.holding = false;
      for (const release of gate.held.splice(0)) release();
      await storage.close();
    }
  });

  it("commits made after an fsync started wait for another one; a read of them waits too", async () => {
    const gate = gatedSync();
    const { storage, world } = await openWorld(gate);
    try {
      const [a, b] = [
        await mintCode(storage, world.app, world.alice, T0),
        await mintCode(storage, world.app, world.alice, T0),
      ];
      gate.holding = true;
      const first = watch(
        storage.exchangeLoginCode(exchangeInput(a.record.codeHash, world.app.appId, T0 + 1).input),
      );
      await gate.heldCount(1);
      const bInput = exchangeInput(b.record.codeHash, world.app.appId, T0 + 1);
      const second = watch(storage.exchangeLoginCode(bInput.input));
      // Let the second batch commit while the first fsync is still held.
      for (let i = 0; i < 5; i++) await tick();
      const read = watch(storage.findAccessToken(bInput.secrets.accessTokenHash, T0 + 2));
      gate.release();
      assert.equal((await first.promise).kind, "issued");
      await gate.heldCount(1);
      for (let i = 0; i < 5; i++) await tick();
      assert.equal(second.settled, false, "covered by an fsync that started before its commit");
      assert.equal(read.settled, false, "a read showed a commit that was not on disk yet");
      gate.release();
      assert.equal((await second.promise).kind, "issued");
      assert.ok(await read.promise, "the read finds the token once it is durable");
      assert.ok(gate.calls >= 2);
    } finally {
      gate.holding = false;
      for (const release of gate.held.splice(0)) release();
      await storage.close();
    }
  });

  it("a read that sees another process's commit waits for an fsync of its own", async () => {
    const gateA = gatedSync();
    const { path, storage: a } = await openWorld(gateA);
    const gateB = gatedSync();
    const b = createSqliteStorage({ path, syncFile: gateB.sync });
    try {
      gateA.holding = true;
      gateB.holding = true;
      const write = watch(a.upsertTenant({ tenantKey: "t-cross", name: "not yet on disk" }));
      await gateA.heldCount(1);
      const read = watch(b.getTenant("t-cross"));
      await gateB.heldCount(1);
      for (let i = 0; i < 5; i++) await tick();
      assert.equal(read.settled, false, "another process was shown a commit not yet on disk");
      gateB.release();
      assert.deepEqual(await read.promise, { tenantKey: "t-cross", name: "not yet on disk" });
      gateA.release();
      await write.promise;
    } finally {
      for (const gate of [gateA, gateB]) {
        gate.holding = false;
        for (const release of gate.held.splice(0)) release();
      }
      await Promise.all([a.close(), b.close()]);
    }
  });

  it("writes queued when an fsync fails never commit", async () => {
    const gate = gatedSync();
    const { path, storage } = await openWorld(gate);
    try {
      gate.holding = true;
      const first = storage.upsertTenant({ tenantKey: "t-first", name: "x" });
      await gate.heldCount(1);
      const queued = storage.upsertTenant({ tenantKey: "t-queued", name: "x" });
      gate.release(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
      // The first committed before its fsync failed: its outcome is unknown, not "retry".
      await assert.rejects(first, StorageOutcomeUnknownError);
      await assert.rejects(queued, StorageUnavailableError);
      const peer = new Database(path, { readonly: true });
      const row = peer.prepare("SELECT count(*) AS n FROM tenants WHERE tenant_key = 't-queued'").get();
      peer.close();
      assert.deepEqual(row, { n: 0 });
    } finally {
      gate.holding = false;
      await storage.close();
    }
  });

  it("a database reached through a symlink syncs the WAL SQLite writes, next to the real file", async () => {
    const real = join(dir, `real-${++count}`);
    mkdirSync(real);
    const link = join(dir, `link-${count}.db`);
    symlinkSync(join(real, "x.db"), link);
    const synced: string[] = [];
    const storage = createSqliteStorage({
      path: link,
      syncFile: (fd, done) => {
        synced.push(readlinkSync(`/proc/self/fd/${fd}`));
        fdatasync(fd, done);
      },
    });
    try {
      await storage.migrate();
      await storage.upsertTenant({ tenantKey: "t-link", name: "through a symlink" });
      assert.deepEqual([...new Set(synced)], [join(real, "x.db-wal")]);
    } finally {
      await storage.close();
    }
  });

  it("concurrent writes share fsyncs (group commit)", async () => {
    const gate = gatedSync();
    const { storage, world } = await openWorld(gate);
    try {
      const codes = await Promise.all(
        Array.from({ length: 200 }, () => mintCode(storage, world.app, world.alice, T0)),
      );
      const before = gate.calls;
      const outcomes = await Promise.all(
        codes.map((c) =>
          storage.exchangeLoginCode(exchangeInput(c.record.codeHash, world.app.appId, T0 + 1).input),
        ),
      );
      assert.ok(outcomes.every((o) => o.kind === "issued"));
      const syncs = gate.calls - before;
      assert.ok(syncs >= 1 && syncs <= 10, `${syncs} fsyncs for 200 concurrent exchanges`);
    } finally {
      await storage.close();
    }
  });

  it("a failed fsync answers what it covered as 'outcome unknown' (never retryable), and every later write and readiness as unavailable", async () => {
    const gate = gatedSync();
    const { storage, world } = await openWorld(gate);
    try {
      const code = await mintCode(storage, world.app, world.alice, T0);
      gate.holding = true;
      const exchange = storage.exchangeLoginCode(
        exchangeInput(code.record.codeHash, world.app.appId, T0 + 1).input,
      );
      await gate.heldCount(1);
      gate.release(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }));
      await assert.rejects(exchange, (error: Error) => {
        // It committed (visible), but may not survive a crash: neither "retry" nor success.
        assert.ok(error instanceof StorageOutcomeUnknownError);
        assert.match(error.message, /could not be flushed to disk/);
        return true;
      });
      gate.holding = false;
      await assert.rejects(storage.upsertTenant({ tenantKey: "after", name: "x" }), StorageUnavailableError);
      await assert.rejects(storage.ping(), StorageUnavailableError);
      await assert.rejects(storage.listTenants(), StorageUnavailableError);
    } finally {
      await storage.close();
    }
  });

  it("close waits for the fsync in flight before it returns", async () => {
    const gate = gatedSync();
    const { storage, world } = await openWorld(gate);
    const code = await mintCode(storage, world.app, world.alice, T0);
    gate.holding = true;
    const exchange = watch(
      storage.exchangeLoginCode(exchangeInput(code.record.codeHash, world.app.appId, T0 + 1).input),
    );
    await gate.heldCount(1);
    const closing = watch(storage.close());
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(closing.settled, false);
    gate.release();
    await closing.promise;
    assert.equal((await exchange.promise).kind, "issued");
  });

  it("NORMAL and :memory: acknowledge at COMMIT and never fsync per commit", async () => {
    for (const path of [join(dir, `normal-${++count}.db`), ":memory:"]) {
      const gate = gatedSync();
      const storage = createSqliteStorage({ path, synchronous: "NORMAL", syncFile: gate.sync });
      await storage.migrate();
      const world = await seedWorld(storage);
      const code = await mintCode(storage, world.app, world.alice, T0);
      const outcome = await storage.exchangeLoginCode(
        exchangeInput(code.record.codeHash, world.app.appId, T0 + 1).input,
      );
      assert.equal(outcome.kind, "issued");
      assert.equal(gate.calls, 0, path);
      await storage.close();
    }
  });
});
