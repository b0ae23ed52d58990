/**
 * The HTTP surface around the endpoints (contract §2 rules, §4 health/metrics/openapi;
 * security.md H2, H3): malformed JSON, content types, the 64 KiB body limit (with and without
 * content-length), unknown routes, the exact `{code, msg}` error body, health, metrics, OpenAPI.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { Paths } from "@mina-auth/protocol";
import { platformEndpoints } from "../src/http/platform/endpoints.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestResponse, type TestServer } from "./harness.ts";

const APP_TOKEN_PATH = "/open-apis/auth/v3/app_access_token/internal";
const TENANT_TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal";
const TLV_PATH = "/open-apis/mina/v2/tokenLoginValidate";
const LEGACY_REFRESH = "/open-apis/authen/v1/refresh_access_token";
const OIDC_REFRESH = "/open-apis/authen/v1/oidc/refresh_access_token";
const USER_INFO_PATH = "/open-apis/authen/v1/user_info";
const STACK = /at .*\.ts:/;

/** Exactly `{code, msg}` as JSON: a non-zero code, a readable msg, no stack, no-store. */
function assertErrorBody(res: TestResponse, code: number, status: number): void {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/, res.text);
  assert.ok(res.body !== null, `JSON body expected: ${res.text}`);
  assert.deepEqual(Object.keys(res.body).sort(), ["code", "msg"], res.text);
  assert.equal(res.body.code, code, res.text);
  assert.equal(typeof res.body.msg, "string");
  assert.ok(res.body.msg.length > 0);
  assert.doesNotMatch(res.text, STACK);
  assert.doesNotMatch(res.text, /node_modules|Error:/);
}

interface RawAnswer {
  status: number;
  text: string;
}

/**
 * POSTs `total` bytes with node:http, either with a content-length or chunked (no length),
 * streaming them in 64 KiB pieces. Resolves with the server's answer as soon as it arrives;
 * the server may cut the upload off, which is fine once an answer came.
 */
function streamBody(
  url: string,
  path: string,
  total: number,
  chunked: boolean,
  extraHeaders: Record<string, string> = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const target = new URL(path, url);
    const headers: Record<string, string | number> = { "content-type": "application/json", ...extraHeaders };
    if (!chunked) headers["content-length"] = total;
    const req = httpRequest(target, { method: "POST", headers, agent: false });
    let answered = false;
    let stopped = false;
    req.on("response", (res) => {
      answered = true;
      stopped = true;
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        text += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", reject);
    });
    req.on("error", (error) => {
      stopped = true;
      if (!answered) reject(error);
    });
    const piece = Buffer.alloc(64 * 1024, 0x20); // spaces: valid JSON whitespace, never a parse error first
    let sent = 0;
    const pump = () => {
      while (!stopped && sent < total) {
        const size = Math.min(piece.length, total - sent);
        sent += size;
        if (!req.write(size === piece.length ? piece : piece.subarray(0, size))) {
          req.once("drain", pump);
          return;
        }
      }
      if (!stopped && sent >= total) req.end();
    };
    pump();
  });
}

