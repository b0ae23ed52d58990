// The client over real HTTP on loopback, against a scripted platform (helpers/fake-platform.ts).
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it, mock } from "node:test";
import { inspect } from "node:util";
import {
  type CachedToken,
  ErrorCodes,
  type FetchLike,
  MinaApiError,
  MinaClient,
  type MinaClientOptions,
  MinaError,
  MinaTimeoutError,
  MinaTransportError,
  type RequestLogDetails,
  type TokenCache,
} from "../src/index.ts";
import {
  APP_ID,
  APP_SECRET,
  defaultRoutes,
  type FakePlatform,
  LOGIN_CODE,
  NEW_REFRESH_TOKEN,
  NEW_USER_TOKEN,
  P,
  REFRESH_TOKEN,
  SESSION_KEY,
  startFakePlatform,
  USER_TOKEN,
} from "./helpers/fake-platform.ts";

let platform: FakePlatform;

beforeEach(async () => {
  platform = await startFakePlatform();
});
afterEach(async () => {
  await platform.close();
});

function client(extra: Partial<MinaClientOptions> = {}): MinaClient {
  return new MinaClient({ appId: APP_ID, appSecret: APP_SECRET, baseUrl: platform.baseUrl, ...extra });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected a rejection");
}

describe("method mapping", () => {
  it("tokenLoginValidate: camelCase result, Date expiry from a Unix timestamp, raw kept", async () => {
    const s = await client().tokenLoginValidate(LOGIN_CODE);
    assert.equal(s.openId, "ou_194fcfc5e4b78db556a040ff5e42c0aa");
    assert.equal(s.employeeId, "6c486g");
    assert.equal(s.sessionKey, SESSION_KEY);
    assert.equal(s.tenantKey, "2c5914ac018f97");
    assert.equal(s.accessToken, USER_TOKEN);
    assert.equal(s.refreshToken, REFRESH_TOKEN);
    assert.ok(s.expiresAt instanceof Date);
    assert.equal(s.expiresAt.getTime(), 1565512680 * 1000);
    assert.equal(s.raw.session_key, SESSION_KEY);
    assert.equal(s.raw.expires_in, 1565512680);

    const [tokenReq, loginReq] = platform.requests;
    assert.equal(tokenReq?.path, P.appToken);
    assert.deepEqual(tokenReq?.body, { app_id: APP_ID, app_secret: APP_SECRET });
    assert.equal(loginReq?.method, "POST");
    assert.equal(loginReq?.path, P.login);
    assert.equal(loginReq?.headers.authorization, `Bearer ${platform.issued[0]}`);
    assert.equal(loginReq?.headers["content-type"], "application/json; charset=utf-8");
    assert.deepEqual(loginReq?.body, { code: LOGIN_CODE });
  });

  it("tokenLoginValidate: a small expires_in is seconds from now; employeeId absent when not sent", async () => {
    platform.routes.set(P.login, () => ({
      json: {
        code: 0,
        msg: "success",
        data: {
          open_id: "ou_1",
          session_key: SESSION_KEY,
          tenant_key: "2c5914ac018f97",
          access_token: USER_TOKEN,
          expires_in: 6900,
          refresh_token: REFRESH_TOKEN,
        },
      },
    }));
    const before = Date.now();
    const s = await client().tokenLoginValidate(LOGIN_CODE);
    const after = Date.now();
    assert.ok(s.expiresAt.getTime() >= before + 6900_000 && s.expiresAt.getTime() <= after + 6900_000);
    assert.equal("employeeId" in s, false);
  });

  it("refreshUserAccessToken: oidc path, grant_type, relative expiries, scope", async () => {
    const before = Date.now();
    const r = await client().refreshUserAccessToken(REFRESH_TOKEN);
    const after = Date.now();
    assert.equal(r.accessToken, NEW_USER_TOKEN);
    assert.equal(r.refreshToken, NEW_REFRESH_TOKEN);
    assert.equal(r.tokenType, "Bearer");
    assert.equal(r.scope, "contact:user.employee_id:readonly");
    const exp = r.expiresAt.getTime();
    assert.ok(exp >= before + 6900_000 && exp <= after + 6900_000);
    const rexp = r.refreshExpiresAt.getTime();
    assert.ok(rexp >= before + 2591999_000 && rexp <= after + 2591999_000);
    assert.equal(r.raw.refresh_expires_in, 2591999);
    const req = platform.requests.find((x) => x.path === P.refresh);
    assert.equal(req?.method, "POST");
    assert.equal(req?.headers.authorization, `Bearer ${platform.issued[0]}`);
    assert.deepEqual(req?.body, { grant_type: "refresh_token", refresh_token: REFRESH_TOKEN });
  });

  it("getUserInfo: GET with the user's token, no app token fetched", async () => {
    const u = await client().getUserInfo(USER_TOKEN);
    assert.deepEqual(
      { ...u, raw: undefined },
      {
        openId: "ou_194fcfc5e4b78db556a040ff5e42c0aa",
        unionId: "on_8ed6aa67826108097d9ee143816345aa",
        tenantKey: "2c5914ac018f97",
        name: "Zhang San",
        enName: "San Zhang",
        avatarUrl: "https://example.test/a.png",
        userId: "6c486g",
        email: "zhangsan@acme.test",
        mobile: "+8613000000000",
        raw: undefined,
      },
    );
    assert.equal(u.raw.avatar_thumb, "https://example.test/a72.png");
    assert.equal(platform.count(P.appToken), 0);
    const req = platform.requests[0];
    assert.equal(req?.method, "GET");
    assert.equal(req?.headers.authorization, `Bearer ${USER_TOKEN}`);
  });

  it("a success body missing a required field is a transport error naming the field, not its value", async () => {
    platform.routes.set(P.login, () => ({ json: { code: 0, msg: "success", data: { open_id: "ou_1" } } }));
    const err = await rejection(client().tokenLoginValidate(LOGIN_CODE));
    assert.ok(err instanceof MinaTransportError);
    assert.match(err.message, /data\.session_key/);
    assert.equal(err.httpStatus, 200);
  });
});

