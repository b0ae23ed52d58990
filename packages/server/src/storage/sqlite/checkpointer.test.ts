import assert from "node:assert/strict";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { exchangeInput, mintCode, seedWorld, T0 } from "../contract-suite.ts";
import { Checkpointer } from "./checkpointer.ts";
import { createSqliteStorage, type SqliteStorage } from "./sqlite-storage.ts";

const dir = mkdtempSync(join(tmpdir(), "mina-auth-checkpoint-"));
let count = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

const pages = (db: Database.Database) => db.pragma("wal_autocheckpoint", { simple: true });

/**
 * Salt-1 of the WAL header: SQLite adds one to it each time the WAL starts over from its
 * beginning, so every restart shows as a new value (file format, "WAL file format").
 */
function walSalt(path: string): number {
  const header = Buffer.alloc(32);
  const fd = openSync(`${path}-wal`, "r");
  try {
    readSync(fd, header, 0, 32, 0);
  } finally {
    closeSync(fd);
  }
  return header.readUInt32BE(16);
}

describe("sqlite checkpoints run on a worker thread", () => {
  it("under sustained writes the WAL is copied back and started over by the worker, not the writer", async () => {
    const path = join(dir, `sustained-${++count}.db`);
    const storage = createSqliteStorage({ path }) as SqliteStorage;
    try {
      await storage.migrate();
      const world = await seedWorld(storage);
      // The writer's own threshold is only a backstop while the worker is in charge.
      assert.equal(pages(storage.database), 20_000);
      let walMax = 0;
      let issued = 0;
      const salts = new Set<number>([walSalt(path)]);
      const started = Date.now();
      // One row per login writes fewer pages, so the WAL may start over twice before a thousand
      // logins: those are required too, not just awaited.
      const enough = () =>
        Date.now() - started >= 1200 &&
        issued >= 1000 &&
        salts.size >= 3 &&
        storage.checkpointStats!.checkpoints >= 4;
      // Rounds of concurrent exchanges for at least a second (several checkpoint intervals),
      // and on a slow machine until the WAL has started over twice.
      while (!enough()) {
        assert.ok(Date.now() - started < 30_000, `the WAL started over ${salts.size - 1} times in 30 s`);
        const codes = await Promise.all(
          Array.from({ length: 100 }, () => mintCode(storage, world.app, world.alice, T0)),
        );
        const outcomes = await Promise.all(
          codes.map((c) =>
            storage.exchangeLoginCode(exchangeInput(c.record.codeHash, world.app.appId, T0 + 1).input),
          ),
        );
        issued += outcomes.filter((o) => o.kind === "issued").length;
        walMax = Math.max(walMax, statSync(`${path}-wal`).size);
        salts.add(walSalt(path));
      }
      assert.ok(issued >= 1000, `${issued} exchanges`);
      // Without checkpoints the WAL would hold every frame written (tens of MB here).
      const db = statSync(path).size;
      assert.ok(db > 1024 * 1024, `the database file received the pages (${db} bytes)`);
      // Bounded by what a checkpoint interval writes, not by everything written.
      assert.ok(walMax < 64 * 1024 * 1024, `the WAL stayed bounded (${walMax} bytes at most)`);
    } finally {
      await storage.close();
    }
  });

  it("a worker that cannot run hands checkpoints back to the writer (SQLite's autocheckpoint)", async () => {
    const db = new Database(join(dir, `fallback-${++count}.db`));
    db.pragma("journal_mode = WAL");
    const gate = { held: 0, hold: () => gate.held++, release: () => gate.held-- };
    const checkpointer = new Checkpointer(db, gate, "throw new Error('no worker here');");
    assert.equal(pages(db), 20_000);
    const deadline = Date.now() + 5000;
    while (pages(db) !== 4000) {
      assert.ok(Date.now() < deadline, "the writer never took checkpoints back");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    checkpointer.committed(); // no worker to ask: nothing is held, nothing throws
    assert.equal(gate.held, 0);
    await checkpointer.close();
    db.close();
  });

  it("a tail step that never ends releases the held writes after its limit; the writer takes over", async () => {
    const db = new Database(join(dir, `stuck-${++count}.db`));
    db.pragma("journal_mode = WAL");
    const gate = { held: 0, hold: () => gate.held++, release: () => gate.held-- };
    // Answers the bulk step with frames left over, then never answers the tail step.
    const stuck = `
      const { parentPort } = require("node:worker_threads");
      let requests = 0;
      parentPort.on("message", (request) => {
        if (request.kind === "close") return parentPort.close();
        if (++requests === 1) parentPort.postMessage({ kind: "done", id: request.id, busy: false, log: 10, checkpointed: 5 });
      });`;
    const checkpointer = new Checkpointer(db, gate, stuck, 50);
    checkpointer.committed();
    const deadline = Date.now() + 5000;
    while (gate.held === 0) {
      assert.ok(Date.now() < deadline, "the tail step never held writes");
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    while (gate.held !== 0 || pages(db) !== 4000) {
      assert.ok(Date.now() < deadline, "writes stayed held");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await checkpointer.close();
    db.close();
  });

  it("close ends the worker; the file is then checkpointed and its WAL removed by the writer", async () => {
    const path = join(dir, `close-${++count}.db`);
    const storage = createSqliteStorage({ path });
    await storage.migrate();
    const world = await seedWorld(storage);
    const code = await mintCode(storage, world.app, world.alice, T0);
    await storage.exchangeLoginCode(exchangeInput(code.record.codeHash, world.app.appId, T0 + 1).input);
    await storage.close();
    assert.throws(() => statSync(`${path}-wal`), /ENOENT/);
    const reopened = new Database(path, { readonly: true });
    assert.deepEqual(reopened.prepare("SELECT count(*) AS n FROM grants").get(), { n: 1 });
    reopened.close();
  });
});
