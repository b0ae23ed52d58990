import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { ManualClock } from "../src/clock.ts";
import { defaultConfig } from "../src/config.ts";
import { demoSeed } from "../src/demo-seed.ts";
import { PurgeSchedule } from "../src/domain/purge-schedule.ts";
import { startServer } from "../src/server.ts";
import { CODE_TTL, mintCode, SECOND, seedWorld, T0 } from "../src/storage/contract-suite.ts";
import { type Storage, StorageUnavailableError } from "../src/storage/port.ts";
import { createSqliteStorage } from "../src/storage/sqlite/sqlite-storage.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, until } from "./harness.ts";

const dir = mkdtempSync(join(tmpdir(), "mina-auth-purge-"));
let count = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

function codesInFile(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare("SELECT count(*) AS n FROM login_codes").get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The real storage, with purgeExpired replaced; every other method runs on the storage itself. */
function withPurge(storage: Storage, purgeExpired: Storage["purgeExpired"]): Storage {
  return new Proxy(storage, {
    get(target, property) {
      if (property === "purgeExpired") return purgeExpired;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>>; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const text = () => chunks.join("");
  const lines = () =>
    text()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { stream, lines, text };
}

/** The server on a SQLite file, with the storage given (a wrapped one) and the demo seed. */
function startWith(
  path: string,
  storage: Storage,
  options: { purgeIntervalMs: number; clock: ManualClock; logStream: Writable },
) {
  return startServer({
    config: {
      ...defaultConfig,
      port: 0,
      db: `sqlite:${path}`,
      adminToken: ADMIN_TOKEN,
      purgeIntervalMs: options.purgeIntervalMs,
    },
    seed: demoSeed,
    storage,
    clock: options.clock,
    logStream: options.logStream,
  });
}

describe("expired rows are purged on a schedule", () => {
  it("a server deletes expired codes on its interval, logs how many without naming any, and serves on", async () => {
    const t = await startTestServer({ config: { purgeIntervalMs: 50 } });
    try {
      const token = await t.appToken();
      const redeemed = await t.mintCode();
      assert.equal((await t.exchange(redeemed, token)).body.code, 0);
      const unused = await t.mintCode();
      assert.equal(
        codesInFile(t.dbPath),
        2,
        "a consumed code stays until it expires (replays are recognised)",
      );

      t.clock.advance(CODE_TTL + SECOND);
      await until(() => t.logs().includes('"purged expired rows"'), "no purge was logged");
      assert.equal(codesInFile(t.dbPath), 0, "the expired codes are gone from the file");

      assert.equal((await t.exchange(unused, token)).body.code, 10226, "invalid code");
      assert.equal((await t.exchange(await t.mintCode(), token)).body.code, 0, "logins go on");
      const purged = t
        .logs()
        .split("\n")
        .filter((line) => line.includes('"purged expired rows"'))
        .map((line) => JSON.parse(line) as { deleted: number; calls: number; component: string });
      assert.ok(purged.length > 0, "a log line reports the purge");
      assert.equal(purged[0]!.component, "purge");
      assert.ok(purged.reduce((sum, line) => sum + line.deleted, 0) >= 2);
      for (const secret of [redeemed, unused, token])
        assert.ok(!t.logs().includes(secret), "no secret in the log");
    } finally {
      await t.close();
    }
  });

  it("a refresh token answers 20037 for 30 days after its family ended, then 20026 once its grant is purged", async () => {
    const t = await startTestServer({ config: { purgeIntervalMs: 50 } });
    try {
      const login = await t.exchange(await t.mintCode(), await t.appToken());
      assert.equal(login.body.code, 0);
      const refresh = async () =>
        (
          await t.request("POST", "/open-apis/authen/v1/refresh_access_token", {
            token: await t.appToken(),
            body: { grant_type: "refresh_token", refresh_token: login.body.data.refresh_token },
          })
        ).body.code;
      const day = 86_400 * SECOND;
      t.clock.advance(59 * day); // 29 days after the family ended
      // Only a purge at the new time finds anything (the code, the access token): it keeps the grant.
      await until(() => t.logs().includes('"purged expired rows"'), "no purge was logged");
      assert.equal(await refresh(), 20037);
      t.clock.advance(2 * day); // 31 days after
      const deadline = Date.now() + 10_000;
      let answer = await refresh();
      while (answer === 20037 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        answer = await refresh();
      }
      assert.equal(answer, 20026, "the grant and its refresh tokens were purged");
    } finally {
      await t.close();
    }
  });

  it("with an interval of 0 nothing is purged", async () => {
    const t = await startTestServer({ config: { purgeIntervalMs: 0 } });
    try {
      await t.mintCode();
      t.clock.advance(CODE_TTL + SECOND);
      // A 50 ms schedule deletes within this wait (test above); with none the code stays.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(codesInFile(t.dbPath), 1);
    } finally {
      await t.close();
    }
  });

  it("a failed purge is logged with its reason, the server serves on, and the next interval purges", async () => {
    const path = join(dir, `failing-${++count}.db`);
    const real = createSqliteStorage({ path });
    let failures = 1;
    const storage = withPurge(real, (now, limit) => {
      if (failures-- > 0) return Promise.reject(new StorageUnavailableError("database is locked"));
      return real.purgeExpired(now, limit);
    });
    const clock = new ManualClock(Date.UTC(2026, 10, 26, 9));
    const log = capture();
    const server = await startWith(path, storage, { purgeIntervalMs: 50, clock, logStream: log.stream });
    try {
      const minted = await fetch(`${server.url}/admin/v1/login-codes`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ app_id: DEMO.appId, user_id: DEMO.visibleUser }),
      });
      assert.equal(minted.status, 201);
      const { code } = (await minted.json()) as { code: string };
      clock.advance(CODE_TTL + SECOND);
      await until(
        () => log.lines().some((line) => line.msg === "purged expired rows"),
        "the purge after the failure did not run",
      );
      assert.equal(codesInFile(path), 0);
      const warned = log
        .lines()
        .filter((line) => line.msg === "purge of expired rows failed; tried again at the next interval");
      assert.equal(warned.length, 1);
      assert.equal(warned[0]!.level, 40);
      assert.match(String(warned[0]!.reason), /StorageUnavailableError: database is locked/);
      assert.ok(!log.text().includes(code), "the code is not in the log");
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 200, "the server serves on");
    } finally {
      await server.close();
    }
  });

  it("close waits for the purge call under way, and no purge starts after it", {
    timeout: 10_000,
  }, async () => {
    const path = join(dir, `closing-${++count}.db`);
    const real = createSqliteStorage({ path });
    let calls = 0;
    let inFlight = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const storage = withPurge(real, async (now, limit) => {
      calls += 1;
      inFlight += 1;
      await held;
      try {
        return await real.purgeExpired(now, limit);
      } finally {
        inFlight -= 1;
      }
    });
    const server = await startWith(path, storage, {
      purgeIntervalMs: 20,
      clock: new ManualClock(),
      logStream: capture().stream,
    });
    await until(() => calls === 1, "no purge started");
    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(closed, false, "close waits for the purge call");
    assert.equal(calls, 1, "ticks while a purge runs start no second one");
    release();
    await closing;
    assert.equal(inFlight, 0, "the purge call finished before storage closed");
    const callsAtClose = calls;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(calls, callsAtClose, "no purge after close");
  });

  it("stop ends a backlog after the call under way, and waits for it", { timeout: 10_000 }, async () => {
    const storage = createSqliteStorage({ path: join(dir, `stopping-${++count}.db`) });
    let calls = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // Every call reports a row deleted: a backlog that only the stop ends.
    const backlog = withPurge(storage, async (now, limit) => {
      calls += 1;
      await held;
      return (await storage.purgeExpired(now, limit)) + 1;
    });
    try {
      await storage.migrate();
      const log = { info: () => {}, warn: () => {} };
      const schedule = new PurgeSchedule({
        storage: backlog,
        clock: new ManualClock(),
        intervalMs: 60_000,
        log,
      });
      const run = schedule.runOnce();
      await until(() => calls === 1, "the run made no call");
      let stopped = false;
      const stopping = schedule.stop().then(() => {
        stopped = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(stopped, false, "stop waits for the call under way");
      release();
      await stopping;
      assert.equal(await run, 1);
      assert.equal(calls, 1, "no call after the stop");
    } finally {
      await storage.close();
    }
  });

  it("a backlog goes out in calls of `batch` rows of each kind, under one cut", async () => {
    const path = join(dir, `batches-${++count}.db`);
    const storage = createSqliteStorage({ path });
    try {
      await storage.migrate();
      const world = await seedWorld(storage);
      for (let i = 0; i < 5; i++) await mintCode(storage, world.app, world.alice, T0);
      // Time runs on while the purge works: every later reading is an hour on.
      const cut = T0 + CODE_TTL + SECOND;
      let readings = 0;
      const clock = { now: () => (readings++ === 0 ? cut : cut + 3600 * SECOND) };
      const logged: Array<{ details: object; message: string }> = [];
      const log = {
        info: (details: object, message: string) => logged.push({ details, message }),
        warn: (details: object, message: string) => logged.push({ details, message }),
      };
      const schedule = new PurgeSchedule({ storage, clock, intervalMs: 60_000, log, batch: 2 });
      // Minted at the cut: not yet expired then, so left for the next run.
      await mintCode(storage, world.app, world.alice, cut);
      assert.equal(await schedule.runOnce(), 5);
      await schedule.stop();
      assert.equal(logged.length, 1);
      assert.equal(logged[0]!.message, "purged expired rows");
      assert.deepEqual(
        { ...logged[0]!.details, ms: 0 },
        { deleted: 5, calls: 4, ms: 0 },
        "2 + 2 + 1, then none",
      );
      assert.equal(codesInFile(path), 1);
    } finally {
      await storage.close();
    }
  });
});
