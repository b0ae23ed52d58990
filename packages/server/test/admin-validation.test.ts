/**
 * Admin input is validated by the JSON Schemas /openapi.json shows (http/admin-schemas.ts), as
 * sent: no coercion, and every breach answers 400 {9400} with a msg naming the field, before any
 * storage is touched.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestServer } from "./harness.ts";

describe("admin input against its schemas", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const refused = async (method: string, path: string, body: unknown, field: RegExp) => {
    const res = await t.request(method, `/admin/v1${path}`, {
      token: ADMIN_TOKEN,
      ...(body === undefined ? {} : { body }),
    });
    const label = `${method} ${path} ${JSON.stringify(body)}: ${res.text}`;
    assert.equal(res.status, 400, label);
    assert.deepEqual(Object.keys(res.body), ["code", "msg"], label);
    assert.equal(res.body.code, 9400, label);
    assert.match(res.body.msg, /^invalid request: /, label);
    assert.match(res.body.msg, field, label);
    assert.equal(res.headers.get("cache-control"), "no-store", label);
  };

  it("names the field of a query that is not what the schema says", async () => {
    for (const query of ["limit=0", "limit=-1", "limit=1.5", "limit=ten", "limit=1&limit=2"]) {
      await refused("GET", `/sessions?${query}`, undefined, /limit/);
      await refused("GET", `/audit-events?${query}`, undefined, /limit/);
    }
    await refused("GET", "/sessions?active=yes", undefined, /active/);
    await refused("GET", "/audit-events?before=0", undefined, /before/);
  });

  it("does not coerce: a number is not a string, a string not a count, null not a name", async () => {
    const mint = { app_id: DEMO.appId, user_id: DEMO.visibleUser };
    await refused("POST", "/login-codes", { ...mint, user_id: 6 }, /user_id/);
    await refused("POST", "/login-codes", { ...mint, count: "2" }, /count/);
    await refused("PATCH", `/apps/${DEMO.appId}`, { name: null }, /name/);
    await refused("PATCH", `/apps/${DEMO.appId}`, { scopes: [""] }, /scopes/);
  });

  it("checks a visibility before looking up the app or tenant", async () => {
    const path = `/apps/${DEMO.storeAppId}/installations/${DEMO.acme}`;
    await refused("PUT", path, { visibility: { users: [""] } }, /visibility/);
    await refused("PUT", path, { visibility: { users: "6c486g" } }, /visibility/);
    await refused("PUT", path, { visibility: 1 }, /visibility/);
    // And a valid one still installs, with the users as given.
    const ok = await t.request("PUT", `/admin/v1${path}`, {
      token: ADMIN_TOKEN,
      body: { visibility: { users: [DEMO.visibleUser] } },
    });
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.body.visibility, { users: [DEMO.visibleUser], departments: [] });
  });

  it("still answers 401 before validating anything", async () => {
    const res = await t.request("POST", "/admin/v1/login-codes", { token: "wrong", body: { count: "x" } });
    assert.equal(res.status, 401);
    assert.equal(res.body.code, 9401);
  });
});