describe("app_access_token", () => {
  it("20 concurrent calls share one app-token fetch; later calls reuse it", async () => {
    const c = client();
    const results = await Promise.all(Array.from({ length: 20 }, () => c.tokenLoginValidate(LOGIN_CODE)));
    assert.equal(results.length, 20);
    assert.equal(platform.count(P.appToken), 1);
    await c.refreshUserAccessToken(REFRESH_TOKEN);
    await c.tokenLoginValidate(LOGIN_CODE);
    assert.equal(platform.count(P.appToken), 1);
    assert.equal(platform.count(P.login), 21);
  });

  it("on 10202 the token is dropped, refetched and the call retried once", async () => {
    const warnings: string[] = [];
    const c = client({ logger: { debug() {}, warn: (m) => warnings.push(m) } });
    await c.tokenLoginValidate(LOGIN_CODE);
    platform.valid.clear(); // the platform forgets the token: next use answers 10202 once
    const s = await c.tokenLoginValidate(LOGIN_CODE);
    assert.equal(s.sessionKey, SESSION_KEY);
    assert.equal(platform.count(P.appToken), 2);
    assert.equal(platform.count(P.login), 3);
    const last = platform.requests.at(-1);
    assert.equal(last?.headers.authorization, `Bearer ${platform.issued[1]}`);
    assert.equal(warnings.length, 1);
  });

  it("when the retry is rejected too, the call fails after exactly one retry (no loop)", async () => {
    platform.routes.set(P.login, () => ({ json: { code: 10202, msg: "access token invalid" } }));
    const err = await rejection(client().tokenLoginValidate(LOGIN_CODE));
    assert.ok(err instanceof MinaApiError);
    assert.equal(err.code, ErrorCodes.AccessTokenInvalid);
    assert.equal(platform.count(P.appToken), 2);
    assert.equal(platform.count(P.login), 2);
  });

  for (const code of [99991663, 99991664, 99991661]) {
    it(`gateway code ${code} also triggers one evict-and-retry`, async () => {
      const login = defaultRoutes[P.login];
      assert.ok(login);
      let first = true;
      platform.routes.set(P.login, (req, p) => {
        if (!first) return login(req, p);
        first = false;
        return { status: 400, json: { code, msg: "Invalid access token for authorization." } };
      });
      const s = await client().tokenLoginValidate(LOGIN_CODE);
      assert.equal(s.sessionKey, SESSION_KEY);
      assert.equal(platform.count(P.appToken), 2);
    });
  }

  it("refresh: 20014 (app token invalid on authen/v1) evicts and retries once", async () => {
    const c = client();
    await c.tokenLoginValidate(LOGIN_CODE);
    platform.valid.clear();
    const r = await c.refreshUserAccessToken(REFRESH_TOKEN);
    assert.equal(r.accessToken, NEW_USER_TOKEN);
    assert.equal(platform.count(P.appToken), 2);
    assert.equal(platform.count(P.refresh), 2);
  });

  it("10 concurrent calls rejected with the same stale token refetch it once", async () => {
    const c = client();
    await c.tokenLoginValidate(LOGIN_CODE);
    platform.valid.clear();
    await Promise.all(Array.from({ length: 10 }, () => c.tokenLoginValidate(LOGIN_CODE)));
    assert.equal(platform.count(P.appToken), 2);
  });

  it("non-token errors are not retried", async () => {
    const err = await rejection(client().tokenLoginValidate("0000000000000000"));
    assert.ok(err instanceof MinaApiError);
    assert.equal(err.code, ErrorCodes.InvalidCode);
    assert.equal(platform.count(P.login), 1);
  });

  describe("cache expiry (Date mocked)", () => {
    before(() => mock.timers.enable({ apis: ["Date"], now: Date.parse("2026-01-01T00:00:00Z") }));
    after(() => mock.timers.reset());

    it("uses the cached token until 3 minutes before `expire`, then fetches a new one", async () => {
      const c = client();
      await c.tokenLoginValidate(LOGIN_CODE);
      assert.equal(platform.count(P.appToken), 1);
      mock.timers.tick((7200 - 180 - 1) * 1000);
      await c.tokenLoginValidate(LOGIN_CODE);
      assert.equal(platform.count(P.appToken), 1, "still more than 3 minutes left");
      mock.timers.tick(2000);
      await c.tokenLoginValidate(LOGIN_CODE);
      assert.equal(platform.count(P.appToken), 2, "within the last 3 minutes");
      assert.equal(platform.requests.at(-1)?.headers.authorization, `Bearer ${platform.issued[1]}`);
    });

    it("a token issued with 3 minutes or less left is used once and not reused", async () => {
      platform.expire = 180;
      const c = client();
      await c.tokenLoginValidate(LOGIN_CODE);
      await c.tokenLoginValidate(LOGIN_CODE);
      assert.equal(platform.count(P.appToken), 2);
    });
  });

  it("a custom tokenCache is read and written, and shares one token between clients", async () => {
    const store = new Map<string, CachedToken>();
    const calls: string[] = [];
    const cache: TokenCache = {
      async get(key) {
        calls.push(`get ${key}`);
        return store.get(key);
      },
      async set(key, value) {
        calls.push(`set ${key}`);
        store.set(key, value);
      },
      async delete(key) {
        calls.push(`delete ${key}`);
        store.delete(key);
      },
    };
    const a = client({ tokenCache: cache });
    const b = client({ tokenCache: cache });
    await a.tokenLoginValidate(LOGIN_CODE);
    await b.tokenLoginValidate(LOGIN_CODE);
    assert.equal(platform.count(P.appToken), 1);
    const key = `mina-auth:app_access_token:${platform.baseUrl}:${APP_ID}`;
    assert.deepEqual(calls, [`get ${key}`, `set ${key}`, `get ${key}`]);
    const entry = store.get(key);
    assert.equal(entry?.token, platform.issued[0]);
    assert.ok(entry && Math.abs(entry.expiresAt - (Date.now() + 7200_000)) < 5000);

    platform.valid.clear();
    await b.tokenLoginValidate(LOGIN_CODE);
    assert.ok(calls.includes(`delete ${key}`), "a rejected token is deleted from the shared cache");
    assert.equal(store.get(key)?.token, platform.issued[1]);
  });

  it("a token already in the cache is used without fetching", async () => {
    platform.valid.add("t-seeded");
    const store = new Map<string, CachedToken>([
      [
        `mina-auth:app_access_token:${platform.baseUrl}:${APP_ID}`,
        { token: "t-seeded", expiresAt: Date.now() + 3600_000 },
      ],
    ]);
    const cache: TokenCache = { get: async (k) => store.get(k), set: async (k, v) => void store.set(k, v) };
    await client({ tokenCache: cache }).tokenLoginValidate(LOGIN_CODE);
    assert.equal(platform.count(P.appToken), 0);
    assert.equal(platform.requests[0]?.headers.authorization, "Bearer t-seeded");
  });

  it("a failing tokenCache is logged and bypassed, never failing the call", async () => {
    const warnings: string[] = [];
    const cache: TokenCache = {
      get: async () => {
        throw new Error("redis down");
      },
      set: async () => {
        throw new Error("redis down");
      },
    };
    const s = await client({
      tokenCache: cache,
      logger: { debug() {}, warn: (m) => warnings.push(m) },
    }).tokenLoginValidate(LOGIN_CODE);
    assert.equal(s.sessionKey, SESSION_KEY);
    assert.equal(warnings.length, 2);
  });

  it("app-token endpoint errors surface as MinaApiError from the call", async () => {
    const err = await rejection(
      new MinaClient({
        appId: APP_ID,
        appSecret: "wrong-secret-value",
        baseUrl: platform.baseUrl,
      }).tokenLoginValidate(LOGIN_CODE),
    );
    assert.ok(err instanceof MinaApiError);
    assert.equal(err.code, ErrorCodes.AppSecretInvalid);
    assert.equal(err.path, P.appToken);
    assert.equal(platform.count(P.login), 0);
  });
});

