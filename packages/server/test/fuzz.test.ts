/**
 * Property-based fuzzing over the running server (security.md H1, H4, H8): arbitrary
 * Authorization headers, arbitrary JSON (and non-JSON) bodies on every endpoint, arbitrary codes.
 * Whatever comes in: no 5xx, always a `{code, msg}` error, never a success without a valid
 * credential.
 */
import assert from "node:assert/strict";
import { Agent, request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { Paths } from "@mina-auth/protocol";
import fc from "fast-check";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestServer } from "./harness.ts";

interface Reply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: inspected field by field
  body: any;
  text: string;
}

/** FUZZ_SCALE=10 for a longer soak; the default keeps the file at a few seconds. */
const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1) || 1);
const runs = (n: number) => ({ numRuns: n * SCALE });

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

function send(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // Node's client frames a GET body with neither Content-Length nor chunking: say it here.
    const framed =
      body === undefined ? headers : { ...headers, "content-length": String(Buffer.byteLength(body)) };
    const req = httpRequest(new URL(path, base), { method, agent, headers: framed }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = null;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** A well-formed error: a non-5xx status and a `{code, msg}` body with a non-zero code. */
function assertError(reply: Reply, context: string): void {
  assert.ok(reply.status < 500, `${context}: status ${reply.status} ${reply.text}`);
  assert.equal(typeof reply.body?.code, "number", `${context}: ${reply.text}`);
  assert.notEqual(reply.body.code, 0, `${context}: a success without a valid credential: ${reply.text}`);
  assert.equal(typeof reply.body.msg, "string", `${context}: ${reply.text}`);
  assert.doesNotMatch(reply.text, /\bat .+\.(ts|js):\d+/, `${context}: a stack trace`);
}

/** Characters Node's HTTP client lets through in a header value. */
const headerChar = fc
  .oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
    { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
    { weight: 1, arbitrary: fc.constant(0x09) },
  )
  .map((c) => String.fromCharCode(c));
const headerString = (maxLength = 300) => fc.string({ unit: headerChar, maxLength });

/** JSON documents, including ones shaped like the requests the endpoints expect. */
const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record(
    {
      code: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.stringMatching(/^[0-9a-f]{44}$/)),
      grant_type: fc.oneof(fc.constant("refresh_token"), fc.jsonValue({ maxDepth: 1 })),
      refresh_token: fc.oneof(fc.stringMatching(/^ur-[0-9A-Za-z_-]{43}$/), fc.jsonValue({ maxDepth: 1 })),
      app_id: fc.oneof(fc.constant(DEMO.appId), fc.string()),
      app_secret: fc.oneof(fc.string(), fc.constant(`${DEMO.appSecret}x`)),
    },
    { requiredKeys: [] },
  ),
  fc.dictionary(
    fc.constantFrom("__proto__", "constructor", "prototype", "code", "toString"),
    fc.jsonValue({ maxDepth: 2 }),
  ),
);
/** Raw JSON text: documents, `__proto__` poison, and plain garbage. */
const anyBodyText = fc.oneof(
  { weight: 6, arbitrary: anyJson.map((v) => JSON.stringify(v)) },
  {
    weight: 1,
    arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => `{"__proto__": ${JSON.stringify(v)}, "code": "x"}`),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
);

