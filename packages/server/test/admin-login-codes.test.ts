/**
 * The project's own admin API, `/admin/v1` (contract §4): the admin bearer on every route, and
 * login codes (the one shape external tools rely on), one or many at a time.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { APP_TOKEN_PATH, adminCaller, serverForSuite } from "./admin-api.ts";
import { ADMIN_TOKEN, assertEnvelope as assertError, DEMO } from "./harness.ts";

describe("admin API", () => {
  const t = serverForSuite();
  const admin = adminCaller(t);

  describe("authentication", () => {
    const routes: Array<[string, string, unknown?]> = [
      ["GET", "/tenants"],
      ["POST", "/tenants", { name: "x" }],
      ["GET", `/tenants/${DEMO.acme}`],
      ["GET", "/users"],
      ["GET", "/apps"],
      ["GET", `/apps/${DEMO.appId}`],
      ["POST", `/apps/${DEMO.appId}/secret`],
      ["POST", "/login-codes", { app_id: DEMO.appId, user_id: DEMO.visibleUser }],
      ["GET", "/sessions"],
      ["GET", "/audit-events"],
      ["GET", "/export"],
      ["POST", "/import", {}],
    ];

    it("answers 401 {9401} without, or with a wrong, admin token, on every route (login-codes too)", async () => {
      const headerSets: Array<Record<string, string>> = [
        {},
        { authorization: `Bearer ${ADMIN_TOKEN}x` },
        { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` },
        { authorization: `bearer ${ADMIN_TOKEN}` },
        { authorization: `Bearer  ${ADMIN_TOKEN}` },
        { authorization: ADMIN_TOKEN },
        { authorization: "Bearer" },
        { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString("base64")}` },
      ];
      for (const [method, path, body] of routes) {
        for (const headers of headerSets) {
          const res = await t.request(method, `/admin/v1${path}`, {
            headers,
            ...(body !== undefined ? { body } : {}),
          });
          assertError(res, 9401, 401);
          assert.ok(!res.text.includes(ADMIN_TOKEN));
        }
      }
    });

    it("an app token is not an admin token", async () => {
      const res = await t.request("GET", "/admin/v1/apps", { token: await t.appToken() });
      assertError(res, 9401, 401);
    });

    it("rejected calls change nothing (the secret was not rotated)", async () => {
      // The POST /apps/…/secret above was refused: the demo secret still works.
      const res = await t.request("POST", APP_TOKEN_PATH, {
        body: { app_id: DEMO.appId, app_secret: DEMO.appSecret },
      });
      assert.equal(res.body.code, 0, res.text);
    });
  });

  describe("POST /admin/v1/login-codes", () => {
    it("answers 201 {code, expires_at} for a self-built app without tenant_key", async () => {
      const now = t.clock.now();
      const res = await admin("POST", "/login-codes", { app_id: DEMO.appId, user_id: DEMO.visibleUser });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(Object.keys(res.body).sort(), ["code", "expires_at"]);
      assert.match(res.body.code, /^[0-9a-f]{44}$/);
      assert.equal(res.body.expires_at, Math.floor(now / 1000) + 180);
      assert.equal(res.headers.get("cache-control"), "no-store");
      const login = await t.exchange(res.body.code, await t.appToken());
      assert.equal(login.body.code, 0, login.text);
    });

    it("accepts the self-built app's own tenant_key explicitly", async () => {
      const res = await admin("POST", "/login-codes", {
        app_id: DEMO.appId,
        user_id: DEMO.visibleUser,
        tenant_key: DEMO.acme,
      });
      assert.equal(res.status, 201, res.text);
    });

    it("requires tenant_key for a store app (400), and mints with it", async () => {
      const missing = await admin("POST", "/login-codes", {
        app_id: DEMO.storeAppId,
        user_id: DEMO.visibleUser,
      });
      assertError(missing, 9400, 400);
      assert.match(missing.body.msg, /tenant_key/);
      const ok = await admin("POST", "/login-codes", {
        app_id: DEMO.storeAppId,
        user_id: DEMO.globexUser,
        tenant_key: DEMO.globex,
      });
      assert.equal(ok.status, 201, ok.text);
    });

    it("answers 404 {code, msg} for an unknown app, tenant or user", async () => {
      const cases: unknown[] = [
        { app_id: "cli_0000000000000000", user_id: DEMO.visibleUser },
        { app_id: DEMO.appId, user_id: "nobody" },
        { app_id: DEMO.appId, user_id: DEMO.visibleUser, tenant_key: "ffffffffffffff" },
        { app_id: DEMO.storeAppId, user_id: DEMO.visibleUser, tenant_key: "ffffffffffffff" },
        // Hank exists, but in Globex: not in the demo app's tenant.
        { app_id: DEMO.appId, user_id: DEMO.globexUser },
        { app_id: DEMO.storeAppId, user_id: DEMO.visibleUser, tenant_key: DEMO.globex },
      ];
      for (const body of cases) assertError(await admin("POST", "/login-codes", body), 9404, 404);
    });

    it("answers 400 naming the field for a missing or mistyped app_id, user_id or tenant_key", async () => {
      const cases: Array<[unknown, RegExp]> = [
        [{ user_id: DEMO.visibleUser }, /app_id/],
        [{ app_id: DEMO.appId }, /user_id/],
        [{ app_id: 7, user_id: DEMO.visibleUser }, /app_id/],
        [{ app_id: DEMO.appId, user_id: "" }, /user_id/],
        [{ app_id: DEMO.appId, user_id: DEMO.visibleUser, tenant_key: 5 }, /tenant_key/],
      ];
      for (const [body, field] of cases) {
        const res = await admin("POST", "/login-codes", body);
        assertError(res, 9400, 400);
        assert.match(res.body.msg, field);
      }
    });
  });

  describe("POST /admin/v1/login-codes with count", () => {
    it("mints that many distinct codes in one call, each redeemable once", async () => {
      const now = t.clock.now();
      const res = await admin("POST", "/login-codes", {
        app_id: DEMO.appId,
        user_id: DEMO.visibleUser,
        count: 3,
      });
      assert.equal(res.status, 201, res.text);
      assert.deepEqual(Object.keys(res.body).sort(), ["codes", "expires_at"]);
      assert.equal(res.body.expires_at, Math.floor(now / 1000) + 180);
      const codes = res.body.codes as string[];
      assert.equal(new Set(codes).size, 3);
      const token = await t.appToken();
      for (const code of codes) {
        assert.match(code, /^[0-9a-f]{44}$/);
        assert.equal((await t.exchange(code, token)).body.code, 0);
        assert.equal((await t.exchange(code, token)).body.code, 10213);
      }
    });

    it("answers 400 naming count for a count that is not an integer from 1 to 1000", async () => {
      for (const count of [0, 1001, 1.5, -1, "3", null, true]) {
        const res = await admin("POST", "/login-codes", {
          app_id: DEMO.appId,
          user_id: DEMO.visibleUser,
          count,
        });
        assertError(res, 9400, 400);
        assert.match(res.body.msg, /count/);
      }
    });

    it("is described in /openapi.json: count in the request, both answer shapes", async () => {
      const res = await t.request("GET", "/openapi.json");
      const operation = res.body.paths["/admin/v1/login-codes"].post;
      const request = operation.requestBody.content["application/json"].schema;
      assert.deepEqual(request.properties.count, { type: "integer", minimum: 1, maximum: 1000 });
      const answers = Object.values(operation.responses as Record<string, { content?: unknown }>)
        .map((r) => JSON.stringify(r.content ?? {}))
        .join(" ");
      assert.match(answers, /"codes"/);
      assert.match(answers, /"code"/);
    });

    it("checks the app, tenant and user as the single form does (404)", async () => {
      const res = await admin("POST", "/login-codes", { app_id: DEMO.appId, user_id: "nobody", count: 5 });
      assertError(res, 9404, 404);
    });
  });
});