describe("errors", () => {
  it("MinaApiError carries code, msg, httpStatus and the body's error.log_id", async () => {
    const err = await rejection(client().getUserInfo("u-unknown"));
    assert.ok(err instanceof MinaApiError);
    assert.ok(err instanceof MinaError);
    assert.equal(err.name, "MinaApiError");
    assert.equal(err.code, ErrorCodes.UserAccessTokenInvalid);
    assert.equal(err.httpStatus, 400);
    assert.match(err.msg, /Invalid access token/);
    assert.equal(err.logId, "20240101000000LOGIDFROMBODY");
    assert.equal(err.method, "GET");
    assert.equal(err.path, P.userInfo);
  });

  it("the x-tt-logid header gives logId when the body has none", async () => {
    platform.routes.set(P.login, () => ({
      json: { code: 10228, msg: "user to app has no visibility" },
      headers: { "X-Tt-Logid": "202601010000HEADERLOGID" },
    }));
    const err = await rejection(client().tokenLoginValidate(LOGIN_CODE));
    assert.ok(err instanceof MinaApiError);
    assert.equal(err.code, ErrorCodes.UserNoVisibility);
    assert.equal(err.httpStatus, 200);
    assert.equal(err.logId, "202601010000HEADERLOGID");
  });

  it("a non-JSON body is a MinaTransportError with the HTTP status", async () => {
    platform.routes.set(P.userInfo, () => ({
      status: 502,
      text: "<html>Bad Gateway</html>",
      headers: { "x-tt-logid": "gw-1" },
    }));
    const err = await rejection(client().getUserInfo(USER_TOKEN));
    assert.ok(err instanceof MinaTransportError);
    assert.ok(!(err instanceof MinaApiError));
    assert.equal(err.name, "MinaTransportError");
    assert.equal(err.httpStatus, 502);
    assert.equal(err.logId, "gw-1");
    assert.match(err.message, /not JSON/);
  });

  it("JSON without the {code} envelope is a MinaTransportError", async () => {
    platform.routes.set(P.userInfo, () => ({ status: 503, json: { error: "unavailable" } }));
    const err = await rejection(client().getUserInfo(USER_TOKEN));
    assert.ok(err instanceof MinaTransportError);
    assert.equal(err.httpStatus, 503);
  });

  it("a refused connection is a MinaTransportError without status", async () => {
    const base = platform.baseUrl;
    await platform.close();
    const err = await rejection(
      new MinaClient({ appId: APP_ID, appSecret: APP_SECRET, baseUrl: base }).getUserInfo(USER_TOKEN),
    );
    assert.ok(err instanceof MinaTransportError);
    assert.equal(err.httpStatus, undefined);
    assert.ok(err.cause instanceof Error);
    platform = await startFakePlatform(); // for afterEach
  });

  it("a slow reply times out with MinaTimeoutError (reason timeout)", async () => {
    platform.routes.set(P.userInfo, () => ({ delayMs: 2000, json: { code: 0, msg: "success", data: {} } }));
    const started = performance.now();
    const err = await rejection(client({ timeoutMs: 150 }).getUserInfo(USER_TOKEN));
    assert.ok(err instanceof MinaTimeoutError);
    assert.equal(err.reason, "timeout");
    assert.match(err.message, /timed out after 150 ms/);
    assert.ok(performance.now() - started < 1500);
  });

  it("the per-call timeoutMs overrides the client's", async () => {
    platform.routes.set(P.userInfo, () => ({ delayMs: 2000, json: {} }));
    const err = await rejection(client({ timeoutMs: 60_000 }).getUserInfo(USER_TOKEN, { timeoutMs: 100 }));
    assert.ok(err instanceof MinaTimeoutError);
    assert.equal(err.reason, "timeout");
  });

  it("an aborted signal rejects with MinaTimeoutError (reason aborted)", async () => {
    platform.routes.set(P.userInfo, () => ({ delayMs: 2000, json: {} }));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = await rejection(client().getUserInfo(USER_TOKEN, { signal: ac.signal }));
    assert.ok(err instanceof MinaTimeoutError);
    assert.equal(err.reason, "aborted");
  });

  it("an already-aborted signal sends nothing", async () => {
    const err = await rejection(client().tokenLoginValidate(LOGIN_CODE, { signal: AbortSignal.abort() }));
    assert.ok(err instanceof MinaTimeoutError);
    assert.equal(err.reason, "aborted");
    assert.equal(platform.requests.length, 0);
  });

  it("aborting while waiting for the shared app token leaves the other callers' fetch alone", async () => {
    const route = platform.routes.get(P.appToken);
    assert.ok(route);
    platform.routes.set(P.appToken, async (req, p) => ({ ...(await route(req, p)), delayMs: 300 }));
    const c = client();
    const ac = new AbortController();
    const aborted = rejection(c.tokenLoginValidate(LOGIN_CODE, { signal: ac.signal }));
    const ok = c.tokenLoginValidate(LOGIN_CODE);
    setTimeout(() => ac.abort(), 50);
    const err = await aborted;
    assert.ok(err instanceof MinaTimeoutError);
    assert.equal(err.reason, "aborted");
    assert.equal((await ok).sessionKey, SESSION_KEY);
    assert.equal(platform.count(P.appToken), 1);
    assert.equal(platform.count(P.login), 1);
  });

  it("bad arguments are TypeErrors that do not echo the value", () => {
    const c = client();
    assert.throws(() => new MinaClient({ appId: APP_ID, appSecret: "", baseUrl: "feishu" }), TypeError);
    assert.throws(
      () => new MinaClient({ appId: APP_ID, appSecret: APP_SECRET, baseUrl: "ftp://x" }),
      TypeError,
    );
    assert.throws(() => new MinaClient({ appId: APP_ID, appSecret: APP_SECRET, timeoutMs: 0 }), TypeError);
    return assert.rejects(c.getUserInfo(`${USER_TOKEN}\nX-Evil: 1`), (err: unknown) => {
      assert.ok(err instanceof TypeError);
      assert.ok(!err.message.includes(USER_TOKEN));
      return true;
    });
  });
});

