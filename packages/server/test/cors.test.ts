/**
 * CORS for a browser-based tool: pages from loopback origins (any port) by default, the origins
 * configured otherwise; preflights answered before any route; the fast lane's answers carry the
 * same headers as fastify's; no credentials, and nothing for an origin not allowed.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestServer } from "./harness.ts";

const preflight = (url: string, origin: string) =>
  fetch(url, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization, content-type",
    },
  });

const post = (url: string, origin: string, body: unknown, authorization?: string) =>
  fetch(url, {
    method: "POST",
    headers: {
      origin,
      "content-type": "application/json",
      ...(authorization ? { authorization } : {}),
    },
    body: JSON.stringify(body),
  });

describe("CORS, default origins (this machine's pages)", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it("answers a preflight from a loopback page on any port, before any route", async () => {
    for (const origin of ["http://localhost:5173", "http://127.0.0.1:3000", "http://[::1]:8080"]) {
      const res = await preflight(`${t.url}/open-apis/mina/v2/tokenLoginValidate`, origin);
      assert.equal(res.status, 204, origin);
      assert.equal(res.headers.get("access-control-allow-origin"), origin);
      assert.match(res.headers.get("access-control-allow-methods") ?? "", /POST/);
      assert.equal(res.headers.get("access-control-allow-headers"), "authorization, content-type");
      assert.equal(res.headers.get("access-control-allow-credentials"), null, "never credentials");
      assert.equal(res.headers.get("vary"), "Origin");
    }
  });

  it("the fast lane's tokenLoginValidate and fastify's routes carry the header", async () => {
    const origin = "http://localhost:5173";
    const token = await post(`${t.url}/open-apis/auth/v3/app_access_token/internal`, origin, {
      app_id: DEMO.appId,
      app_secret: DEMO.appSecret,
    });
    assert.equal(token.headers.get("access-control-allow-origin"), origin);
    const { app_access_token } = (await token.json()) as { app_access_token: string };
    const exchange = await post(
      `${t.url}/open-apis/mina/v2/tokenLoginValidate`,
      origin,
      { code: "0".repeat(44) },
      `Bearer ${app_access_token}`,
    );
    assert.equal(((await exchange.json()) as { code: number }).code, 10226);
    assert.equal(exchange.headers.get("access-control-allow-origin"), origin);
    assert.match(exchange.headers.get("access-control-expose-headers") ?? "", /x-ogw-ratelimit-reset/);
    const admin = await fetch(`${t.url}/admin/v1/apps`, {
      headers: { origin, authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(admin.status, 200);
    assert.equal(admin.headers.get("access-control-allow-origin"), origin);
  });

  it("gives an origin it does not allow nothing: no header, and a preflight reaches no route", async () => {
    for (const origin of ["https://evil.example", "http://localhost.evil.example:80", "null"]) {
      const res = await preflight(`${t.url}/open-apis/mina/v2/tokenLoginValidate`, origin);
      assert.notEqual(res.status, 204, origin);
      assert.equal(res.headers.get("access-control-allow-origin"), null, origin);
      const body = (await res.json()) as { code: number };
      assert.equal(body.code, 99991201, "the platform's unknown-path answer");
    }
    const plain = await post(`${t.url}/open-apis/auth/v3/app_access_token/internal`, "https://evil.example", {
      app_id: DEMO.appId,
      app_secret: DEMO.appSecret,
    });
    assert.equal(plain.headers.get("access-control-allow-origin"), null);
  });
});

describe("CORS, configured origins", () => {
  it("an exact origin list: only those; an empty list: none; *: any, answered as *", async () => {
    const cases: Array<{ origins: string[]; origin: string; expect: string | null }> = [
      {
        origins: ["https://tools.example.com"],
        origin: "https://tools.example.com",
        expect: "https://tools.example.com",
      },
      { origins: ["https://tools.example.com"], origin: "http://localhost:5173", expect: null },
      { origins: [], origin: "http://localhost:5173", expect: null },
      { origins: ["*"], origin: "https://anywhere.example", expect: "*" },
    ];
    for (const c of cases) {
      const t = await startTestServer({ config: { corsOrigins: c.origins } });
      try {
        const res = await preflight(`${t.url}/open-apis/auth/v3/app_access_token/internal`, c.origin);
        assert.equal(res.headers.get("access-control-allow-origin"), c.expect, JSON.stringify(c));
        assert.equal(res.status === 204, c.expect !== null, JSON.stringify(c));
      } finally {
        await t.close();
      }
    }
  });
});
