/**
 * Rate limits kept in the shared store (security.md H6, docs/platform-codes.md §5): app/tenant
 * token requests per app, failed tokenLoginValidate redemptions per app and per client address,
 * refresh attempts per family. Over the limit: 99991400, HTTP 429, `x-ogw-ratelimit-limit` and
 * `x-ogw-ratelimit-reset`. Windows are fixed and follow the injected clock; two servers on one
 * database share the counts. (The real multi-process case on PostgreSQL: multi-instance-rate-limits.test.ts.)
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { ManualClock } from "../src/clock.ts";
import { defaultConfig, type RateLimitConfig } from "../src/config.ts";
import { DEMO, startTestServer, type TestResponse, type TestServer } from "./harness.ts";

const APP_TOKEN = "/open-apis/auth/v3/app_access_token/internal";
const TENANT_TOKEN = "/open-apis/auth/v3/tenant_access_token/internal";
const OIDC = "/open-apis/authen/v1/oidc/refresh_access_token";
const MINUTE = 60_000;
// The harness clock starts on a minute boundary: one window is [T0, T0 + 1 min).
const T0 = Date.UTC(2026, 10, 26, 9, 0, 0);

/** Small limits, so each test trips one quickly; the others stay out of the way. */
function limits(overrides: Partial<RateLimitConfig> = {}): RateLimitConfig {
  const high = { limit: 10_000, windowMs: MINUTE };
  return {
    ...defaultConfig.rateLimits,
    enabled: true,
    appToken: high,
    failedAppSecretPerApp: high,
    failedRedeemPerApp: high,
    failedRedeemPerAddress: high,
    refreshPerFamily: high,
    ...overrides,
  };
}

function assertRateLimited(res: TestResponse, limit: number, resetSeconds: number): void {
  assert.equal(res.status, 429, res.text);
  assert.deepEqual(res.body, { code: 99991400, msg: "request trigger frequency limit" });
  assert.equal(res.headers.get("x-ogw-ratelimit-limit"), String(limit));
  assert.equal(res.headers.get("x-ogw-ratelimit-reset"), String(resetSeconds));
}

/** Redemption counter rows in the SQLite file (successful redemptions must not write any). */
function rateLimitRows(dbPath: string): number {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return (
      db.prepare("SELECT count(*) AS n FROM rate_limits WHERE key LIKE 'redeem-%'").get() as { n: number }
    ).n;
  } finally {
    db.close();
  }
}

const unknownCode = () => randomBytes(22).toString("hex");
const appTokenRequest = (t: TestServer, secret: string = DEMO.appSecret, path = APP_TOKEN) =>
  t.request("POST", path, { body: { app_id: DEMO.appId, app_secret: secret } });

describe("H6: app and tenant token requests per app_id", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({
      config: {
        rateLimits: limits({
          appToken: { limit: 3, windowMs: MINUTE },
          failedAppSecretPerApp: { limit: 2, windowMs: MINUTE },
        }),
      },
    });
  });
  after(() => t.close());

  it("counts right secrets and wrong ones apart; over the success limit the owner gets 429", async () => {
    t.clock.set(T0);
    assert.equal((await appTokenRequest(t, "wrong-secret")).body.code, 10014);
    assert.equal((await appTokenRequest(t)).body.code, 0);
    assert.equal(
      (await appTokenRequest(t, DEMO.appSecret, TENANT_TOKEN)).body.code,
      0,
      "tenant tokens count too",
    );
    assert.equal((await appTokenRequest(t)).body.code, 0, "one wrong secret took none of the 3");
    t.clock.set(T0 + 15_000);
    assertRateLimited(await appTokenRequest(t), 3, 45);
    assertRateLimited(await appTokenRequest(t, DEMO.appSecret, TENANT_TOKEN), 3, 45);
  });

  it("another app has its own count; an unknown app_id is refused without counting", async () => {
    t.clock.set(T0 + 20_000);
    // The store app's token (through an app_ticket) is counted for the store app alone.
    assert.match(await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret), /^t-/);
    const unknown = await t.request("POST", APP_TOKEN, { body: { app_id: "cli_unknown", app_secret: "x" } });
    assert.equal(unknown.status, 200);
    assert.notEqual(unknown.body.code, 99991400);
  });

  it("resets with the next window", async () => {
    t.clock.set(T0 + MINUTE);
    const res = await appTokenRequest(t);
    assert.equal(res.status, 200);
    assert.equal(res.body.code, 0, res.text);
    assert.equal(res.headers.get("x-ogw-ratelimit-limit"), null, "no rate-limit headers on success");
  });
});

