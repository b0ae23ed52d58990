/**
 * The tokenLoginValidate fast lane (src/http/exchange-fast-lane.ts) answers exactly what the
 * fastify route answers. Two real servers on loopback, one with the lane and one without, get the
 * same requests; their statuses, headers, bodies (secrets replaced by their shape), log lines and
 * metrics must match.
 */
import assert from "node:assert/strict";
import dns from "node:dns";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, connect, createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { Limits, Paths } from "@mina-auth/protocol";
import { EarlyAnswers } from "../src/http/early-answers.ts";
import { createExchangeFastLane, type FastLaneDeps, fitsFastLane } from "../src/http/exchange-fast-lane.ts";
import { DEMO, startTestServer, type TestResponse, type TestServer } from "./harness.ts";

const ROUTE = Paths.tokenLoginValidate;
const SECRET_FIELDS = new Set(["access_token", "refresh_token", "session_key", "open_id"]);
const COMPARED_HEADERS = [
  "cache-control",
  "content-type",
  "content-length",
  "connection",
  "retry-after",
  "x-ogw-ratelimit-limit",
  "x-ogw-ratelimit-reset",
];

interface Case {
  name: string;
  /** Sends the case's request(s) to one server and returns the answer to compare. */
  send(t: TestServer, appToken: string, storeToken: string): Promise<TestResponse>;
}

const post = (t: TestServer, headers: Record<string, string>, raw: string | Buffer) =>
  t.request("POST", ROUTE, { headers, raw });
const json = { "content-type": "application/json" };
const withToken = (token: string, type = "application/json") => ({
  "content-type": type,
  authorization: `Bearer ${token}`,
});

const CASES: Case[] = [
  { name: "success, employee_id granted", send: async (t, app) => t.exchange(await t.mintCode(), app) },
  {
    name: "success, store app without the employee_id scope",
    send: async (t, _app, store) =>
      t.exchange(await t.mintCode(DEMO.visibleUser, DEMO.storeAppId, DEMO.acme), store),
  },
  {
    name: "success, content type without a space before charset",
    send: async (t, app) =>
      post(t, withToken(app, "application/json;charset=utf-8"), JSON.stringify({ code: await t.mintCode() })),
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
  },
  {
    name: "reused code (10213)",
    send: async (t, app) => {
      const code = await t.mintCode();
      await t.exchange(code, app);
      return t.exchange(code, app);
    },
  },
  {
    name: "another app's code (10213)",
    send: async (t, _app, store) => t.exchange(await t.mintCode(), store),
  },
  {
    name: "user outside visibility (10228)",
    send: async (t, app) => t.exchange(await t.mintCode(DEMO.invisibleUser), app),
  },
  { name: "unknown code (10226)", send: (t, app) => t.exchange("0".repeat(44), app) },
  { name: "malformed code (10226)", send: (t, app) => t.exchange("not-a-code", app) },
  { name: "no code field (10226)", send: (t, app) => post(t, withToken(app), "{}") },
  { name: "body null (10226)", send: (t, app) => post(t, withToken(app), "null") },
  { name: "body an array (10226)", send: (t, app) => post(t, withToken(app), "[]") },
  {
    name: "code only under __proto__ (10226)",
    send: async (t, app) => post(t, withToken(app), `{"__proto__":{"code":"${await t.mintCode()}"}}`),
  },
  { name: "malformed JSON (9499, connection close)", send: (t, app) => post(t, withToken(app), "{") },
  { name: "empty body (9499)", send: (t, app) => post(t, withToken(app), "") },
  {
    name: "bad app token wins over a malformed body (10202)",
    send: (t) => post(t, withToken("t-nope"), "{"),
  },
  {
    name: "no Authorization header (10202)",
    send: async (t) => post(t, json, JSON.stringify({ code: await t.mintCode() })),
  },
  {
    name: "not a Bearer credential (10202)",
    send: (t, app) => post(t, { ...json, authorization: app }, "{}"),
  },
];

/** Status, compared headers and the body with every secret replaced by its length. */
function shape(res: TestResponse): unknown {
  const headers = Object.fromEntries(
    COMPARED_HEADERS.filter((h) => res.headers.has(h)).map((h) => [h, res.headers.get(h)]),
  );
  const body = res.text.replace(/"([a-z_]+)":"([^"]*)"/g, (all, key: string, value: string) =>
    SECRET_FIELDS.has(key) ? `"${key}":"<${value.length} chars>"` : all,
  );
  return { status: res.status, headers, body };
}

/** The fields of the request log lines for the route, in order. */
function routeLog(t: TestServer): unknown[] {
  return t
    .logs()
    .split("\n")
    .filter((line) => line.includes(`"route":"${ROUTE}"`))
    .map((line) => {
      const { method, route, status, code, msg } = JSON.parse(line) as Record<string, unknown>;
      return { method, route, status, code, msg };
    });
}

function routeMetrics(text: string): string[] {
  return text.split("\n").filter((line) => line.startsWith(`mina_auth_requests_total{route="${ROUTE}"`));
}

