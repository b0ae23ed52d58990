/**
 * The server as a child process (`mina-auth serve`), where a crash or a signal is the test:
 * security.md S2 (SIGKILL under load, restart, every acknowledged token works, no consumed code
 * lacks its grant), S5 (SIGTERM finishes in-flight requests and exits 0) and H2 (a 10 MB body,
 * a slow client: 413/408, and the process lives).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { storageKey } from "../src/secrets.ts";
import { appToken, call, type ServerProcess, startServerProcess, stopServerProcess } from "./child-server.ts";
import { DEMO, until } from "./harness.ts";

const ADMIN = "process-test-admin-token-0123456789";

type Child = ServerProcess;

// Crash safety, not abuse control: the replays checked after a restart must not be throttled.
const startChild = (dbPath: string, env: Record<string, string> = {}): Promise<Child> =>
  startServerProcess({
    db: `sqlite:${dbPath}`,
    adminToken: ADMIN,
    env: { MINA_AUTH_RATE_LIMITS: "false", ...env },
  });
const stopChild = stopServerProcess;

const post = (base: string, path: string, body: unknown, token?: string) =>
  call(base, "POST", path, body, token);

interface Acked {
  code: string;
  accessToken: string;
  refreshToken: string;
}

/** Mints a code through the admin API and exchanges it, until the server goes away. */
async function worker(base: string, token: string, acked: Acked[], stop: () => boolean): Promise<number> {
  let attempts = 0;
  while (!stop()) {
    let code: string;
    try {
      const minted = await post(
        base,
        "/admin/v1/login-codes",
        { app_id: DEMO.appId, user_id: DEMO.visibleUser },
        ADMIN,
      );
      if (minted.status !== 201) return attempts;
      code = minted.body.code;
      attempts++;
      const res = await post(base, "/open-apis/mina/v2/tokenLoginValidate", { code }, token);
      if (res.body.code === 0)
        acked.push({
          code,
          accessToken: res.body.data.access_token,
          refreshToken: res.body.data.refresh_token,
        });
    } catch {
      return attempts; // the server is gone: what was acknowledged so far is what counts
    }
  }
  return attempts;
}

/** Consistency of the login tables, read straight from the file. */
function inspect(dbPath: string, acked: Acked[]) {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const integrity = db.pragma("integrity_check", { simple: true });
    const consumedWithoutGrant = db
      .prepare(
        `SELECT count(*) AS n FROM login_codes lc
          WHERE lc.consumed_at IS NOT NULL
            AND (lc.grant_id IS NULL OR NOT EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = lc.grant_id))`,
      )
      .get() as { n: number };
    const grantsWithoutTokens = db
      .prepare("SELECT count(*) AS n FROM grants WHERE access_hash IS NULL OR refresh_hash IS NULL")
      .get() as { n: number };
    const grantsOfUnconsumedCodes = db
      .prepare(
        `SELECT count(*) AS n FROM grants g JOIN login_codes lc ON lc.code_hash = g.code_hash
          WHERE lc.consumed_at IS NULL`,
      )
      .get() as { n: number };
    const consumed = (
      db.prepare("SELECT count(*) AS n FROM login_codes WHERE consumed_at IS NOT NULL").get() as {
        n: number;
      }
    ).n;
    const grants = (db.prepare("SELECT count(*) AS n FROM grants").get() as { n: number }).n;
    // Each acknowledged access token answered user_info above; the refresh that followed
    // replaced it in its login's row, so what must be on disk is that row, by its code.
    const grantOf = db.prepare("SELECT 1 FROM grants WHERE code_hash = ? AND refresh_hash IS NOT NULL");
    const code = db.prepare("SELECT consumed_at, grant_id FROM login_codes WHERE code_hash = ?");
    const ackedMissing = acked.filter((a) => {
      const row = code.get(storageKey("login_code", a.code)) as
        | { consumed_at: number | null; grant_id: string | null }
        | undefined;
      return (
        !grantOf.get(storageKey("login_code", a.code)) ||
        !row ||
        row.consumed_at === null ||
        row.grant_id === null
      );
    }).length;
    return {
      integrity,
      consumedWithoutGrant: consumedWithoutGrant.n,
      grantsWithoutTokens: grantsWithoutTokens.n,
      grantsOfUnconsumedCodes: grantsOfUnconsumedCodes.n,
      consumed,
      grants,
      ackedMissing,
    };
  } finally {
    db.close();
  }
}