describe("HTTP surface", () => {
  let t: TestServer;
  let demoToken: string;
  before(async () => {
    t = await startTestServer();
    demoToken = await t.appToken();
  });
  after(() => t.close());

  describe("malformed input", () => {
    it("answers 400 {9499} for a body that is not JSON, on every endpoint taking one", async () => {
      for (const raw of ["{not json", '{"code": "abc"', "{'code':'x'}", "", "\u0000"]) {
        for (const path of [APP_TOKEN_PATH, TENANT_TOKEN_PATH]) {
          const res = await t.request("POST", path, { raw, headers: { "content-type": "application/json" } });
          assertErrorBody(res, 9499, 400);
        }
        for (const path of [TLV_PATH, LEGACY_REFRESH, OIDC_REFRESH]) {
          const res = await t.request("POST", path, {
            raw,
            token: demoToken,
            headers: { "content-type": "application/json" },
          });
          assertErrorBody(res, 9499, 400);
        }
        const admin = await t.request("POST", "/admin/v1/login-codes", {
          raw,
          token: ADMIN_TOKEN,
          headers: { "content-type": "application/json" },
        });
        assertErrorBody(admin, 9499, 400);
      }
    });

    it("answers 415 {9415} for another content type", async () => {
      const body = JSON.stringify({ app_id: DEMO.appId, app_secret: DEMO.appSecret });
      for (const type of [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "application/octet-stream",
      ]) {
        const res = await t.request("POST", APP_TOKEN_PATH, { raw: body, headers: { "content-type": type } });
        assertErrorBody(res, 9415, 415);
        assert.equal(res.body.msg, "Content-Type must be application/json");
        const tlv = await t.request("POST", TLV_PATH, {
          raw: JSON.stringify({ code: await t.mintCode() }),
          token: demoToken,
          headers: { "content-type": type },
        });
        assertErrorBody(tlv, 9415, 415);
      }
    });

    it("takes application/json in any case and with parameters; 415 without a content type or for look-alikes", async () => {
      const body = JSON.stringify({ app_id: DEMO.appId, app_secret: DEMO.appSecret });
      for (const type of [
        "APPLICATION/JSON",
        "application/json;charset=utf-8",
        "Application/Json; charset=UTF-8",
      ]) {
        const res = await t.request("POST", APP_TOKEN_PATH, { raw: body, headers: { "content-type": type } });
        assert.equal(res.body.code, 0, `${type}: ${res.text}`);
      }
      for (const type of ["application/jsonx", "application/json-patch+json", "text/json"]) {
        const res = await t.request("POST", APP_TOKEN_PATH, { raw: body, headers: { "content-type": type } });
        assertErrorBody(res, 9415, 415);
      }
      // A body with no content type at all (a Buffer: fetch adds none).
      const bare = await t.request("POST", APP_TOKEN_PATH, { raw: Buffer.from(body) });
      assertErrorBody(bare, 9415, 415);
    });

    it("answers 413 {9413} for a 10 MB body with a content-length, and the server lives on", async () => {
      const res = await streamBody(t.url, APP_TOKEN_PATH, 10 * 1024 * 1024, false);
      assert.equal(res.status, 413, res.text);
      assert.deepEqual(JSON.parse(res.text), { code: 9413, msg: "request body exceeds 64 KiB" });
      const health = await t.request("GET", "/healthz");
      assert.equal(health.status, 200);
    });

    it("answers 413 {9413} for a 10 MB chunked body (no content-length), and the server lives on", async () => {
      // With a valid app token, so that the body limit is what answers tokenLoginValidate.
      const withToken = await streamBody(t.url, TLV_PATH, 10 * 1024 * 1024, true, {
        authorization: `Bearer ${demoToken}`,
      });
      assert.equal(withToken.status, 413, withToken.text);
      assert.deepEqual(JSON.parse(withToken.text), { code: 9413, msg: "request body exceeds 64 KiB" });
      const chunkedNoAuth = await streamBody(t.url, APP_TOKEN_PATH, 10 * 1024 * 1024, true);
      assert.equal(chunkedNoAuth.status, 413, chunkedNoAuth.text);
      assert.deepEqual(JSON.parse(chunkedNoAuth.text), { code: 9413, msg: "request body exceeds 64 KiB" });
      assert.equal((await t.request("GET", "/healthz")).status, 200);
      assert.equal((await t.appToken()).startsWith("t-"), true, "and still serves the platform");
    });

    it("accepts a body just under 64 KiB", async () => {
      const padding = " ".repeat(60 * 1024);
      const res = await t.request("POST", APP_TOKEN_PATH, {
        raw: `{"app_id":"${DEMO.appId}","app_secret":"${DEMO.appSecret}"}${padding}`,
        headers: { "content-type": "application/json" },
      });
      assert.equal(res.body.code, 0, res.text);
      const over = await t.request("POST", APP_TOKEN_PATH, {
        raw: `{"app_id":"${DEMO.appId}","app_secret":"${DEMO.appSecret}"}${" ".repeat(64 * 1024)}`,
        headers: { "content-type": "application/json" },
      });
      assertErrorBody(over, 9413, 413);
    });
  });

  describe("routes", () => {
    it("answers 404 {99991201} for an unknown route or method", async () => {
      const cases: Array<[string, string]> = [
        ["GET", "/"],
        ["GET", "/nope"],
        ["POST", "/open-apis/mina/v3/tokenLoginValidate"],
        ["GET", TLV_PATH],
        ["PUT", APP_TOKEN_PATH],
        ["DELETE", USER_INFO_PATH],
        ["GET", "/open-apis/../etc/passwd"],
        ["GET", `/admin/v1/nothing-here`],
      ];
      for (const [method, path] of cases) {
        const res = await t.request(method, path, { token: ADMIN_TOKEN });
        assertErrorBody(res, 99991201, 404);
        assert.equal(res.body.msg, "resource not find");
      }
    });

    it("keeps every error body exactly {code, msg} with no stack, across endpoints and failures", async () => {
      const cases: Array<[Promise<TestResponse>, number, number]> = [
        [t.request("POST", APP_TOKEN_PATH, { body: {} }), 10003, 200],
        [
          t.request("POST", APP_TOKEN_PATH, { body: { app_id: DEMO.appId, app_secret: "wrong-secret-123" } }),
          10014,
          200,
        ],
        [t.request("POST", TLV_PATH, { body: { code: "x" } }), 10202, 200],
        [t.request("POST", TLV_PATH, { token: demoToken, body: { code: "x" } }), 10226, 200],
        [t.request("POST", LEGACY_REFRESH, { body: {} }), 20014, 200],
        [t.request("POST", OIDC_REFRESH, { token: demoToken, body: {} }), 20001, 200],
        [t.request("GET", USER_INFO_PATH), 99991661, 400],
        [t.request("GET", USER_INFO_PATH, { token: "u-nope" }), 99991668, 400],
        [t.request("GET", "/admin/v1/apps"), 9401, 401],
        [t.request("GET", "/admin/v1/apps/cli_0000000000000000", { token: ADMIN_TOKEN }), 9404, 404],
        [t.request("POST", "/admin/v1/tenants", { token: ADMIN_TOKEN, body: {} }), 9400, 400],
        [t.request("GET", "/admin/v1/sessions?limit=-1", { token: ADMIN_TOKEN }), 9400, 400],
        [t.request("GET", "/missing"), 99991201, 404],
      ];
      for (const [pending, code, status] of cases) {
        const res = await pending;
        assertErrorBody(res, code, status);
        assert.equal(res.headers.get("cache-control"), "no-store");
      }
      // And none of it went to the log as a stack either.
      assert.doesNotMatch(t.logs(), /"stack"/);
    });
  });

  describe("operations", () => {
    it("/healthz answers 200", async () => {
      const res = await t.request("GET", "/healthz");
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { status: "ok" });
    });

    it("/readyz answers 200 while storage answers", async () => {
      const res = await t.request("GET", "/readyz");
      assert.equal(res.status, 200);
      assert.equal(res.body.status, "ready");
      assert.equal(res.body.storage, "sqlite");
    });

    it("/openapi.json lists every platform path and every registered /admin/v1 path", async () => {
      const res = await t.request("GET", "/openapi.json");
      assert.equal(res.status, 200);
      assert.equal(res.body.openapi, "3.1.0");
      const paths = res.body.paths as Record<string, Record<string, unknown>>;
      const expected: Array<[string, string]> = [
        ["post", APP_TOKEN_PATH],
        ["post", TENANT_TOKEN_PATH],
        ["post", TLV_PATH],
        ["post", LEGACY_REFRESH],
        ["post", OIDC_REFRESH],
        ["get", USER_INFO_PATH],
        ["post", Paths.oidcAccessToken],
        ["post", Paths.oauthToken],
        ["post", "/open-apis/auth/v3/app_access_token"],
        ["post", "/open-apis/auth/v3/tenant_access_token"],
        ["post", "/open-apis/auth/v3/app_ticket/resend"],
        ["get", "/healthz"],
        ["get", "/readyz"],
        ["get", "/metrics"],
        ["get", "/openapi.json"],
        ["get", "/admin/v1/tenants"],
        ["post", "/admin/v1/tenants"],
        ["get", "/admin/v1/tenants/{tenant_key}"],
        ["get", "/admin/v1/users"],
        ["post", "/admin/v1/users"],
        ["get", "/admin/v1/users/{tenant_key}/{user_id}"],
        ["patch", "/admin/v1/users/{tenant_key}/{user_id}"],
        ["get", "/admin/v1/apps"],
        ["post", "/admin/v1/apps"],
        ["get", "/admin/v1/apps/{app_id}"],
        ["patch", "/admin/v1/apps/{app_id}"],
        ["post", "/admin/v1/apps/{app_id}/secret"],
        ["put", "/admin/v1/apps/{app_id}/installations/{tenant_key}"],
        ["post", "/admin/v1/login-codes"],
        ["get", "/admin/v1/sessions"],
        ["post", "/admin/v1/sessions/{session_id}/revoke"],
        ["get", "/admin/v1/audit-events"],
        ["post", "/admin/v1/import"],
        ["get", "/admin/v1/export"],
        ["post", "/admin/v1/server-keys/session_key/rotate"],
        ["post", "/dev/v1/tt/login"],
        ["post", "/dev/v1/tt/check-session"],
        ["post", "/dev/v1/tt/user-info"],
        ["get", "/admin/v1/overview"],
        ["get", "/admin/v1/audit-events/tail"],
        ["get", "/admin/v1/sessions/{session_id}"],
        ["put", "/admin/v1/apps/{app_id}/events"],
        ["get", "/admin/v1/apps/{app_id}/events"],
        ["delete", "/admin/v1/apps/{app_id}/events"],
        ["get", "/admin/v1/apps/{app_id}/event-deliveries"],
        ["post", "/admin/v1/apps/{app_id}/app-tickets"],
        // The test tools (test-tools/routes.ts).
        ["post", "/admin/v1/faults"],
        ["get", "/admin/v1/faults"],
        ["delete", "/admin/v1/faults"],
        ["delete", "/admin/v1/faults/{fault_id}"],
        ["get", "/admin/v1/clock"],
        ["post", "/admin/v1/clock"],
        ["get", "/admin/v1/journal"],
        ["delete", "/admin/v1/journal"],
        ["post", "/admin/v1/sessions/{session_id}/expire-access-token"],
        ["post", "/admin/v1/apps/{app_id}/expire-tokens"],
      ];
      for (const [method, path] of expected) {
        assert.ok(paths[path]?.[method], `${method.toUpperCase()} ${path} missing from /openapi.json`);
      }
      // Nothing documented that is not served: every documented operation answers something else than 404.
      const documented = Object.entries(paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((method) => [method, path] as [string, string]),
      );
      assert.deepEqual(
        documented.map(([m, p]) => `${m} ${p}`).sort(),
        expected.map(([m, p]) => `${m} ${p}`).sort(),
        "the OpenAPI document and this list agree exactly",
      );
      for (const [method, path] of documented) {
        const concrete = path
          .replace("{tenant_key}", DEMO.acme)
          .replace("{user_id}", DEMO.visibleUser)
          .replace("{app_id}", DEMO.storeAppId) // the store app: an empty PUT leaves its "all" as is
          .replace("{session_id}", "nope");
        if (method === "post" && path.endsWith("/secret")) continue; // would rotate the demo secret
        const probe = await t.request(method.toUpperCase(), concrete, {
          token: path.startsWith("/admin/") ? ADMIN_TOKEN : demoToken,
          ...(method === "get" ? {} : { body: {} }),
        });
        assert.ok(
          probe.status !== 404 || probe.body?.code !== 99991201,
          `${method} ${path} is documented but not routed`,
        );
      }
      // Security schemes are declared for the bearer routes.
      assert.ok(paths[TLV_PATH]?.post);
      assert.deepEqual((paths[TLV_PATH]!.post as { security: unknown }).security, [{ appBearer: [] }]);
      assert.deepEqual((paths["/admin/v1/apps"]!.get as { security: unknown }).security, [
        { adminBearer: [] },
      ]);
    });

    it("/openapi.json documents exactly the routes the server serves (Fastify's own route tree and the platform table)", async () => {
      // printRoutes draws a tree: "├── /admin/v1/apps (GET, HEAD, POST)" then "│   └── /:app_id (…)".
      const registered = new Set<string>();
      const stack: string[] = [];
      for (const line of t.server.app.printRoutes({ commonPrefix: false }).split("\n")) {
        const match = /^(.*?)(?:├── |└── )(\S+) \(([^)]*)\)$/.exec(line);
        if (!match) continue;
        const depth = match[1]!.length / 4;
        stack.length = depth;
        stack[depth] = match[2]!;
        const path = stack.join("").replace(/:([A-Za-z_]+)/g, "{$1}");
        // The console's static files are not API operations (console-static.ts).
        if (path === "/console" || path.startsWith("/console/")) continue;
        for (const method of match[3]!.split(", ")) {
          if (method !== "HEAD") registered.add(`${method.toLowerCase()} ${path}`);
        }
      }
      assert.ok(registered.has("post /admin/v1/apps/{app_id}/secret"), [...registered].join("\n"));
      // The platform endpoints are served by platform/handler.ts from this table, not by fastify.
      for (const endpoint of platformEndpoints({} as never, {} as never, {} as never, {} as never)) {
        const key = `${endpoint.method.toLowerCase()} ${endpoint.path}`;
        assert.ok(!registered.has(key), `${key} is served twice`);
        registered.add(key);
      }
      const res = await t.request("GET", "/openapi.json");
      const documented = new Set(
        Object.entries(res.body.paths as Record<string, object>).flatMap(([path, ops]) =>
          Object.keys(ops).map((method) => `${method} ${path}`),
        ),
      );
      assert.deepEqual([...documented].sort(), [...registered].sort());
    });
  });
});