/** @see issue 14, item 6: 121 wrong secrets a minute made the owner's token requests answer 429. */
describe("H6: an outsider's wrong secrets never lock the owner out", () => {
  it("over the failure limit wrong secrets answer 99991400; the right one still answers 0", async () => {
    const t = await startTestServer({
      config: {
        rateLimits: limits({
          appToken: { limit: 3, windowMs: MINUTE },
          failedAppSecretPerApp: { limit: 5, windowMs: MINUTE },
        }),
      },
    });
    try {
      t.clock.set(T0);
      const outsider = [];
      for (let i = 0; i < 40; i++) {
        const path = i % 2 === 0 ? APP_TOKEN : TENANT_TOKEN;
        outsider.push((await appTokenRequest(t, `guess-${i}`, path)).body.code);
      }
      assert.deepEqual(outsider.slice(0, 5), [10014, 10014, 10014, 10014, 10014]);
      assert.deepEqual(new Set(outsider.slice(5)), new Set([99991400]), "the outsider is slowed down");
      assertRateLimited(await appTokenRequest(t, "guess-again"), 5, 60);

      const owner = await appTokenRequest(t);
      assert.equal(owner.status, 200, owner.text);
      assert.equal(owner.body.code, 0, "the real backend's app token request is answered");
      const tenant = await appTokenRequest(t, DEMO.appSecret, TENANT_TOKEN);
      assert.equal(tenant.body.code, 0, "and its tenant token request");
      assert.equal(tenant.headers.get("x-ogw-ratelimit-limit"), null);
      // The issued token works: the owner's login path is whole.
      const login = await t.exchange(await t.mintCode(), tenant.body.tenant_access_token as string);
      assert.equal(login.body.code, 0, login.text);
    } finally {
      await t.close();
    }
  });
});

describe("H6: the issue's case, with the default limits", () => {
  it("130 wrong secrets in a minute, then the owner's app and tenant token requests answer 0", async () => {
    const t = await startTestServer({
      config: { rateLimits: { ...defaultConfig.rateLimits, enabled: true } },
    });
    try {
      t.clock.set(T0);
      const answers = new Map<number, number>();
      for (let i = 0; i < 130; i++) {
        const code = (await appTokenRequest(t, `guess-${i}`, i % 2 ? TENANT_TOKEN : APP_TOKEN)).body
          .code as number;
        answers.set(code, (answers.get(code) ?? 0) + 1);
      }
      assert.deepEqual(Object.fromEntries(answers), { 10014: 120, 99991400: 10 });
      assert.equal((await appTokenRequest(t)).body.code, 0);
      assert.equal((await appTokenRequest(t, DEMO.appSecret, TENANT_TOKEN)).body.code, 0);
    } finally {
      await t.close();
    }
  });
});

describe("H6: failed tokenLoginValidate redemptions", () => {
  it("per app: only failures count; over the limit failures answer 99991400, valid codes still work", async () => {
    const t = await startTestServer({
      config: { rateLimits: limits({ failedRedeemPerApp: { limit: 2, windowMs: MINUTE } }) },
    });
    try {
      const token = await t.appToken();
      t.clock.set(T0);
      // Successes are not counted: many of them leave the failure budget untouched.
      for (let i = 0; i < 5; i++) assert.equal((await t.exchange(await t.mintCode(), token)).body.code, 0);
      assert.equal(rateLimitRows(t.dbPath), 0, "the happy path wrote no counter");
      assert.equal((await t.exchange(unknownCode(), token)).body.code, 10226);
      const used = await t.mintCode();
      assert.equal((await t.exchange(used, token)).body.code, 0);
      assert.equal((await t.exchange(used, token)).body.code, 10213);
      t.clock.set(T0 + 50_000);
      assertRateLimited(await t.exchange(unknownCode(), token), 2, 10);
      assertRateLimited(await t.exchange(used, token), 2, 10);
      const fresh = await t.exchange(await t.mintCode(), token);
      assert.equal(fresh.body.code, 0, "a valid code is answered even over the limit");

      t.clock.set(T0 + MINUTE);
      assert.equal((await t.exchange(unknownCode(), token)).body.code, 10226, "the next window resets");
    } finally {
      await t.close();
    }
  });

  it("per client address: failures of different apps from one address add up", async () => {
    const t = await startTestServer({
      config: { rateLimits: limits({ failedRedeemPerAddress: { limit: 3, windowMs: MINUTE } }) },
    });
    try {
      const demo = await t.appToken();
      const store = await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret);
      t.clock.set(T0 + MINUTE);
      assert.equal((await t.exchange(unknownCode(), demo)).body.code, 10226);
      assert.equal((await t.exchange(unknownCode(), store)).body.code, 10226);
      assert.equal((await t.exchange(unknownCode(), demo)).body.code, 10226);
      assertRateLimited(await t.exchange(unknownCode(), store), 3, 60);
      // A malformed code never reaches storage and is not counted: it keeps its own answer.
      assert.equal((await t.exchange("not-a-code", demo)).body.code, 10226);
      t.clock.set(T0 + 2 * MINUTE);
      assert.equal((await t.exchange(unknownCode(), store)).body.code, 10226);
    } finally {
      await t.close();
    }
  });
});

