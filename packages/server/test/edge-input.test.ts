/**
 * Issue 14, items 3, 4 and 7, through real HTTP on a server child process, on a real SQLite
 * file and on a real PostgreSQL (where a NUL byte used to become a 500 with a stack trace):
 *
 * - text a database refuses (NUL, a lone surrogate, invalid UTF-8) is answered with the
 *   endpoint's invalid-parameter code, on every family: platform bodies, admin paths, queries
 *   and bodies; nothing reaches the log as an error;
 * - bytes after a request's declared body never change that request's answer (a committed
 *   login keeps its own, and its session stays live);
 * - a request without Host, or with headers that do not parse, gets the envelope with a message
 *   that fits it, never Node's bare 400 or "body is not valid JSON".
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Errors } from "@mina-auth/protocol";
import { appToken, call } from "./child-server.ts";
import { backends, serversOn } from "./edge-backends.ts";
import { DEMO } from "./harness.ts";
import { parseResponses, rawExchange, requestBytes } from "./raw-http.ts";

const ADMIN = "edge-input-admin-token-0123456789";
const APP_TOKEN_PATH = "/open-apis/auth/v3/app_access_token/internal";
/** A login code for the demo user, as tt.login returns it. */
async function mintCode(base: string): Promise<string> {
  const res = await call(
    base,
    "POST",
    "/admin/v1/login-codes",
    { app_id: DEMO.appId, user_id: DEMO.visibleUser },
    ADMIN,
  );
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.code;
}

function assertEnvelope(res: { status: number; body: unknown }, status: number, code: number): string {
  assert.equal(res.status, status, JSON.stringify(res.body));
  const body = res.body as { code: number; msg: string };
  assert.deepEqual(Object.keys(body).sort(), ["code", "msg"], JSON.stringify(body));
  assert.equal(body.code, code, JSON.stringify(body));
  assert.ok(body.msg.length > 0);
  return body.msg;
}

