/**
 * The project's own admin API, `/admin/v1` (contract §4): the admin bearer, login codes (the one
 * shape external tools rely on), tenants, users, apps (scopes, secret rotation, installations and
 * visibility), sessions (list, revoke), audit events, import and export.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ADMIN_TOKEN,
  assertEnvelope as assertError,
  DEMO,
  startTestServer,
  type TestServer,
} from "./harness.ts";

const APP_TOKEN_PATH = "/open-apis/auth/v3/app_access_token/internal";
const REFRESH_PATH = "/open-apis/authen/v1/refresh_access_token";
const USER_INFO_PATH = "/open-apis/authen/v1/user_info";
const DAY = 24 * 3600 * 1000;

interface Session {
  session_id: string;
  app_id: string;
  tenant_key: string;
  user_id: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  revoke_reason: string | null;
}
interface AuditEventView {
  id: number;
  at: number;
  type: string;
  app_id: string | null;
  tenant_key: string | null;
  user_id: string | null;
  session_id: string | null;
}

describe("admin API", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const admin = (method: string, path: string, body?: unknown) =>
    t.request(method, `/admin/v1${path}`, { token: ADMIN_TOKEN, ...(body !== undefined ? { body } : {}) });

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

  describe("tenants", () => {
    it("creates (201), gets, lists; 409 on a duplicate; 400 naming the bad field; 404 when unknown", async () => {
      const created = await admin("POST", "/tenants", { name: "Initech" });
      assert.equal(created.status, 201, created.text);
      assert.match(created.body.tenant_key, /^[0-9a-f]{14,16}$/);
      assert.equal(created.body.name, "Initech");

      const fixed = await admin("POST", "/tenants", { tenant_key: "0123456789abcd", name: "Fixed" });
      assert.equal(fixed.status, 201, fixed.text);
      assert.deepEqual(fixed.body, { tenant_key: "0123456789abcd", name: "Fixed" });
      assertError(
        await admin("POST", "/tenants", { tenant_key: "0123456789abcd", name: "Again" }),
        9409,
        409,
      );
      assertError(await admin("POST", "/tenants", { tenant_key: DEMO.acme, name: "Acme 2" }), 9409, 409);

      const got = await admin("GET", `/tenants/${created.body.tenant_key}`);
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, created.body);
      assertError(await admin("GET", "/tenants/ffffffffffffff"), 9404, 404);

      const list = await admin("GET", "/tenants");
      const keys = (list.body.tenants as Array<{ tenant_key: string }>).map((x) => x.tenant_key);
      for (const key of [DEMO.acme, DEMO.globex, created.body.tenant_key, "0123456789abcd"])
        assert.ok(keys.includes(key));

      for (const [body, field] of [
        [{}, /body\.name/],
        [{ name: "" }, /body\.name/],
        [{ name: 5 }, /body\.name/],
        [{ name: "x", tenant_key: "XYZ" }, /body\.tenant_key/],
        [[], /body/],
      ] as Array<[unknown, RegExp]>) {
        const res = await admin("POST", "/tenants", body);
        assertError(res, 9400, 400);
        assert.match(res.body.msg, field);
      }
    });
  });

  describe("users", () => {
    it("creates with generated ids (201), 409 on a duplicate, 404 for an unknown tenant, 400 naming the bad field", async () => {
      const created = await admin("POST", "/users", {
        tenant_key: DEMO.acme,
        name: "赵六",
        en_name: "Zhao Liu",
        email: "zhaoliu@acme.test",
        department_ids: ["od-engineering"],
      });
      assert.equal(created.status, 201, created.text);
      assert.match(created.body.user_id, /^[0-9A-Za-z]{1,64}$/);
      assert.match(created.body.union_id, /^on_[0-9a-f]{32}$/);
      assert.equal(created.body.status, "active");
      assert.equal(created.body.en_name, "Zhao Liu");

      const fixed = await admin("POST", "/users", { tenant_key: DEMO.acme, user_id: "z9", name: "Z" });
      assert.equal(fixed.status, 201, fixed.text);
      assert.equal(fixed.body.user_id, "z9");
      assertError(
        await admin("POST", "/users", { tenant_key: DEMO.acme, user_id: "z9", name: "Z2" }),
        9409,
        409,
      );
      assertError(
        await admin("POST", "/users", { tenant_key: DEMO.acme, user_id: DEMO.visibleUser, name: "dup" }),
        9409,
        409,
      );
      // The same user_id in another tenant is another user.
      const elsewhere = await admin("POST", "/users", { tenant_key: DEMO.globex, user_id: "z9", name: "Z" });
      assert.equal(elsewhere.status, 201, elsewhere.text);

      assertError(await admin("POST", "/users", { tenant_key: "ffffffffffffff", name: "x" }), 9404, 404);
      for (const [body, field] of [
        [{ tenant_key: DEMO.acme }, /body\.name/],
        [{ name: "x" }, /body\.tenant_key/],
        [{ tenant_key: DEMO.acme, name: "x", user_id: "has space" }, /body\.user_id/],
        [{ tenant_key: DEMO.acme, name: "x", union_id: "on_nope" }, /body\.union_id/],
        [{ tenant_key: DEMO.acme, name: "x", status: "gone" }, /body\.status/],
        [{ tenant_key: DEMO.acme, name: "x", department_ids: "od-sales" }, /body\.department_ids/],
      ] as Array<[unknown, RegExp]>) {
        const res = await admin("POST", "/users", body);
        assertError(res, 9400, 400);
        assert.match(res.body.msg, field);
      }
    });

    it("gets one user, lists (filtered by tenant), 404 for an unknown one", async () => {
      const got = await admin("GET", `/users/${DEMO.acme}/${DEMO.visibleUser}`);
      assert.equal(got.status, 200, got.text);
      assert.equal(got.body.name, "张三");
      assert.equal(got.body.union_id, "on_94a1ee5551019f18cd73d9f111898cf2");
      assert.equal(got.body.mobile, "+8613800000001");
      assert.deepEqual(got.body.department_ids, ["od-engineering"]);
      assertError(await admin("GET", `/users/${DEMO.acme}/nobody`), 9404, 404);
      assertError(await admin("GET", `/users/${DEMO.globex}/${DEMO.visibleUser}`), 9404, 404);

      const globex = await admin("GET", `/users?tenant_key=${DEMO.globex}`);
      const tenants = new Set((globex.body.users as Array<{ tenant_key: string }>).map((u) => u.tenant_key));
      assert.deepEqual([...tenants], [DEMO.globex]);
      const all = await admin("GET", "/users");
      assert.ok(all.body.users.length > globex.body.users.length);
    });

    it("PATCH changes status (and only what is given), 400 for a bad value, 404 for an unknown user", async () => {
      const created = await admin("POST", "/users", {
        tenant_key: DEMO.acme,
        name: "Patchy",
        email: "p@acme.test",
        department_ids: ["od-engineering"],
      });
      const path = `/users/${DEMO.acme}/${created.body.user_id}`;
      const patched = await admin("PATCH", path, { status: "deactivated" });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.body.status, "deactivated");
      assert.equal(patched.body.email, "p@acme.test");
      assert.equal(patched.body.union_id, created.body.union_id);
      assert.equal((await admin("GET", path)).body.status, "deactivated");

      const renamed = await admin("PATCH", path, { name: "Patched", status: "active" });
      assert.equal(renamed.body.name, "Patched");
      assert.equal(renamed.body.status, "active");
      // tenant_key and user_id in the body cannot move the user.
      const moved = await admin("PATCH", path, { tenant_key: DEMO.globex, user_id: "other" });
      assert.equal(moved.body.tenant_key, DEMO.acme);
      assert.equal(moved.body.user_id, created.body.user_id);

      const bad = await admin("PATCH", path, { status: "frozen" });
      assertError(bad, 9400, 400);
      assert.match(bad.body.msg, /status/);
      assertError(await admin("PATCH", `/users/${DEMO.acme}/nobody`, { status: "active" }), 9404, 404);

      // A demo user without an avatar can be patched too.
      const demo = await admin("PATCH", `/users/${DEMO.acme}/${DEMO.otherVisibleUser}`, { en_name: "Li Si" });
      assert.equal(demo.status, 200, demo.text);
    });
  });

  describe("apps", () => {
    it("creates a self-built app (201, secret shown once), gets and lists it without any secret", async () => {
      const created = await admin("POST", "/apps", {
        name: "Admin-made",
        type: "self_built",
        tenant_key: DEMO.acme,
        scopes: ["contact:user.employee_id:readonly"],
        visibility: { users: [DEMO.otherVisibleUser] },
      });
      assert.equal(created.status, 201, created.text);
      assert.match(created.body.app_id, /^cli_[0-9a-f]{16}$/);
      assert.equal(typeof created.body.app_secret, "string");
      assert.ok(created.body.app_secret.length >= 32, "≥ 128 bits");
      assert.deepEqual(created.body.installations, [
        { tenant_key: DEMO.acme, visibility: { users: [DEMO.otherVisibleUser], departments: [] } },
      ]);
      const appId = created.body.app_id as string;
      const secret = created.body.app_secret as string;

      const got = await admin("GET", `/apps/${appId}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.name, "Admin-made");
      assert.equal("app_secret" in got.body, false);
      const list = await admin("GET", "/apps");
      assert.ok(list.body.apps.some((a: { app_id: string }) => a.app_id === appId));
      assert.ok(!list.text.includes(secret) && !got.text.includes(secret));
      assert.ok(!list.text.includes(DEMO.appSecret));
      assert.doesNotMatch(list.text, /secret/);

      // Visibility as given: Li Si in, Zhang San out.
      const token = await t.appToken(appId, secret);
      assert.equal((await t.exchange(await t.mintCode(DEMO.otherVisibleUser, appId), token)).body.code, 0);
      assert.equal((await t.exchange(await t.mintCode(DEMO.visibleUser, appId), token)).body.code, 10228);
    });

    it("409 on a duplicate app_id, 404 for an unknown tenant or app, 400 naming the bad field", async () => {
      const body = {
        app_id: "cli_00112233445566ff",
        name: "Fixed",
        tenant_key: DEMO.acme,
        visibility: "all",
      };
      assert.equal((await admin("POST", "/apps", body)).status, 201);
      assertError(await admin("POST", "/apps", body), 9409, 409);
      assertError(await admin("POST", "/apps", { ...body, app_id: DEMO.appId }), 9409, 409);
      assertError(
        await admin("POST", "/apps", { name: "x", tenant_key: "ffffffffffffff", visibility: "all" }),
        9404,
        404,
      );
      assertError(await admin("GET", "/apps/cli_0000000000000000"), 9404, 404);
      assertError(await admin("PATCH", "/apps/cli_0000000000000000", { scopes: [] }), 9404, 404);
      assertError(await admin("POST", "/apps/cli_0000000000000000/secret"), 9404, 404);
      for (const [bad, field] of [
        [{ tenant_key: DEMO.acme }, /body\.name/],
        [{ name: "x" }, /body\.tenant_key/],
        [{ name: "x", tenant_key: DEMO.acme, type: "weird" }, /body\.type/],
        [{ name: "x", tenant_key: DEMO.acme, app_id: "cli_XYZ" }, /body\.app_id/],
        [{ name: "x", tenant_key: DEMO.acme, app_secret: "short" }, /body\.app_secret/],
        [{ name: "x", tenant_key: DEMO.acme, scopes: "a" }, /body\.scopes/],
        [{ name: "x", tenant_key: DEMO.acme, visibility: "some" }, /body\.visibility/],
        [{ name: "x", type: "store", installations: [{}] }, /body\.installations\[0\]\.tenant_key/],
      ] as Array<[unknown, RegExp]>) {
        const res = await admin("POST", "/apps", bad);
        assertError(res, 9400, 400);
        assert.match(res.body.msg, field);
      }
    });

    it("PATCH changes scopes (employee_id appears on the next login) and validates them", async () => {
      const created = await admin("POST", "/apps", {
        name: "Scoped",
        tenant_key: DEMO.acme,
        scopes: [],
        visibility: "all",
      });
      const appId = created.body.app_id as string;
      const token = await t.appToken(appId, created.body.app_secret);
      const before = await t.exchange(await t.mintCode(DEMO.visibleUser, appId), token);
      assert.equal("employee_id" in before.body.data, false);

      const patched = await admin("PATCH", `/apps/${appId}`, {
        scopes: ["contact:user.employee_id:readonly"],
      });
      assert.equal(patched.status, 200, patched.text);
      assert.deepEqual(patched.body.scopes, ["contact:user.employee_id:readonly"]);
      assert.equal(patched.body.name, "Scoped");
      const afterPatch = await t.exchange(await t.mintCode(DEMO.visibleUser, appId), token);
      assert.equal(afterPatch.body.data.employee_id, DEMO.visibleUser);

      for (const bad of [{ scopes: "x" }, { scopes: [1] }, { name: "" }]) {
        assertError(await admin("PATCH", `/apps/${appId}`, bad), 9400, 400);
      }
      const renamed = await admin("PATCH", `/apps/${appId}`, { name: "Renamed" });
      assert.equal(renamed.body.name, "Renamed");
      assert.deepEqual(renamed.body.scopes, ["contact:user.employee_id:readonly"], "scopes untouched");
    });

    it("rotates a secret: the old one answers 10014, the new one gets a token", async () => {
      const created = await admin("POST", "/apps", {
        name: "Rotate me",
        tenant_key: DEMO.acme,
        visibility: "all",
      });
      const appId = created.body.app_id as string;
      const oldSecret = created.body.app_secret as string;
      const oldToken = await t.appToken(appId, oldSecret);
      const rotated = await admin("POST", `/apps/${appId}/secret`);
      assert.equal(rotated.status, 200, rotated.text);
      assert.equal(rotated.body.app_id, appId);
      assert.notEqual(rotated.body.app_secret, oldSecret);
      assert.equal(rotated.headers.get("cache-control"), "no-store");

      const old = await t.request("POST", APP_TOKEN_PATH, { body: { app_id: appId, app_secret: oldSecret } });
      assertError(old, 10014, 200);
      const fresh = await t.appToken(appId, rotated.body.app_secret);
      assert.match(fresh, /^t-/);
      assert.equal((await t.exchange(await t.mintCode(DEMO.visibleUser, appId), fresh)).body.code, 0);
      // The token issued before the rotation lives out its own 2 h (contract: both stay valid).
      assert.equal((await t.exchange(await t.mintCode(DEMO.visibleUser, appId), oldToken)).body.code, 0);
    });

    it("installs a store app and sets its visibility with PUT; refuses a second tenant for a self-built app", async () => {
      const created = await admin("POST", "/apps", { name: "Market", type: "store", installations: [] });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.body.installations, []);
      const appId = created.body.app_id as string;
      const token = await t.appToken(appId, created.body.app_secret);

      const put = await admin("PUT", `/apps/${appId}/installations/${DEMO.acme}`, {
        visibility: { users: [DEMO.otherVisibleUser] },
      });
      assert.equal(put.status, 200, put.text);
      assert.deepEqual(put.body, {
        tenant_key: DEMO.acme,
        visibility: { users: [DEMO.otherVisibleUser], departments: [] },
      });
      const putAll = await admin("PUT", `/apps/${appId}/installations/${DEMO.globex}`, { visibility: "all" });
      assert.deepEqual(putAll.body, { tenant_key: DEMO.globex, visibility: "all" });
      const got = await admin("GET", `/apps/${appId}`);
      assert.equal(got.body.installations.length, 2);

      const li = await t.exchange(await t.mintCode(DEMO.otherVisibleUser, appId, DEMO.acme), token);
      assert.equal(li.body.code, 0, li.text);
      assert.equal(
        (await t.exchange(await t.mintCode(DEMO.visibleUser, appId, DEMO.acme), token)).body.code,
        10228,
      );
      const hank = await t.exchange(await t.mintCode(DEMO.globexUser, appId, DEMO.globex), token);
      assert.equal(hank.body.data.tenant_key, DEMO.globex);

      // Visibility by department.
      await admin("PUT", `/apps/${appId}/installations/${DEMO.acme}`, {
        visibility: { departments: ["od-sales"] },
      });
      assert.equal(
        (await t.exchange(await t.mintCode(DEMO.invisibleUser, appId, DEMO.acme), token)).body.code,
        0,
      );
      assert.equal(
        (await t.exchange(await t.mintCode(DEMO.otherVisibleUser, appId, DEMO.acme), token)).body.code,
        10228,
      );

      assertError(
        await admin("PUT", `/apps/${appId}/installations/ffffffffffffff`, { visibility: "all" }),
        9404,
        404,
      );
      assertError(
        await admin("PUT", `/apps/${appId}/installations/${DEMO.acme}`, { visibility: "some" }),
        9400,
        400,
      );
      const selfBuilt = await admin("PUT", `/apps/${DEMO.appId}/installations/${DEMO.globex}`, {
        visibility: "all",
      });
      assertError(selfBuilt, 9400, 400);
      assert.match(selfBuilt.body.msg, /self_built/);
    });
  });

  describe("sessions", () => {
    let s: TestServer;
    let demoToken: string;
    let storeToken: string;
    before(async () => {
      s = await startTestServer();
      demoToken = await s.appToken();
      storeToken = await s.appToken(DEMO.storeAppId, DEMO.storeAppSecret);
    });
    after(() => s.close());

    const list = async (query = "") => {
      const res = await s.request("GET", `/admin/v1/sessions${query}`, { token: ADMIN_TOKEN });
      assert.equal(res.status, 200, res.text);
      return res.body.sessions as Session[];
    };
    const login = async (userId: string, appId: string = DEMO.appId, tenantKey?: string) => {
      const res = await s.exchange(
        await s.mintCode(userId, appId, tenantKey),
        appId === DEMO.appId ? demoToken : storeToken,
      );
      assert.equal(res.body.code, 0, res.text);
      return res.body.data as { access_token: string; refresh_token: string };
    };

    it("lists sessions with their fields, filtered by app_id, tenant_key, user_id, limit", async () => {
      const now = Math.floor(s.clock.now() / 1000);
      await login(DEMO.visibleUser);
      await login(DEMO.visibleUser);
      await login(DEMO.otherVisibleUser);
      await login(DEMO.visibleUser, DEMO.storeAppId, DEMO.acme);
      await login(DEMO.globexUser, DEMO.storeAppId, DEMO.globex);

      const all = await list();
      assert.equal(all.length, 5);
      const one = all[0]!;
      assert.deepEqual(Object.keys(one).sort(), [
        "app_id",
        "created_at",
        "expires_at",
        "revoke_reason",
        "revoked_at",
        "session_id",
        "tenant_key",
        "user_id",
      ]);
      assert.equal(one.created_at, now);
      assert.equal(one.expires_at, now + 30 * 24 * 3600);
      assert.equal(one.revoked_at, null);
      assert.equal(one.revoke_reason, null);
      assert.equal(new Set(all.map((x) => x.session_id)).size, 5);

      assert.equal((await list(`?app_id=${DEMO.appId}`)).length, 3);
      assert.equal((await list(`?app_id=${DEMO.storeAppId}`)).length, 2);
      assert.equal((await list(`?tenant_key=${DEMO.globex}`)).length, 1);
      assert.equal((await list(`?user_id=${DEMO.visibleUser}`)).length, 3);
      assert.equal((await list(`?app_id=${DEMO.appId}&user_id=${DEMO.visibleUser}`)).length, 2);
      assert.equal((await list("?limit=2")).length, 2);
      assertError(await s.request("GET", "/admin/v1/sessions?limit=zero", { token: ADMIN_TOKEN }), 9400, 400);
      // The list never carries a token or a session key.
      const text = JSON.stringify(all);
      assert.doesNotMatch(text, /"u-|"ur-|session_key/);
    });

    it("revokes a session: its access token gets 99991668 and its refresh token 20038; active=true drops it", async () => {
      s.clock.advance(1000); // so that this session is strictly the newest
      const session = await login(DEMO.otherVisibleUser);
      const [target] = await list(`?user_id=${DEMO.otherVisibleUser}&active=true&limit=1`);
      assert.ok(target);
      // The newest session of Li Si is the one just made: prove it by revoking and watching it die.
      const activeBefore = (await list("?active=true")).length;
      const revoked = await s.request("POST", `/admin/v1/sessions/${target.session_id}/revoke`, {
        token: ADMIN_TOKEN,
      });
      assert.equal(revoked.status, 200, revoked.text);
      assert.deepEqual(revoked.body, { session_id: target.session_id, revoked: true });

      const info = await s.request("GET", USER_INFO_PATH, { token: session.access_token });
      assertError(info, 99991668, 400);
      const refreshed = await s.request("POST", REFRESH_PATH, {
        token: demoToken,
        body: { grant_type: "refresh_token", refresh_token: session.refresh_token },
      });
      assertError(refreshed, 20038, 200);

      const active = await list("?active=true");
      assert.equal(active.length, activeBefore - 1);
      assert.ok(!active.some((x) => x.session_id === target.session_id));
      const row = (await list()).find((x) => x.session_id === target.session_id)!;
      assert.equal(row.revoked_at, Math.floor(s.clock.now() / 1000));
      assert.equal(row.revoke_reason, "admin");

      // Revoking again, or an unknown session: 404.
      assertError(
        await s.request("POST", `/admin/v1/sessions/${target.session_id}/revoke`, { token: ADMIN_TOKEN }),
        9404,
        404,
      );
      assertError(
        await s.request("POST", "/admin/v1/sessions/nope/revoke", { token: ADMIN_TOKEN }),
        9404,
        404,
      );
    });

    it("lists audit events newest first: consumption, reuse, revocations", async () => {
      const code = await s.mintCode(DEMO.visibleUser);
      const first = await s.exchange(code, demoToken);
      assert.equal(first.body.code, 0);
      assert.equal((await s.exchange(code, demoToken)).body.code, 10213);

      const res = await s.request("GET", "/admin/v1/audit-events?limit=3", { token: ADMIN_TOKEN });
      assert.equal(res.status, 200, res.text);
      const events = res.body.events as AuditEventView[];
      assert.equal(events.length, 3);
      assert.deepEqual(
        events.map((e) => e.type),
        ["login_code.reused", "grant.revoked", "login_code.consumed"],
      );
      assert.ok(events[0]!.id > events[1]!.id && events[1]!.id > events[2]!.id, "newest first");
      const grant = events[2]!.session_id;
      assert.ok(grant);
      for (const e of events) {
        assert.equal(e.session_id, grant);
        assert.equal(e.app_id, DEMO.appId);
        assert.equal(e.tenant_key, DEMO.acme);
        assert.equal(e.user_id, DEMO.visibleUser);
        assert.equal(e.at, Math.floor(s.clock.now() / 1000));
      }

      // Refresh reuse, then an admin revocation, each show up on top.
      const other = await login(DEMO.visibleUser);
      const rotated = await s.request("POST", REFRESH_PATH, {
        token: demoToken,
        body: { grant_type: "refresh_token", refresh_token: other.refresh_token },
      });
      assert.equal(rotated.body.code, 0);
      await s.request("POST", REFRESH_PATH, {
        token: demoToken,
        body: { grant_type: "refresh_token", refresh_token: other.refresh_token },
      });
      const afterReuse = (await s.request("GET", "/admin/v1/audit-events?limit=4", { token: ADMIN_TOKEN }))
        .body.events as AuditEventView[];
      assert.deepEqual(
        afterReuse.map((e) => e.type),
        ["refresh_token.reused", "grant.revoked", "refresh_token.rotated", "login_code.consumed"],
      );

      s.clock.advance(1000);
      const third = await login(DEMO.otherVisibleUser);
      assert.ok(third);
      const [newest] = await list(`?user_id=${DEMO.otherVisibleUser}&active=true&limit=1`);
      await s.request("POST", `/admin/v1/sessions/${newest!.session_id}/revoke`, { token: ADMIN_TOKEN });
      const top = (await s.request("GET", "/admin/v1/audit-events?limit=1", { token: ADMIN_TOKEN })).body
        .events as AuditEventView[];
      assert.equal(top[0]!.type, "grant.revoked");
      assert.equal(top[0]!.session_id, newest!.session_id);

      // Paging with before=<id>.
      const page = (
        await s.request("GET", `/admin/v1/audit-events?limit=2&before=${top[0]!.id}`, { token: ADMIN_TOKEN })
      ).body.events as AuditEventView[];
      assert.equal(page.length, 2);
      assert.ok(page.every((e) => e.id < top[0]!.id));
      // Events never carry secrets.
      const all = (await s.request("GET", "/admin/v1/audit-events?limit=1000", { token: ADMIN_TOKEN })).text;
      assert.ok(!all.includes(code));
      assert.ok(!all.includes(first.body.data.access_token));
    });

    it("active=true drops every session once its 30-day family has ended", async () => {
      assert.ok((await list("?active=true")).length > 0);
      s.clock.advance(30 * DAY);
      assert.equal((await list("?active=true")).length, 0);
      assert.ok((await list()).length > 0, "expired sessions are still listed without the filter");
    });
  });

  describe("import and export", () => {
    const seed = {
      tenants: [{ name: "Imported Co" }, { tenant_key: "aaaabbbbccccdd", name: "Fixed Co" }],
      users: [
        { tenant_key: "aaaabbbbccccdd", user_id: "imp1", name: "Imported One", email: "one@fixed.test" },
        { tenant_key: "aaaabbbbccccdd", name: "Generated Id" },
      ],
      apps: [
        {
          name: "Imported app",
          tenant_key: "aaaabbbbccccdd",
          scopes: ["contact:user.employee_id:readonly"],
          visibility: "all",
        },
        {
          app_id: "cli_abcdefabcdef0123",
          app_secret: "given-secret-0123456789",
          name: "Given secret",
          type: "store",
          installations: [{ tenant_key: "aaaabbbbccccdd", visibility: { users: ["imp1"] } }],
        },
      ],
    };

    it("imports a seed with ids generated, returns the app secrets, and the apps work", async () => {
      const res = await admin("POST", "/import", seed);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body.imported, { tenants: 2, users: 2, apps: 2 });
      const secrets = res.body.app_secrets as Array<{ app_id: string; app_secret: string }>;
      assert.equal(secrets.length, 2);
      const generated = secrets.find((x) => x.app_id !== "cli_abcdefabcdef0123")!;
      assert.match(generated.app_id, /^cli_[0-9a-f]{16}$/);
      assert.ok(generated.app_secret.length >= 32);
      assert.equal(
        secrets.find((x) => x.app_id === "cli_abcdefabcdef0123")?.app_secret,
        "given-secret-0123456789",
      );

      const tenants = (await admin("GET", "/tenants")).body.tenants as Array<{
        tenant_key: string;
        name: string;
      }>;
      const importedCo = tenants.find((x) => x.name === "Imported Co");
      assert.ok(importedCo);
      assert.match(importedCo.tenant_key, /^[0-9a-f]{14,16}$/);
      const users = (await admin("GET", "/users?tenant_key=aaaabbbbccccdd")).body.users as Array<{
        user_id: string;
        union_id: string;
      }>;
      assert.equal(users.length, 2);
      for (const u of users) {
        assert.match(u.user_id, /^[0-9A-Za-z]+$/);
        assert.match(u.union_id, /^on_[0-9a-f]{32}$/);
      }

      const token = await t.appToken(generated.app_id, generated.app_secret);
      const login = await t.exchange(await t.mintCode("imp1", generated.app_id), token);
      assert.equal(login.body.data.employee_id, "imp1");
      const storeToken = await t.appToken("cli_abcdefabcdef0123", "given-secret-0123456789");
      const storeLogin = await t.exchange(
        await t.mintCode("imp1", "cli_abcdefabcdef0123", "aaaabbbbccccdd"),
        storeToken,
      );
      assert.equal(storeLogin.body.code, 0, storeLogin.text);
    });

    it("answers 400 naming the path for a bad seed, and imports nothing of it", async () => {
      const before = (await admin("GET", "/tenants")).body.tenants.length;
      const bad = await admin("POST", "/import", {
        tenants: [{ name: "Half" }],
        users: [{ tenant_key: "ffffffffffffff", name: "Orphan" }],
      });
      assertError(bad, 9400, 400);
      assert.match(bad.body.msg, /users\[0\]/);
      assert.equal((await admin("GET", "/tenants")).body.tenants.length, before);
      const notObject = await admin("POST", "/import", []);
      assertError(notObject, 9400, 400);
    });

    it("exports the catalogue with secrets only as digests; re-importing it elsewhere keeps open_ids", async () => {
      // Log in once so open_ids exist for (demo app, Zhang San) and (store app, Hank).
      const demoLogin = await t.exchange(await t.mintCode(), await t.appToken());
      const storeToken = await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret);
      const hankLogin = await t.exchange(
        await t.mintCode(DEMO.globexUser, DEMO.storeAppId, DEMO.globex),
        storeToken,
      );
      assert.equal(demoLogin.body.code, 0);
      assert.equal(hankLogin.body.code, 0);

      const exported = await admin("GET", "/export");
      assert.equal(exported.status, 200, exported.text);
      assert.equal(exported.headers.get("cache-control"), "no-store");
      const file = exported.body as {
        tenants: unknown[];
        users: unknown[];
        apps: Array<Record<string, unknown>>;
        open_ids: Array<{ app_id: string; user_id: string; open_id: string }>;
      };
      for (const secret of [DEMO.appSecret, DEMO.storeAppSecret, "given-secret-0123456789"]) {
        assert.ok(!exported.text.includes(secret), "no raw secret in the export");
      }
      assert.doesNotMatch(exported.text, /"app_secret"/);
      assert.doesNotMatch(exported.text, /"u-|"ur-|"t-/);
      for (const app of file.apps) {
        assert.match(String(app.app_secret_sha256), /^[0-9a-f]{64}$/);
        assert.equal("app_secret" in app, false);
      }
      assert.ok(file.open_ids.some((o) => o.open_id === demoLogin.body.data.open_id));

      const fresh = await startTestServer({ seed: {} });
      try {
        assert.equal(
          (await fresh.request("GET", "/admin/v1/apps", { token: ADMIN_TOKEN })).body.apps.length,
          0,
        );
        const imported = await fresh.request("POST", "/admin/v1/import", { token: ADMIN_TOKEN, body: file });
        assert.equal(imported.status, 200, imported.text);
        assert.deepEqual(imported.body.app_secrets, [], "digests only: no secret to show");

        // The same secrets work against the digests, and the same users get the same open_ids.
        const again = await fresh.exchange(await fresh.mintCode(), await fresh.appToken());
        assert.equal(again.body.code, 0, again.text);
        assert.equal(again.body.data.open_id, demoLogin.body.data.open_id);
        const hankAgain = await fresh.exchange(
          await fresh.mintCode(DEMO.globexUser, DEMO.storeAppId, DEMO.globex),
          await fresh.appToken(DEMO.storeAppId, DEMO.storeAppSecret),
        );
        assert.equal(hankAgain.body.data.open_id, hankLogin.body.data.open_id);

        // No session crossed over: tokens of the first server mean nothing here.
        const info = await fresh.request("GET", USER_INFO_PATH, { token: demoLogin.body.data.access_token });
        assertError(info, 99991668, 400);

        // And the round trip is stable: exporting the copy gives the same catalogue.
        const second = await fresh.request("GET", "/admin/v1/export", { token: ADMIN_TOKEN });
        const norm = (f: typeof file) => ({
          tenants: [...f.tenants].map((x) => JSON.stringify(x)).sort(),
          users: [...f.users].map((x) => JSON.stringify(x)).sort(),
          apps: [...f.apps].map((x) => JSON.stringify(x)).sort(),
        });
        assert.deepEqual(norm(second.body), norm(file));
      } finally {
        await fresh.close();
      }
    });
  });
});
