/**
 * The platform endpoints' one implementation (src/http/platform/handler.ts): every answer of
 * tokenLoginValidate with its status, headers, log line and metrics; the platform's check order
 * (a bad app token answers at once, whatever the body); storage faults; every address `localhost`
 * resolves to; the handler's safety net; and the same code reached in-process (inject).
 */
import assert from "node:assert/strict";
import dns from "node:dns";
import { createServer as createHttpServer } from "node:http";
import { connect, createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { Limits, Paths } from "@mina-auth/protocol";
import { inject } from "light-my-request";
import { EarlyAnswers } from "../src/http/early-answers.ts";
import type { Endpoint } from "../src/http/platform/endpoints.ts";
import { createPlatformHandler, type PlatformDeps } from "../src/http/platform/handler.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestResponse, type TestServer } from "./harness.ts";

const ROUTE = Paths.tokenLoginValidate;

interface Case {
  name: string;
  /** Sends the case's request(s) and returns the last answer. */
  send(t: TestServer, appToken: string, storeToken: string): Promise<TestResponse>;
  status: number;
  code: number;
  /** The answer closes its connection (a body that does not parse is not trusted further). */
  closes?: boolean;
  /** The success carries employee_id (the demo app holds its scope; the store app does not). */
  employeeId?: boolean;
}

const post = (t: TestServer, headers: Record<string, string>, raw: string | Buffer) =>
  t.request("POST", ROUTE, { headers, raw });
const json = { "content-type": "application/json" };
const withToken = (token: string, type = "application/json") => ({
  "content-type": type,
  authorization: `Bearer ${token}`,
});

const CASES: Case[] = [
  {
    name: "success, employee_id granted",
    send: async (t, app) => t.exchange(await t.mintCode(), app),
    status: 200,
    code: 0,
    employeeId: true,
  },
  {
    name: "success, store app without the employee_id scope",
    send: async (t, _app, store) =>
      t.exchange(await t.mintCode(DEMO.visibleUser, DEMO.storeAppId, DEMO.acme), store),
    status: 200,
    code: 0,
    employeeId: false,
  },
  {
    name: "success, content type without a space before charset",
    send: async (t, app) =>
      post(t, withToken(app, "application/json;charset=utf-8"), JSON.stringify({ code: await t.mintCode() })),
    status: 200,
    code: 0,
    employeeId: true,
  },
  {
    name: "success, body with a byte-order mark",
    send: async (t, app) =>
      post(
        t,
        withToken(app),
        Buffer.concat([
          Buffer.from([0xef, 0xbb, 0xbf]),
          Buffer.from(JSON.stringify({ code: await t.mintCode() })),
        ]),
      ),
    status: 200,
    code: 0,
    employeeId: true,
  },
  {
    name: "success, with a query string",
    send: async (t, app) =>
      t.request("POST", `${ROUTE}?x=1`, { token: app, body: { code: await t.mintCode() } }),
    status: 200,
    code: 0,
    employeeId: true,
  },
  {
    name: "reused code (10213)",
    send: async (t, app) => {
      const code = await t.mintCode();
      await t.exchange(code, app);
      return t.exchange(code, app);
    },
    status: 200,
    code: 10213,
  },
  {
    name: "another app's code (10213)",
    send: async (t, _app, store) => t.exchange(await t.mintCode(), store),
    status: 200,
    code: 10213,
  },
  {
    name: "user outside visibility (10228)",
    send: async (t, app) => t.exchange(await t.mintCode(DEMO.invisibleUser), app),
    status: 200,
    code: 10228,
  },
  {
    name: "unknown code (10226)",
    send: (t, app) => t.exchange("0".repeat(44), app),
    status: 200,
    code: 10226,
  },
  {
    name: "malformed code (10226)",
    send: (t, app) => t.exchange("not-a-code", app),
    status: 200,
    code: 10226,
  },
  {
    name: "no code field (10226)",
    send: (t, app) => post(t, withToken(app), "{}"),
    status: 200,
    code: 10226,
  },
  { name: "body null (10226)", send: (t, app) => post(t, withToken(app), "null"), status: 200, code: 10226 },
  {
    name: "body an array (10226)",
    send: (t, app) => post(t, withToken(app), "[]"),
    status: 200,
    code: 10226,
  },
  {
    name: "code only under __proto__ (10226)",
    send: async (t, app) => post(t, withToken(app), `{"__proto__":{"code":"${await t.mintCode()}"}}`),
    status: 200,
    code: 10226,
  },
  {
    name: "code only under constructor.prototype (10226)",
    send: async (t, app) =>
      post(t, withToken(app), `{"constructor":{"prototype":{"code":"${await t.mintCode()}"}}}`),
    status: 200,
    code: 10226,
  },
  {
    name: "malformed JSON (9499, connection close)",
    send: (t, app) => post(t, withToken(app), "{"),
    status: 400,
    code: 9499,
    closes: true,
  },
  {
    name: "empty body (9499)",
    send: (t, app) => post(t, withToken(app), ""),
    status: 400,
    code: 9499,
    closes: true,
  },
  {
    name: "no body and no content type (10226)",
    send: (t, app) => t.request("POST", ROUTE, { token: app }),
    status: 200,
    code: 10226,
  },
  {
    name: "bad app token wins over a malformed body (10202)",
    send: (t) => post(t, withToken("t-nope"), "{"),
    status: 200,
    code: 10202,
  },
  {
    name: "bad app token wins over another content type (10202)",
    send: (t) => post(t, withToken("t-nope", "text/plain"), "{}"),
    status: 200,
    code: 10202,
  },
  {
    name: "no Authorization header (10202)",
    send: async (t) => post(t, json, JSON.stringify({ code: await t.mintCode() })),
    status: 200,
    code: 10202,
  },
  {
    name: "not a Bearer credential (10202)",
    send: (t, app) => post(t, { ...json, authorization: app }, "{}"),
    status: 200,
    code: 10202,
  },
  {
    name: "another content type (9415)",
    send: (t, app) => post(t, withToken(app, "text/plain"), "{}"),
    status: 415,
    code: 9415,
  },
];

/** The fields of the request log lines for the route, in order. */
function routeLog(t: TestServer): Array<Record<string, unknown>> {
  return t
    .logs()
    .split("\n")
    .filter((line) => line.includes(`"route":"${ROUTE}"`))
    .map((line) => {
      const { method, route, status, code, msg, reqId } = JSON.parse(line) as Record<string, unknown>;
      return { method, route, status, code, msg, reqId };
    });
}

describe("tokenLoginValidate on the platform handler", () => {
  let t: TestServer;
  let tokens: [string, string];
  before(async () => {
    // A short request timeout, for the case of a body that never arrives.
    t = await startTestServer({ config: { requestTimeoutMs: 800 } });
    tokens = [await t.appToken(), await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret)];
  });
  after(() => t.close());

  it("answers every case with its status, code, headers, one log line and metrics", async () => {
    for (const testCase of CASES) {
      const logged = routeLog(t).length;
      const res = await testCase.send(t, ...tokens);
      const label = `${testCase.name}: ${res.text}`;
      assert.equal(res.status, testCase.status, label);
      assert.equal(res.body?.code, testCase.code, label);
      assert.equal(res.headers.get("cache-control"), "no-store", label);
      assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8", label);
      assert.equal(res.headers.get("content-length"), String(Buffer.byteLength(res.text)), label);
      assert.equal(res.headers.get("connection") === "close", testCase.closes === true, label);
      if (testCase.code === 0) {
        const keys = ["open_id", "session_key", "tenant_key", "access_token", "expires_in", "refresh_token"];
        if (testCase.employeeId) keys.splice(1, 0, "employee_id");
        assert.deepEqual(Object.keys(res.body.data), keys, label);
        assert.deepEqual(Object.keys(res.body), ["code", "msg", "data"], label);
        assert.equal(res.body.msg, "success");
      } else {
        assert.deepEqual(Object.keys(res.body), ["code", "msg"], label);
      }
      const last = routeLog(t).slice(logged).at(-1);
      assert.deepEqual(
        { ...last, reqId: typeof last?.reqId },
        {
          method: "POST",
          route: ROUTE,
          status: testCase.status,
          code: testCase.code,
          msg: "request",
          reqId: "string",
        },
        label,
      );
    }
    const metrics = (await t.request("GET", "/metrics")).text;
    for (const code of [0, 9415, 9499, 10202, 10213, 10226, 10228]) {
      const count = routeLog(t).filter((line) => line.code === code).length;
      assert.ok(count > 0, String(code));
      assert.ok(
        metrics.includes(`\nmina_auth_requests_total{route="${ROUTE}",code="${code}"} ${count}\n`),
        `${code} counted ${count} times`,
      );
    }
  });

  it("answers a bad app token at once while the body never comes, then only closes the connection when the request times out", async () => {
    const transcript = await stalledBody(t.url);
    // The first (and only) answer is 10202, not the 408 a handler waiting for the body would get.
    assert.match(transcript.received, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(transcript.received, /\{"code":10202,"msg":"access token invalid"\}$/);
    assert.equal(transcript.received.split("HTTP/1.1 ").length - 1, 1, "no 408 after the answer");
    assert.equal(transcript.closed, true, "closed by the server once the request timed out");
  });

  it("answers 404 99991201 for an unknown path or method under /open-apis/, with its log line", async () => {
    for (const [method, path] of [
      ["GET", ROUTE],
      ["POST", "/open-apis/mina/v2/tokenloginvalidate"],
      ["POST", `${ROUTE}/`],
      ["DELETE", "/open-apis/authen/v1/user_info"],
    ] as const) {
      const res = await t.request(method, path, {
        token: tokens[0],
        ...(method === "GET" ? {} : { body: {} }),
      });
      assert.equal(res.status, 404, `${method} ${path}`);
      assert.deepEqual(res.body, { code: 99991201, msg: "resource not find" });
      assert.equal(res.headers.get("cache-control"), "no-store");
    }
    assert.match(t.logs(), /"method":"DELETE","route":"unmatched","status":404,"code":99991201/);
  });

  it("answers HEAD user_info as GET, without a body", async () => {
    const res = await t.request("HEAD", "/open-apis/authen/v1/user_info");
    assert.equal(res.status, 400);
    assert.equal(res.text, "");
    assert.equal(res.headers.get("cache-control"), "no-store");
  });

  it("answers a storage fault with the retryable 1500 and Retry-After", async () => {
    const other = await startTestServer();
    try {
      const app = await other.appToken();
      const code = await other.mintCode();
      await other.server.storage.close();
      const res = await other.exchange(code, app);
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { code: 1500, msg: "internal error, please retry" });
      assert.equal(res.headers.get("retry-after"), "1");
      assert.equal(res.headers.get("cache-control"), "no-store");
    } finally {
      await other.close();
    }
  });
});

