import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEMO, startTestServer, type TestServer } from "./harness.ts";

describe("the login flow on a SQLite file", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it("exchanges a code for identity and tokens, then reads user_info", async () => {
    const appToken = await t.appToken();
    const res = await t.exchange(await t.mintCode(), appToken);
    assert.equal(res.status, 200);
    assert.equal(res.body.code, 0);
    assert.equal(res.body.data.employee_id, DEMO.visibleUser);
    const info = await t.request("GET", "/open-apis/authen/v1/user_info", {
      token: res.body.data.access_token,
    });
    assert.equal(info.body.code, 0);
    assert.equal(info.body.data.open_id, res.body.data.open_id);
  });
});