describe("fuzzing the running server", () => {
  let t: TestServer;
  let appToken: string;
  before(async () => {
    t = await startTestServer();
    appToken = await t.appToken();
  });
  after(async () => {
    agent.destroy();
    await t.close();
  });

  it("H1: an arbitrary Authorization header never passes tokenLoginValidate (always 10202)", async () => {
    const code = await t.mintCode();
    const body = JSON.stringify({ code });
    const valid = `Bearer ${appToken}`;
    const header = fc.oneof(
      headerString(),
      headerString(80).map((s) => `Bearer ${s}`),
      // Near misses of the real header.
      fc.constantFrom(
        `bearer ${appToken}`,
        `BEARER ${appToken}`,
        `Bearer  ${appToken}`,
        `Bearer\t${appToken}`,
        `Bearer ${appToken}x`,
        `Bearer ${appToken.slice(0, -1)}`,
        `Bearer ${appToken.toUpperCase()}`,
        `Bearer ${appToken},${appToken}`,
        `Basic ${Buffer.from(`${DEMO.appId}:${DEMO.appSecret}`).toString("base64")}`,
        appToken,
        `Bearer ${DEMO.appSecret}`,
        `Bearer t-${"0".repeat(64)}`,
        `Bearer ${"a".repeat(5000)}`,
      ),
      fc
        .tuple(fc.nat({ max: appToken.length - 1 }), headerChar)
        .map(([i, c]) => `Bearer ${appToken.slice(0, i)}${c}${appToken.slice(i + 1)}`),
    );
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(header, async (value) => {
        // The server sees the value with surrounding whitespace trimmed (HTTP), so skip the one
        // value that then is the real credential.
        fc.pre(value.replace(/^[ \t]+|[ \t]+$/g, "") !== valid);
        accepted++;
        const reply = await send(
          t.url,
          "POST",
          Paths.tokenLoginValidate,
          { authorization: value, "content-type": "application/json" },
          body,
        );
        assertError(reply, `Authorization ${JSON.stringify(value)}`);
        assert.equal(reply.body.code, 10202, `Authorization ${JSON.stringify(value)}: ${reply.text}`);
      }),
      runs(300),
    );
    assert.ok(accepted >= 250 * SCALE);
    // The code was good all along: with the real header it still works, once.
    const ok = await t.exchange(code, appToken);
    assert.equal(ok.body.code, 0, ok.text);
  });

  it("H1: arbitrary Authorization headers on the refresh endpoints and user_info never succeed", async () => {
    const login = await t.exchange(await t.mintCode(), appToken);
    assert.equal(login.body.code, 0);
    const refreshBody = JSON.stringify({
      grant_type: "refresh_token",
      refresh_token: login.body.data.refresh_token,
    });
    await fc.assert(
      fc.asyncProperty(
        headerString(),
        fc.constantFrom("legacy", "oidc", "user_info"),
        async (value, target) => {
          fc.pre(!value.includes(appToken) && !value.includes(login.body.data.access_token));
          const reply =
            target === "user_info"
              ? await send(t.url, "GET", Paths.userInfo, { authorization: value })
              : await send(
                  t.url,
                  "POST",
                  target === "oidc" ? Paths.oidcRefreshAccessToken : Paths.refreshAccessToken,
                  { authorization: value, "content-type": "application/json" },
                  refreshBody,
                );
          assertError(reply, `${target} with ${JSON.stringify(value)}`);
          const expected = target === "user_info" ? [99991661, 99991668] : [20014];
          assert.ok(expected.includes(reply.body.code), `${target}: ${reply.text}`);
        },
      ),
      runs(200),
    );
    // The refresh token was never spent by any of those: it rotates now.
    const rotated = await send(
      t.url,
      "POST",
      Paths.oidcRefreshAccessToken,
      { authorization: `Bearer ${appToken}`, "content-type": "application/json" },
      refreshBody,
    );
    assert.equal(rotated.body.code, 0, rotated.text);
  });

  it("H4: any value as `code` answers 10226 (unknown, malformed or the wrong type) and consumes nothing", async () => {
    const codeValue = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.stringMatching(/^[0-9a-f]{44}$/),
      fc.stringMatching(/^[0-9a-fA-F]{0,64}$/),
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom("", " ", "null", "undefined", "../../etc/passwd", "' OR 1=1 --", "%00", "\u0000"),
    );
    await fc.assert(
      fc.asyncProperty(codeValue, async (value) => {
        const reply = await send(
          t.url,
          "POST",
          Paths.tokenLoginValidate,
          { authorization: `Bearer ${appToken}`, "content-type": "application/json" },
          JSON.stringify({ code: value, extra: { __proto__: { admin: true } } }),
        );
        assertError(reply, `code ${JSON.stringify(value)}`);
        assert.equal(reply.body.code, 10226, `code ${JSON.stringify(value)}: ${reply.text}`);
      }),
      runs(300),
    );
    const sessions = await t.request("GET", "/admin/v1/sessions?limit=1000", { token: ADMIN_TOKEN });
    assert.equal(sessions.status, 200);
    assert.equal(sessions.body.sessions.length, 2, "only the two real logins above made sessions");
  });

  it("H8: arbitrary bodies on every platform endpoint: no 5xx, never a success without a valid credential", async () => {
    const endpoints = [
      { path: Paths.appAccessToken, auth: false },
      { path: Paths.tenantAccessToken, auth: false },
      { path: Paths.tokenLoginValidate, auth: true },
      { path: Paths.refreshAccessToken, auth: true },
      { path: Paths.oidcRefreshAccessToken, auth: true },
    ];
    const contentType = fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "text/plain",
      "application/x-www-form-urlencoded",
      "",
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...endpoints),
        anyBodyText,
        contentType,
        async (endpoint, body, type) => {
          const headers: Record<string, string> = {};
          if (type) headers["content-type"] = type;
          if (endpoint.auth) headers.authorization = `Bearer ${appToken}`;
          const reply = await send(t.url, "POST", endpoint.path, headers, body);
          assertError(reply, `${endpoint.path} ${type} ${body.slice(0, 200)}`);
        },
      ),
      runs(400),
    );
    // user_info takes no body; a JSON body or a query string changes nothing.
    await fc.assert(
      fc.asyncProperty(anyBodyText, fc.string({ maxLength: 40 }), async (body, query) => {
        const reply = await send(
          t.url,
          "GET",
          `${Paths.userInfo}?${encodeURIComponent(query)}`,
          { "content-type": "application/json", authorization: `Bearer u-${"A".repeat(43)}` },
          body,
        );
        assertError(reply, `user_info ${body.slice(0, 100)}`);
        // A GET with a non-empty body that is not JSON is malformed (9499); otherwise the token decides.
        let json = true;
        try {
          JSON.parse(body);
        } catch {
          json = false;
        }
        assert.ok((json ? [99991668] : [99991668, 9499]).includes(reply.body.code), reply.text);
      }),
      runs(100),
    );
  });

  it("H8: arbitrary bodies on the admin API: no 5xx, errors are {code, msg}", async () => {
    const endpoints: Array<[string, string]> = [
      ["POST", "/admin/v1/tenants"],
      ["POST", "/admin/v1/users"],
      ["PATCH", `/admin/v1/users/${DEMO.acme}/${DEMO.otherVisibleUser}`],
      ["POST", "/admin/v1/apps"],
      ["PATCH", `/admin/v1/apps/${DEMO.storeAppId}`],
      ["PUT", `/admin/v1/apps/${DEMO.storeAppId}/installations/${DEMO.globex}`],
      ["POST", "/admin/v1/login-codes"],
      ["POST", "/admin/v1/import"],
      ["GET", "/admin/v1/sessions"],
      ["GET", "/admin/v1/audit-events"],
    ];
    const query = fc.oneof(
      fc.constant(""),
      fc
        .dictionary(
          fc.constantFrom("limit", "before", "active", "app_id", "user_id"),
          fc.string({ maxLength: 12 }),
        )
        .map((q) => `?${new URLSearchParams(q).toString()}`),
    );
    let successes = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...endpoints),
        anyBodyText,
        query,
        async ([method, path], body, qs) => {
          const reply = await send(
            t.url,
            method,
            `${path}${qs}`,
            { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
            method === "GET" ? undefined : body,
          );
          assert.ok(
            reply.status < 500,
            `${method} ${path}${qs} ${body.slice(0, 200)}: ${reply.status} ${reply.text}`,
          );
          if (reply.status >= 400) assertError(reply, `${method} ${path}`);
          else successes++;
        },
      ),
      runs(300),
    );
    assert.ok(successes > 0, "some requests were valid (the fuzzer reached the handlers)");
    // And the fuzzing hurt nothing: the demo app still logs its users in.
    const login = await t.exchange(await t.mintCode(DEMO.visibleUser), await t.appToken());
    assert.equal(login.body.code, 0, login.text);
  });

  it("H8: the admin API without the admin token refuses every fuzzed request with 9401", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          "GET /admin/v1/tenants",
          "POST /admin/v1/login-codes",
          "POST /admin/v1/import",
          "GET /admin/v1/export",
        ),
        headerString(120),
        anyBodyText,
        async (route, authorization, body) => {
          fc.pre(!authorization.includes(ADMIN_TOKEN));
          const [method, path] = route.split(" ") as [string, string];
          const reply = await send(
            t.url,
            method,
            path,
            { authorization, "content-type": "application/json" },
            method === "GET" ? undefined : body,
          );
          assertError(reply, `${route} ${JSON.stringify(authorization)}`);
          assert.equal(reply.status, 401);
          assert.equal(reply.body.code, 9401);
        },
      ),
      runs(150),
    );
  });
});