describe("tokenLoginValidate fast lane", () => {
  let lane: TestServer;
  let plain: TestServer;
  before(async () => {
    // A short request timeout, for the case of a body that never arrives.
    lane = await startTestServer({ config: { requestTimeoutMs: 800 } });
    plain = await startTestServer({ config: { requestTimeoutMs: 800, fastLane: false } });
  });
  after(async () => {
    await lane.close();
    await plain.close();
  });

  it("answers every case exactly as the fastify route does", async () => {
    const tokens = await Promise.all(
      [lane, plain].map(async (t) => [
        await t.appToken(),
        await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret),
      ]),
    );
    for (const testCase of CASES) {
      const [a, b] = [
        await testCase.send(lane, tokens[0]![0]!, tokens[0]![1]!),
        await testCase.send(plain, tokens[1]![0]!, tokens[1]![1]!),
      ];
      assert.deepEqual(shape(a), shape(b), testCase.name);
    }
    // The cases above cover each answer the route has, not only successes.
    const codes = new Set(routeLog(lane).map((line) => (line as { code: number }).code));
    assert.deepEqual(
      [...codes].sort((x, y) => x - y),
      [0, 9499, 10202, 10213, 10226, 10228],
    );
  });

  it("writes the same request log line and metrics", async () => {
    assert.deepEqual(routeLog(lane), routeLog(plain));
    assert.ok(routeLog(lane).length >= CASES.length);
    const [a, b] = await Promise.all([lane.request("GET", "/metrics"), plain.request("GET", "/metrics")]);
    assert.deepEqual(routeMetrics(a.text), routeMetrics(b.text));
    assert.ok(routeMetrics(a.text).length >= 6);
  });

  it("answers a bad app token at once while the body never comes, then only closes the connection when the request times out", async () => {
    const transcripts = await Promise.all([lane, plain].map((t) => stalledBody(t.url)));
    for (const transcript of transcripts) {
      // The first (and only) answer is 10202, not the 408 a lane waiting for the body would get.
      assert.match(transcript.received, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(transcript.received, /\{"code":10202,"msg":"access token invalid"\}$/);
      assert.equal(transcript.received.split("HTTP/1.1 ").length - 1, 1, "no 408 after the answer");
      assert.equal(transcript.closed, true, "closed by the server once the request timed out");
    }
  });

  it("answers a storage fault with the retryable 1500 and Retry-After, as fastify does", async () => {
    const answers: TestResponse[] = [];
    for (const t of [lane, plain]) {
      const app = await t.appToken();
      const code = await t.mintCode();
      await t.server.storage.close();
      answers.push(await t.exchange(code, app));
    }
    assert.deepEqual(shape(answers[0]!), shape(answers[1]!));
    assert.equal(answers[0]!.body.code, 1500);
    assert.equal(answers[0]!.headers.get("retry-after"), "1");
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

describe("the server fastify made, with the lane in front", () => {
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
      // Fastify types an address as string | AddressInfo; a TCP listener's are all AddressInfo.
      const listening = server.server.app.addresses().filter((a): a is AddressInfo => typeof a !== "string");
      const bound = listening.map((a) => a.address);
      assert.deepEqual(new Set(bound), new Set(["127.0.0.1", "127.0.0.2"]));
      const port = listening[0]!.port;
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

describe("the fast lane's safety net", () => {
  it("a throw after the answer (metrics here) is logged without request data and the process serves on", async () => {
    const errors: unknown[] = [];
    const log = {
      level: "warn",
      error: (fields: unknown, msg: string) => errors.push({ fields, msg }),
      child: () => log,
    };
    const lane = createExchangeFastLane({
      appTokens: { authenticate: async () => ({ appId: "cli_0000000000000000" }) },
      login: {
        exchange: async () => ({
          open_id: "ou_x",
          session_key: "sk",
          tenant_key: "tk",
          access_token: "u-x",
          expires_in: 1,
          refresh_token: "ur-x",
        }),
      },
      metrics: {
        record: () => {
          throw new Error("metrics broke");
        },
      },
      log,
      nextRequestId: () => "r1",
      isClosing: () => false,
      earlyAnswers: new EarlyAnswers(),
      bodyLimit: Limits.bodyBytes,
    } as unknown as FastLaneDeps);
    const server = createHttpServer((request, response) => {
      if (!lane(request, response)) response.end();
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
        assert.equal(((await res.json()) as { code: number }).code, 0);
      }
      assert.deepEqual(errors, [
        { fields: { error: { type: "Error", message: "metrics broke" } }, msg: "fast lane failed" },
        { fields: { error: { type: "Error", message: "metrics broke" } }, msg: "fast lane failed" },
      ]);
    } finally {
      server.close();
    }
  });
});

describe("which requests the fast lane takes", () => {
  const base = {
    method: "POST",
    url: ROUTE,
    headers: { "content-type": "application/json", "content-length": "60" },
  };
  it("takes a plain JSON POST with a Content-Length within the body limit", () => {
    assert.equal(fitsFastLane(base, Limits.bodyBytes), true);
    for (const type of ["application/json; charset=utf-8", "application/json;charset=utf-8"]) {
      assert.equal(
        fitsFastLane({ ...base, headers: { ...base.headers, "content-type": type } }, Limits.bodyBytes),
        true,
      );
    }
  });
  it("leaves every other shape to fastify", () => {
    const others = [
      { ...base, method: "PUT" },
      { ...base, url: `${ROUTE}?x=1` },
      { ...base, url: "/open-apis/mina/v2/tokenloginvalidate" },
      { ...base, headers: { "content-length": "60" } },
      { ...base, headers: { ...base.headers, "content-type": "text/plain" } },
      { ...base, headers: { ...base.headers, "content-type": "application/json; charset=latin1" } },
      { ...base, headers: { ...base.headers, "content-type": "Application/JSON" } },
      { ...base, headers: { "content-type": "application/json" } },
      { ...base, headers: { ...base.headers, "content-length": String(Limits.bodyBytes + 1) } },
      { ...base, headers: { ...base.headers, "content-length": "-1" } },
      { ...base, headers: { ...base.headers, "transfer-encoding": "chunked" } },
    ];
    for (const request of others)
      assert.equal(fitsFastLane(request, Limits.bodyBytes), false, JSON.stringify(request));
  });
});