describe("no secret in errors or logs", () => {
  function assertClean(value: unknown, secrets: string[]): void {
    const texts =
      value instanceof Error
        ? [
            value.message,
            value.stack ?? "",
            JSON.stringify(value),
            String(value),
            inspect(value, { depth: 5 }),
          ]
        : [JSON.stringify(value), inspect(value, { depth: 5 })];
    for (const text of texts) {
      for (const secret of secrets)
        assert.ok(!text.includes(secret), `leaked a secret in: ${text.slice(0, 200)}`);
    }
  }

  it("a platform msg echoing the code, tokens and app secret is masked", async () => {
    platform.routes.set(P.login, (req) => ({
      json: {
        code: 10226,
        msg: `invalid code ${JSON.stringify(req.body)} auth ${req.headers.authorization} secret ${APP_SECRET}`,
      },
    }));
    platform.routes.set(P.refresh, (req) => ({
      json: { code: 20026, msg: `bad ${JSON.stringify(req.body)} with ${req.headers.authorization}` },
    }));
    platform.routes.set(P.userInfo, (req) => ({
      status: 400,
      json: { code: 99991668, msg: `token ${req.headers.authorization} invalid` },
    }));
    const logs: unknown[] = [];
    const c = client({ logger: { debug: (m, d) => logs.push([m, d]), warn: (m, d) => logs.push([m, d]) } });

    const e1 = await rejection(c.tokenLoginValidate(LOGIN_CODE));
    assert.ok(e1 instanceof MinaApiError);
    assert.match(e1.msg, /\*\*\*/);
    const e2 = await rejection(c.refreshUserAccessToken(REFRESH_TOKEN));
    const e3 = await rejection(c.getUserInfo(USER_TOKEN));
    const secrets = [APP_SECRET, LOGIN_CODE, REFRESH_TOKEN, USER_TOKEN, ...platform.issued];
    for (const err of [e1, e2, e3]) assertClean(err, secrets);
    assertClean(logs, secrets);
    assertClean(c, [APP_SECRET]);
  });

  it("the logger gets method, path, status, duration and a masked Authorization", async () => {
    const entries: RequestLogDetails[] = [];
    const c = client({ logger: { debug: (_m, d) => entries.push(d) } });
    const s = await c.tokenLoginValidate(LOGIN_CODE);
    await c.getUserInfo(s.accessToken);
    assert.deepEqual(
      entries.map((e) => [e.method, e.path, e.status, e.code]),
      [
        ["POST", P.appToken, 200, 0],
        ["POST", P.login, 200, 0],
        ["GET", P.userInfo, 200, 0],
      ],
    );
    for (const e of entries) assert.equal(typeof e.durationMs, "number");
    assert.equal(entries[1]?.headers.authorization, "Bearer ***");
    assert.equal(entries[2]?.headers.authorization, "Bearer ***");
    assertClean(entries, [
      APP_SECRET,
      LOGIN_CODE,
      SESSION_KEY,
      USER_TOKEN,
      REFRESH_TOKEN,
      ...platform.issued,
    ]);
  });

  it("transport and timeout errors carry no secret either", async () => {
    platform.routes.set(P.login, () => ({ status: 500, text: `oops ${LOGIN_CODE}` }));
    const e1 = await rejection(client().tokenLoginValidate(LOGIN_CODE));
    assert.ok(e1 instanceof MinaTransportError);
    platform.routes.set(P.login, () => ({ delayMs: 1000, json: {} }));
    const e2 = await rejection(client({ timeoutMs: 80 }).tokenLoginValidate(LOGIN_CODE));
    assert.ok(e2 instanceof MinaTimeoutError);
    for (const err of [e1, e2]) assertClean(err, [APP_SECRET, LOGIN_CODE, ...platform.issued]);
  });
});