const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), "mina-auth-process-"));
  dirs.push(dir);
  return join(dir, "mina-auth.db");
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("S2: SIGKILL under load, restart on the same file", () => {
  const ROUNDS = 3;
  const WORKERS = 8;
  const totals = { acked: 0, attempts: 0 };

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: every acknowledged token works after restart; no consumed code lacks its grant`, async () => {
      const dbPath = tempDb();
      const child = await startChild(dbPath);
      const token = await appToken(child.url);
      const acked: Acked[] = [];
      let killed = false;
      const workers = Array.from({ length: WORKERS }, () => worker(child.url, token, acked, () => killed));
      // Killed at a random point once logins flow: a slow machine's first commits count too.
      await until(() => acked.length > 0, "no exchange was acknowledged in 10 s");
      const delay = Math.floor(Math.random() * 500);
      await new Promise((r) => setTimeout(r, delay));
      child.proc.kill("SIGKILL");
      const exit = await child.exited;
      killed = true;
      const attempts = (await Promise.all(workers)).reduce((a, b) => a + b, 0);
      assert.equal(exit.signal, "SIGKILL");
      totals.acked += acked.length;
      totals.attempts += attempts;

      const restarted = await startChild(dbPath);
      try {
        const fresh = await appToken(restarted.url);
        const failures: string[] = [];
        for (const a of acked) {
          const info = await fetch(`${restarted.url}/open-apis/authen/v1/user_info`, {
            headers: { authorization: `Bearer ${a.accessToken}` },
          });
          const body = (await info.json()) as { code: number; data?: { union_id?: string } };
          if (body.code !== 0) failures.push(`user_info ${body.code}`);
          const refreshed = await post(
            restarted.url,
            "/open-apis/authen/v1/oidc/refresh_access_token",
            { grant_type: "refresh_token", refresh_token: a.refreshToken },
            fresh,
          );
          if (refreshed.body.code !== 0) failures.push(`refresh ${refreshed.body.code}`);
          const replay = await post(
            restarted.url,
            "/open-apis/mina/v2/tokenLoginValidate",
            { code: a.code },
            fresh,
          );
          if (replay.body.code !== 10213) failures.push(`replay ${replay.body.code}`);
        }
        assert.deepEqual(failures, [], `${failures.length} of ${acked.length} acknowledged logins broke`);
      } finally {
        assert.equal(await stopChild(restarted), 0);
      }

      const state = inspect(dbPath, acked);
      assert.equal(state.integrity, "ok");
      assert.equal(state.consumedWithoutGrant, 0, "a consumed code without its grant");
      assert.equal(state.grantsWithoutTokens, 0, "a grant without its tokens");
      assert.equal(state.grantsOfUnconsumedCodes, 0, "a grant whose code is not consumed");
      assert.equal(state.ackedMissing, 0);
      // Every redemption that committed is a grant: none can be half there.
      assert.equal(state.consumed, state.grants);
      assert.ok(state.grants >= acked.length);
      process.stdout.write(
        `# kill round ${round}: killed ${delay} ms after the first acknowledgement, ${attempts} exchanges attempted, ${acked.length} acknowledged and checked, ${state.grants} grants on disk\n`,
      );
    });
  }

  it("measured", () => {
    process.stdout.write(`# kill test: ${ROUNDS} rounds, ${totals.acked} acknowledged tokens checked\n`);
    assert.ok(totals.acked >= ROUNDS);
  });
});

describe("S5: SIGTERM finishes in-flight requests and exits 0", () => {
  it("a request in flight when SIGTERM arrives is answered and committed; the stream stops; exit 0", {
    timeout: 30_000,
  }, async () => {
    const dbPath = tempDb();
    const child = await startChild(dbPath);
    const token = await appToken(child.url);
    const minted = await post(
      child.url,
      "/admin/v1/login-codes",
      { app_id: DEMO.appId, user_id: DEMO.visibleUser },
      ADMIN,
    );
    const held = minted.body.code as string;
    const port = Number(new URL(child.url).port);

    // A slow stream of logins alongside.
    const acked: Acked[] = [];
    let stopStream = false;
    const stream = Array.from({ length: 3 }, () => worker(child.url, token, acked, () => stopStream));

    // The in-flight one: headers and half the body sent, the rest only after SIGTERM took effect.
    const body = JSON.stringify({ code: held });
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    let raw = "";
    socket.on("data", (c: Buffer) => {
      raw += c.toString();
    });
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write(
      `POST /open-apis/mina/v2/tokenLoginValidate HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 5)}`,
    );
    // Let the stream make progress, then stop the server.
    while (acked.length < 5) await new Promise((r) => setTimeout(r, 10));
    child.proc.kill("SIGTERM");
    while (!child.stdout().includes("stopping")) await new Promise((r) => setTimeout(r, 10));
    socket.write(body.slice(5));
    await closed;
    stopStream = true;
    const exit = await child.exited;
    await Promise.all(stream);

    assert.equal(exit.code, 0, child.stdout().split("\n").slice(-8).join("\n"));
    const status = /^HTTP\/1\.1 (\d+)/.exec(raw)?.[1];
    assert.equal(status, "200", raw);
    const reply = JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as {
      code: number;
      data: { access_token: string; refresh_token: string };
    };
    assert.equal(reply.code, 0, "the in-flight exchange completed");
    acked.push({ code: held, accessToken: reply.data.access_token, refreshToken: reply.data.refresh_token });

    const state = inspect(dbPath, acked);
    assert.equal(state.integrity, "ok");
    assert.equal(state.ackedMissing, 0, "every answered login is on disk");
    assert.equal(state.consumedWithoutGrant, 0);
    assert.equal(state.consumed, state.grants);
    assert.ok(state.grants >= acked.length);
  });
});

