/**
 * The project's own admin API, `/admin/v1` (contract §4): import of a seed and export of the
 * catalogue (secrets only as digests, open_ids kept across a re-import).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adminCaller, serverForSuite, USER_INFO_PATH } from "./admin-api.ts";
import { ADMIN_TOKEN, assertEnvelope as assertError, DEMO, startTestServer } from "./harness.ts";

describe("admin API", () => {
  const t = serverForSuite();
  const admin = adminCaller(t);

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