describe("in-process requests (inject) reach the same code as the network", () => {
  it("answers tokenLoginValidate, a platform 404 and an admin route through app.handle", async () => {
    const t = await startTestServer();
    try {
      const handle = t.server.app.handle;
      const token = await t.appToken();
      const minted = await inject(handle, {
        method: "POST",
        url: "/admin/v1/login-codes",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        payload: { app_id: DEMO.appId, user_id: DEMO.visibleUser },
      });
      assert.equal(minted.statusCode, 201, minted.payload);
      const exchange = () =>
        inject(handle, {
          method: "POST",
          url: ROUTE,
          headers: { authorization: `Bearer ${token}` },
          payload: { code: minted.json().code },
        });
      const res = await exchange();
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().code, 0, res.payload);
      assert.equal(res.headers["cache-control"], "no-store");
      assert.deepEqual((await exchange()).json(), { code: 10213, msg: "code appid not match" });
      const missing = await inject(handle, { method: "GET", url: "/open-apis/nothing" });
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(missing.json(), { code: 99991201, msg: "resource not find" });
      // The same request log line as over the network, once per request.
      assert.equal(routeLog(t).length, 2);
    } finally {
      await t.close();
    }
  });
});

describe("the platform handler's safety net", () => {
  it("a throw after the answer (the observer here) is logged without request data and the process serves on", async () => {
    const errors: unknown[] = [];
    const log = {
      level: "warn",
      error: (fields: unknown, msg: string) => errors.push({ fields, msg }),
      child: () => log,
    };
    const endpoint: Endpoint = {
      method: "POST",
      path: ROUTE,
      operationId: "tokenLoginValidate",
      summary: "",
      auth: { kind: "app", failure: "AccessTokenInvalid" },
      response: {},
      successMsg: "success",
      answer: async () => ({}),
    };
    const handler = createPlatformHandler({
      endpoints: [endpoint],
      appTokens: { authenticate: async () => ({ appId: "cli_0000000000000000" }) },
      log,
      nextRequestId: () => "r1",
      isClosing: () => false,
      earlyAnswers: new EarlyAnswers(),
      bodyLimit: Limits.bodyBytes,
      requestTimeoutMs: 1000,
      observe: () => {
        throw new Error("observer broke");
      },
    } as unknown as PlatformDeps);
    const server = createHttpServer((request, response) => {
      if (!handler(request, response)) response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(`http://127.0.0.1:${port}${ROUTE}`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: "Bearer t-0" },
          body: JSON.stringify({ code: "0".repeat(44) }),
        });
        assert.deepEqual(await res.json(), { code: 0, msg: "success" });
      }
      const logged = {
        fields: { error: { type: "Error", message: "observer broke" } },
        msg: "platform request failed",
      };
      assert.deepEqual(errors, [logged, logged]);
    } finally {
      server.close();
    }
  });
});