describe("/metrics", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const count = (text: string, route: string, code: number): number => {
    const line = text
      .split("\n")
      .find((l) => l.startsWith(`mina_auth_requests_total{route="${route}",code="${code}"} `));
    return line ? Number(line.split(" ").pop()) : 0;
  };

  it("counts tokenLoginValidate answers by result code, in Prometheus text", async () => {
    const token = await t.appToken();
    await t.exchange(await t.mintCode(), token);
    await t.exchange(await t.mintCode(), token);
    const code = await t.mintCode();
    await t.exchange(code, token);
    await t.exchange(code, token); // 10213
    await t.exchange("0".repeat(44), token); // 10226
    await t.exchange("0".repeat(44), token); // 10226
    await t.exchange(await t.mintCode(DEMO.invisibleUser), token); // 10228
    await t.exchange(await t.mintCode(), "t-nope"); // 10202

    const res = await t.request("GET", "/metrics");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
    assert.match(res.text, /# TYPE mina_auth_requests_total counter/);
    assert.equal(count(res.text, TLV_PATH, 0), 3);
    assert.equal(count(res.text, TLV_PATH, 10213), 1);
    assert.equal(count(res.text, TLV_PATH, 10226), 2);
    assert.equal(count(res.text, TLV_PATH, 10228), 1);
    assert.equal(count(res.text, TLV_PATH, 10202), 1);
    assert.equal(count(res.text, APP_TOKEN_PATH, 0), 1);
    assert.equal(count(res.text, "/admin/v1/login-codes", 0), 5);
    // No raw URL, query or token in the label space.
    assert.doesNotMatch(res.text, /t-nope|u-[A-Za-z0-9_-]{20}/);

    await t.request("GET", "/unknown-path?secret=abc");
    const after404 = await t.request("GET", "/metrics");
    assert.doesNotMatch(after404.text, /unknown-path|secret=abc/);
    assert.equal(count(after404.text, "unmatched", 99991201), 1);
  });
});

describe("/readyz when storage is gone", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it("answers 503 {code, msg} once storage is closed, while /healthz still answers 200", async () => {
    assert.equal((await t.request("GET", "/readyz")).status, 200);
    await t.server.storage.close();
    const res = await t.request("GET", "/readyz");
    assert.equal(res.status, 503);
    assert.deepEqual(Object.keys(res.body).sort(), ["code", "msg"]);
    assert.notEqual(res.body.code, 0);
    assert.doesNotMatch(res.text, STACK);
    assert.equal((await t.request("GET", "/healthz")).status, 200);
    // The platform endpoints answer a retryable {code, msg}, not a 5xx stack.
    const token = await t.request("POST", APP_TOKEN_PATH, {
      body: { app_id: DEMO.appId, app_secret: DEMO.appSecret },
    });
    assert.equal(token.status, 200, token.text);
    assert.deepEqual(token.body, { code: 1500, msg: "internal error, please retry" });
    assert.equal(token.headers.get("retry-after"), "1");
    assert.doesNotMatch(token.text, STACK);
  });
});