for (const backend of backends) {
  describe(`the HTTP edge on ${backend.name}`, { skip: backend.skip }, () => {
    const servers = serversOn(backend, ADMIN, { MINA_AUTH_RATE_LIMITS: "false" });
    const server = {
      get url() {
        return servers[0]!.url;
      },
      stdout: (): string => servers[0]!.stdout(),
      stderr: (): string => servers[0]!.stderr(),
    };

    it("answers a NUL or a lone surrogate in a platform body with the endpoint's invalid-parameter code", async () => {
      for (const path of [APP_TOKEN_PATH, "/open-apis/auth/v3/tenant_access_token/internal"]) {
        for (const app_id of ["cli_\u0000", "cli_\ud800", "\u0000"]) {
          const res = await call(server.url, "POST", path, { app_id, app_secret: "x" });
          assertEnvelope(res, Errors.InvalidParam.httpStatus, Errors.InvalidParam.code);
        }
        const nulSecret = await call(server.url, "POST", path, { app_id: DEMO.appId, app_secret: "s\u0000" });
        assertEnvelope(nulSecret, 200, Errors.InvalidParam.code);
      }
      const token = await appToken(server.url);
      const login = await call(
        server.url,
        "POST",
        "/open-apis/mina/v2/tokenLoginValidate",
        { code: "\u0000" },
        token,
      );
      assertEnvelope(login, 200, Errors.InvalidCode.code);
      const refresh = await call(
        server.url,
        "POST",
        "/open-apis/authen/v1/oidc/refresh_access_token",
        { grant_type: "refresh_token", refresh_token: "ur-\u0000" },
        token,
      );
      assertEnvelope(refresh, 200, Errors.RefreshBadRequest.code);
      // A NUL in a key is refused as well (the key is request data: it is not quoted back).
      const inKey = await call(server.url, "POST", APP_TOKEN_PATH, {
        app_id: DEMO.appId,
        app_secret: DEMO.appSecret,
        "x\u0000": 1,
      });
      assertEnvelope(inKey, 200, Errors.InvalidParam.code);
    });

    it("answers a body that is not UTF-8 with the invalid-parameter code", async () => {
      const body = Buffer.concat([
        Buffer.from('{"app_id":"cli_'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('","app_secret":"x"}'),
      ]);
      const exchange = await rawExchange(
        server.url,
        requestBytes("POST", APP_TOKEN_PATH, { body, headers: { Connection: "close" } }),
      );
      const [res] = parseResponses(exchange.text);
      assertEnvelope(res!, 200, Errors.InvalidParam.code);
    });

    it("answers admin paths, queries and bodies holding a NUL with 9400, naming the field", async () => {
      const inPath = await call(server.url, "GET", "/admin/v1/apps/cli_%00", undefined, ADMIN);
      assert.match(assertEnvelope(inPath, 400, Errors.AdminInvalidRequest.code), /params\.app_id/);
      const inQuery = await call(server.url, "GET", "/admin/v1/sessions?app_id=cli_%00", undefined, ADMIN);
      assert.match(assertEnvelope(inQuery, 400, Errors.AdminInvalidRequest.code), /query\.app_id/);
      const inBody = await call(
        server.url,
        "POST",
        "/admin/v1/login-codes",
        { app_id: "cli_\u0000", user_id: DEMO.visibleUser },
        ADMIN,
      );
      assert.match(assertEnvelope(inBody, 400, Errors.AdminInvalidRequest.code), /body\.app_id/);
      const notUtf8 = await call(server.url, "GET", "/admin/v1/apps/cli_%FF", undefined, ADMIN);
      assert.match(assertEnvelope(notUtf8, 400, Errors.AdminInvalidRequest.code), /not valid UTF-8/);
      const tooLong = await call(server.url, "GET", `/admin/v1/apps/${"a".repeat(200)}`, undefined, ADMIN);
      assert.match(assertEnvelope(tooLong, 400, Errors.AdminInvalidRequest.code), /too long/);
      const elsewhere = await call(server.url, "GET", "/console/%FF");
      assert.match(assertEnvelope(elsewhere, 400, Errors.MalformedRequest.code), /not valid UTF-8/);
      // Still behind the admin token: an anonymous caller learns nothing more.
      const anonymous = await call(server.url, "GET", "/admin/v1/apps/cli_%00");
      assertEnvelope(anonymous, 401, Errors.AdminUnauthorized.code);
    });

    it("keeps a committed login's answer when stray bytes follow it, and its session live", async () => {
      const token = await appToken(server.url);
      const code = await mintCode(server.url);
      const login = requestBytes("POST", "/open-apis/mina/v2/tokenLoginValidate", {
        body: JSON.stringify({ code }),
        headers: { Authorization: `Bearer ${token}` },
      });
      const exchange = await rawExchange(
        server.url,
        Buffer.concat([login, Buffer.from("\u0000\u0001garbage\r\n\r\n")]),
      );
      assert.ok(exchange.closedByServer, "the connection is closed after the junk's answer");
      const [first, second] = parseResponses(exchange.text);
      assert.equal(first!.status, 200, exchange.text);
      assert.equal(first!.body.code, 0, exchange.text);
      assert.match(first!.body.data.access_token, /^u-/);
      // The junk gets its own envelope, after the login's answer.
      assertEnvelope(second!, 400, Errors.MalformedRequest.code);
      assert.doesNotMatch(second!.body.msg, /JSON/);
      // The session is the client's: no retry was needed, and user_info answers.
      const info = await call(
        server.url,
        "GET",
        "/open-apis/authen/v1/user_info",
        undefined,
        first!.body.data.access_token,
      );
      assert.equal(info.body.code, 0, JSON.stringify(info.body));
    });

    it("answers pipelined junk after a valid GET with that GET's answer first", async () => {
      const exchange = await rawExchange(
        server.url,
        Buffer.concat([requestBytes("GET", "/healthz"), Buffer.from("NOT AN HTTP REQUEST\r\n\r\n")]),
      );
      const [first, second] = parseResponses(exchange.text);
      assert.equal(first!.status, 200);
      assert.deepEqual(first!.body, { status: "ok" });
      assertEnvelope(second!, 400, Errors.MalformedRequest.code);
    });

    it("answers a request without Host with the envelope, not Node's empty 400", async () => {
      const exchange = await rawExchange(server.url, requestBytes("GET", "/healthz", { host: null }));
      const [res] = parseResponses(exchange.text);
      assert.match(assertEnvelope(res!, 400, Errors.MalformedRequest.code), /Host header is required/);
      assert.equal(res!.headers.get("connection"), "close");
      // HTTP/1.0 has no Host requirement.
      const old = await rawExchange(server.url, "GET /healthz HTTP/1.0\r\n\r\n");
      assert.equal(parseResponses(old.text)[0]!.status, 200);
    });

    it("says what is wrong with headers that do not parse, never 'body is not valid JSON'", async () => {
      const cases: Array<[string | Buffer, number, number, RegExp]> = [
        [
          "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
          400,
          Errors.MalformedRequest.code,
          /header/,
        ],
        ["GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400, Errors.MalformedRequest.code, /version/],
        [
          `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
          Errors.HeadersTooLarge.httpStatus,
          Errors.HeadersTooLarge.code,
          /headers too large/,
        ],
        [
          "POST /open-apis/auth/v3/app_access_token/internal HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
          400,
          Errors.MalformedRequest.code,
          /Transfer-Encoding/,
        ],
      ];
      for (const [bytes, status, code, msg] of cases) {
        const exchange = await rawExchange(server.url, bytes);
        assert.ok(exchange.closedByServer);
        const [res] = parseResponses(exchange.text);
        const text = assertEnvelope(res!, status, code);
        assert.match(text, msg);
        assert.doesNotMatch(text, /JSON/);
      }
    });

    it("logged no error and no stack trace for any of it", () => {
      const lines = server
        .stdout()
        .split("\n")
        .filter((line) => line.startsWith("{"));
      assert.ok(lines.length > 10, "the server logged its requests");
      for (const line of lines) {
        const entry = JSON.parse(line) as { level: number; status?: number };
        assert.ok(entry.level < 50, `an error line: ${line}`);
        assert.notEqual(entry.status, 500, line);
      }
      assert.doesNotMatch(server.stdout(), /"stack"|\bat .*\.ts:\d+/);
      assert.doesNotMatch(server.stderr(), /"stack"|\bat .*\.ts:\d+|Error:/);
    });
  });
}