describe("baseUrl resolution (injected fetch)", () => {
  function recordingFetch(urls: string[]): FetchLike {
    return async (url) => {
      urls.push(url);
      const body = url.endsWith(P.appToken)
        ? { code: 0, msg: "ok", app_access_token: "t-x", expire: 7200 }
        : {
            code: 0,
            msg: "success",
            data: {
              open_id: "ou_1",
              session_key: "k".repeat(30),
              tenant_key: "2c5914ac018f97",
              access_token: "u-1",
              expires_in: 1565512680,
              refresh_token: "ur-1",
            },
          };
      return new Response(JSON.stringify(body), {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    };
  }

  const cases: Array<[MinaClientOptions["baseUrl"], string]> = [
    ["feishu", "https://open.feishu.cn"],
    ["lark", "https://open.larksuite.com"],
    [undefined, "https://open.feishu.cn"],
    ["http://127.0.0.1:8787", "http://127.0.0.1:8787"],
    ["http://127.0.0.1:8787/", "http://127.0.0.1:8787"],
    ["https://proxy.example/feishu/", "https://proxy.example/feishu"],
  ];
  for (const [baseUrl, origin] of cases) {
    it(`${String(baseUrl)} → ${origin}`, async () => {
      const urls: string[] = [];
      const c = new MinaClient({
        appId: APP_ID,
        appSecret: APP_SECRET,
        baseUrl,
        fetch: recordingFetch(urls),
      });
      assert.equal(c.baseUrl, origin);
      await c.tokenLoginValidate(LOGIN_CODE);
      assert.deepEqual(urls, [`${origin}${P.appToken}`, `${origin}${P.login}`]);
    });
  }

  it("rejects what is not feishu, lark or an http(s) URL", () => {
    for (const bad of ["Feishu", "open.feishu.cn", "ftp://x", "https://u:p@host", "https://h/?q=1"]) {
      assert.throws(
        () => new MinaClient({ appId: APP_ID, appSecret: APP_SECRET, baseUrl: bad }),
        TypeError,
        bad,
      );
    }
  });

  it("a fetch that ignores the signal still times out", async () => {
    const hanging: FetchLike = () => new Promise(() => {});
    const c = new MinaClient({ appId: APP_ID, appSecret: APP_SECRET, fetch: hanging, timeoutMs: 50 });
    const err = await rejection(c.getUserInfo(USER_TOKEN));
    assert.ok(err instanceof MinaTimeoutError);
  });
});