describe("H2: oversized bodies and slow clients", () => {
  let child: Child;
  let token: string;
  before(async () => {
    child = await startChild(tempDb(), { MINA_AUTH_REQUEST_TIMEOUT_MS: "1000" });
    token = await appToken(child.url);
  });
  after(async () => {
    assert.equal(await stopChild(child), 0);
  });

  const healthy = async () => {
    const res = await fetch(`${child.url}/healthz`);
    return res.status;
  };

  /**
   * Sends `size` bytes on a raw socket (with Content-Length, or chunked) and resolves with what
   * the server answered. Write errors are expected once the server has answered and closed.
   */
  const bigPost = (size: number, chunked: boolean) =>
    new Promise<{ status: number; body: string }>((resolve) => {
      const socket = connect(Number(new URL(child.url).port), "127.0.0.1");
      let raw = "";
      socket.on("data", (c: Buffer) => {
        raw += c.toString();
      });
      socket.on("error", () => {});
      socket.on("close", () => {
        const status = Number(/^HTTP\/1\.1 (\d+)/.exec(raw)?.[1] ?? 0);
        resolve({ status, body: raw.slice(raw.indexOf("\r\n\r\n") + 4) });
      });
      socket.write(
        "POST /open-apis/mina/v2/tokenLoginValidate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
          // A valid app token: without one the check order answers 10202 before reading the body.
          `Authorization: Bearer ${token}\r\nConnection: close\r\n` +
          (chunked ? "Transfer-Encoding: chunked\r\n\r\n" : `Content-Length: ${size}\r\n\r\n`),
      );
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < size && !socket.destroyed) {
          sent += chunk.length;
          if (chunked) {
            socket.write(`${chunk.length.toString(16)}\r\n`);
            socket.write(chunk);
          }
          if (!socket.write(chunked ? "\r\n" : chunk)) return void socket.once("drain", pump);
        }
        if (!socket.destroyed) socket.end(chunked ? "0\r\n\r\n" : "");
      };
      pump();
    });

  for (const chunked of [false, true]) {
    it(`a 10 MB body${chunked ? " (chunked)" : ""} gets 413 {code, msg} and the process lives`, async () => {
      const res = await bigPost(10 * 1024 * 1024, chunked);
      assert.equal(res.status, 413);
      const body = JSON.parse(res.body) as { code: number; msg: string };
      assert.equal(body.code, 9413);
      assert.equal(typeof body.msg, "string");
      assert.equal(await healthy(), 200);
    });
  }

  it("a client that never finishes its headers gets 408 and the process lives", async () => {
    const socket = connect(Number(new URL(child.url).port), "127.0.0.1");
    let raw = "";
    socket.on("data", (c: Buffer) => {
      raw += c.toString();
    });
    socket.on("error", () => {});
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write("POST /open-apis/mina/v2/tokenLoginValidate HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    // Drip one header line at a time, never the blank line that ends them.
    let i = 0;
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write(`X-Slow-${i++}: a\r\n`);
    }, 100);
    await closed;
    clearInterval(drip);
    assert.match(raw, /^HTTP\/1\.1 408/);
    assert.equal((JSON.parse(raw.slice(raw.indexOf("\r\n\r\n") + 4)) as { code: number }).code, 9408);
    assert.equal(await healthy(), 200);
  });

  it("a client that sends headers and never finishes its body gets 408 and the process lives", async () => {
    const socket = connect(Number(new URL(child.url).port), "127.0.0.1");
    let raw = "";
    socket.on("data", (c: Buffer) => {
      raw += c.toString();
    });
    socket.on("error", () => {});
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.write(
      "POST /open-apis/auth/v3/app_access_token/internal HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    );
    const drip = setInterval(() => {
      if (!socket.destroyed) socket.write(" ");
    }, 100);
    await closed;
    clearInterval(drip);
    assert.match(raw, /^HTTP\/1\.1 408/, raw);
    assert.equal(await healthy(), 200);
  });
});
