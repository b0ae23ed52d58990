/**
 * The project's own admin API, `/admin/v1` (contract §4): the catalogue of tenants, users and
 * apps (scopes, secret rotation, installations and visibility).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { APP_TOKEN_PATH, adminCaller, serverForSuite } from "./admin-api.ts";
import { assertEnvelope as assertError, DEMO } from "./harness.ts";

describe("admin API", () => {
  const t = serverForSuite();
  const admin = adminCaller(t);

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
});