describe("H6: refresh attempts per family", () => {
  let t: TestServer;
  let token: string;
  before(async () => {
    t = await startTestServer({
      config: { rateLimits: limits({ refreshPerFamily: { limit: 3, windowMs: MINUTE } }) },
    });
    token = await t.appToken();
  });
  after(() => t.close());

  const login = async () => {
    const res = await t.exchange(await t.mintCode(), token);
    assert.equal(res.body.code, 0, res.text);
    return res.body.data.refresh_token as string;
  };
  const refresh = (refreshToken: string) =>
    t.request("POST", OIDC, { token, body: { grant_type: "refresh_token", refresh_token: refreshToken } });

  it("rotations count toward the family; a rotation over the limit is still delivered, a failure is refused", async () => {
    t.clock.set(T0 + 10 * MINUTE);
    const first = await login();
    let current = first;
    for (let i = 0; i < 4; i++) {
      const res = await refresh(current);
      assert.equal(res.body.code, 0, `rotation ${i + 1} delivered: ${res.text}`);
      current = res.body.data.refresh_token;
    }
    // The replay of a spent token names the family (and revokes it): the family is over its limit.
    t.clock.set(T0 + 10 * MINUTE + 30_000);
    assertRateLimited(await refresh(first), 3, 30);
    assert.equal((await refresh(current)).body.code, 20038, "the replay revoked the family all the same");
  });

  it("an unknown token is counted per presented token, and resets with the next window", async () => {
    t.clock.set(T0 + 20 * MINUTE);
    const unknown = `ur-${randomBytes(32).toString("base64url").slice(0, 43)}`;
    for (let i = 0; i < 3; i++) assert.equal((await refresh(unknown)).body.code, 20026);
    assertRateLimited(await refresh(unknown), 3, 60);
    const other = `ur-${randomBytes(32).toString("base64url").slice(0, 43)}`;
    assert.equal((await refresh(other)).body.code, 20026, "another token has its own count");
    t.clock.set(T0 + 21 * MINUTE);
    assert.equal((await refresh(unknown)).body.code, 20026);
  });

  it("a fresh family refreshes normally", async () => {
    t.clock.set(T0 + 30 * MINUTE);
    const res = await refresh(await login());
    assert.equal(res.status, 200);
    assert.equal(res.body.code, 0, res.text);
  });
});

describe("H6: disabled", () => {
  it("with enabled: false nothing is counted or refused", async () => {
    const t = await startTestServer({
      config: { rateLimits: { ...limits({ appToken: { limit: 1, windowMs: MINUTE } }), enabled: false } },
    });
    try {
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await appTokenRequest(t)).body.code);
      assert.deepEqual(codes, [0, 0, 0, 0]);
    } finally {
      await t.close();
    }
  });
});

describe("H6: two servers on one database share the counts", () => {
  const dir = mkdtempSync(join(tmpdir(), "mina-auth-rl-"));
  const dbPath = join(dir, "shared.db");
  const clock = new ManualClock(T0);
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    const config = {
      rateLimits: limits({
        appToken: { limit: 4, windowMs: MINUTE },
        failedAppSecretPerApp: { limit: 4, windowMs: MINUTE },
        failedRedeemPerApp: { limit: 4, windowMs: MINUTE },
      }),
    };
    a = await startTestServer({ config, dbPath, clock });
    b = await startTestServer({ config, dbPath, clock });
  });
  after(async () => {
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("app token requests and wrong secrets on A and B add up to one limit each", async () => {
    clock.set(T0 + 40 * MINUTE);
    const answers = [];
    for (const server of [a, b, a, b]) answers.push((await appTokenRequest(server)).body.code);
    for (const server of [a, b, a, b])
      answers.push((await appTokenRequest(server, "wrong-secret")).body.code);
    assert.deepEqual(answers, [0, 0, 0, 0, 10014, 10014, 10014, 10014]);
    assertRateLimited(await appTokenRequest(a), 4, 60);
    assertRateLimited(await appTokenRequest(b, "wrong-secret"), 4, 60);
  });

  it("failed redemptions on A and B add up to one limit", async () => {
    clock.set(T0 + 50 * MINUTE);
    const tokenA = await a.appToken();
    const tokenB = await b.appToken();
    const answers = [];
    for (const [server, token] of [
      [a, tokenA],
      [b, tokenB],
      [a, tokenA],
      [b, tokenB],
    ] as const) {
      answers.push((await server.exchange(unknownCode(), token)).body.code);
    }
    assert.deepEqual(answers, [10226, 10226, 10226, 10226]);
    assertRateLimited(await a.exchange(unknownCode(), tokenA), 4, 60);
    assertRateLimited(await b.exchange(unknownCode(), tokenB), 4, 60);
  });
});