/**
 * Sends the headers of a tokenLoginValidate with a bad app token and a 40-byte body that never
 * comes; returns everything received until the server closes the connection (or 5 s passed).
 */
function stalledBody(url: string): Promise<{ received: string; closed: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received, closed: false });
    }, 5000);
    socket.on("data", (chunk) => {
      received += chunk.toString();
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve({ received, closed: true });
    });
    socket.on("error", reject);
    socket.write(
      `POST ${ROUTE} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\n` +
        "Authorization: Bearer t-0000\r\nContent-Length: 40\r\n\r\n",
    );
  });
}

/** Whether this host lets a process listen on 127.0.0.2 (Linux does; macOS only once aliased). */
function canBind(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(0, address, () => probe.close(() => resolve(true)));
  });
}

describe("listening on localhost", () => {
  it("still binds every address localhost resolves to, and answers on each", async (t) => {
    if (!(await canBind("127.0.0.2"))) {
      t.skip("this host cannot listen on 127.0.0.2 (a second loopback address)");
      return;
    }
    const original = dns.lookup;
    // Two loopback addresses for localhost, as a host with IPv4 and IPv6 loopback would give.
    t.mock.method(dns, "lookup", (host: string, options: unknown, callback: unknown) => {
      if (host === "localhost" && typeof callback === "function") {
        const addresses = [
          { address: "127.0.0.1", family: 4 },
          { address: "127.0.0.2", family: 4 },
        ];
        const all = typeof options === "object" && options !== null && (options as { all?: boolean }).all;
        setImmediate(() => (all ? callback(null, addresses) : callback(null, "127.0.0.1", 4)));
        return;
      }
      return (original as (...args: unknown[]) => void)(host, options, callback);
    });
    const server = await startTestServer({ config: { host: "localhost" } });
    try {
      const bound = server.server.addresses.map((a) => a.address);
      assert.deepEqual(new Set(bound), new Set(["127.0.0.1", "127.0.0.2"]));
      const port = server.server.addresses[0]!.port;
      for (const address of bound) {
        const res = await fetch(`http://${address}:${port}${ROUTE}`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${await server.appToken()}` },
          body: JSON.stringify({ code: await server.mintCode() }),
        });
        assert.equal(((await res.json()) as { code: number }).code, 0, address);
      }
    } finally {
      await server.close();
    }
  });
});

describe("a stopping server's answers", () => {
  it("answers fastify's routes 503 with the envelope (not fastify's own body), and still answers the platform", async () => {
    const t = await startTestServer();
    const handle = t.server.app.handle;
    await t.close();
    const health = await inject(handle, { method: "GET", url: "/healthz" });
    assert.equal(health.statusCode, 503);
    assert.deepEqual(health.json(), { code: 9503, msg: "server stopping: retry on another instance" });
    assert.equal(health.headers["retry-after"], "1");
    assert.equal(health.headers.connection, "close");
    const missing = await inject(handle, { method: "GET", url: "/open-apis/nothing" });
    assert.deepEqual(missing.json(), { code: 99991201, msg: "resource not find" });
  });
});
