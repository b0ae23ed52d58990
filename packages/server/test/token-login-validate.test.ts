/**
 * tokenLoginValidate (shared/spec/token-login-validate.md, contract §2, security.md C1–C6, H1,
 * H4, H5): the success shape and ID formats, the check order (10202 → 10226/10213 → 10228), code
 * expiry at 180 s, ownership before consumption, reuse revoking the first redemption's tokens.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN, assertEnvelope, DEMO, startTestServer, type TestServer } from "./harness.ts";

const TLV_PATH = "/open-apis/mina/v2/tokenLoginValidate";
const REFRESH_PATH = "/open-apis/authen/v1/refresh_access_token";
const USER_INFO_PATH = "/open-apis/authen/v1/user_info";

const wellFormedUnknownCode = () => randomBytes(22).toString("hex");

describe("tokenLoginValidate", () => {
  let t: TestServer;
  let demoToken: string;
  let storeToken: string;
  before(async () => {
    t = await startTestServer();
    demoToken = await t.appToken();
    storeToken = await t.appToken(DEMO.storeAppId, DEMO.storeAppSecret);
  });
  after(() => t.close());

  const userInfo = (token: string) => t.request("GET", USER_INFO_PATH, { token });
  const refresh = (refreshToken: string, appToken = demoToken) =>
    t.request("POST", REFRESH_PATH, {
      token: appToken,
      body: { grant_type: "refresh_token", refresh_token: refreshToken },
    });

  describe("success", () => {
    it("answers {code:0, msg:'success', data} with the documented fields and ID formats", async () => {
      const now = t.clock.now();
      const res = await t.exchange(await t.mintCode(), demoToken);
      assert.equal(res.status, 200);
      assert.deepEqual(Object.keys(res.body).sort(), ["code", "data", "msg"]);
      assert.equal(res.body.code, 0);
      assert.equal(res.body.msg, "success");
      const data = res.body.data;
      assert.deepEqual(Object.keys(data).sort(), [
        "access_token",
        "employee_id",
        "expires_in",
        "open_id",
        "refresh_token",
        "session_key",
        "tenant_key",
      ]);
      assert.match(data.open_id, /^ou_[0-9a-f]{32}$/);
      assert.match(data.access_token, /^u-[0-9A-Za-z_-]+$/);
      assert.match(data.refresh_token, /^ur-[0-9A-Za-z_-]+$/);
      assert.match(data.session_key, /^[0-9a-f]{30,}$/);
      assert.equal(data.tenant_key, DEMO.acme);
      assert.match(data.tenant_key, /^[0-9a-f]{14,16}$/);
      assert.equal(data.employee_id, DEMO.visibleUser);
      assert.equal(data.expires_in, Math.floor(now / 1000) + 6900, "expires_in is a Unix timestamp (s)");
      assert.ok(Number.isInteger(data.expires_in));
      assert.equal(res.headers.get("cache-control"), "no-store");
    });

    it("carries no union_id in data (the user's union_id appears only on user_info)", async () => {
      const res = await t.exchange(await t.mintCode(), demoToken);
      assert.equal(res.body.code, 0);
      assert.equal("union_id" in res.body.data, false);
      assert.ok(!res.text.includes("on_94a1ee5551019f18cd73d9f111898cf2"));
      const info = await userInfo(res.body.data.access_token);
      assert.equal(info.body.data.union_id, "on_94a1ee5551019f18cd73d9f111898cf2");
    });

    it("leaves employee_id out when the app lacks contact:user.employee_id:readonly", async () => {
      const created = await t.request("POST", "/admin/v1/apps", {
        token: ADMIN_TOKEN,
        body: {
          name: "No employee id",
          type: "self_built",
          tenant_key: DEMO.acme,
          scopes: [],
          visibility: "all",
        },
      });
      assert.equal(created.status, 201, created.text);
      const appId = created.body.app_id as string;
      const token = await t.appToken(appId, created.body.app_secret);
      const res = await t.exchange(await t.mintCode(DEMO.visibleUser, appId), token);
      assert.equal(res.body.code, 0, res.text);
      assert.equal("employee_id" in res.body.data, false);
      assert.match(res.body.data.open_id, /^ou_[0-9a-f]{32}$/);

      // Granting the scope later makes it appear on the next login.
      const patched = await t.request("PATCH", `/admin/v1/apps/${appId}`, {
        token: ADMIN_TOKEN,
        body: { scopes: ["contact:user.employee_id:readonly"] },
      });
      assert.equal(patched.status, 200, patched.text);
      const again = await t.exchange(await t.mintCode(DEMO.visibleUser, appId), token);
      assert.equal(again.body.data.employee_id, DEMO.visibleUser);
    });

    it("keeps open_id stable across logins of one user in one app, and different across apps", async () => {
      const first = await t.exchange(await t.mintCode(), demoToken);
      const second = await t.exchange(await t.mintCode(), demoToken);
      assert.equal(first.body.data.open_id, second.body.data.open_id);
      assert.notEqual(first.body.data.access_token, second.body.data.access_token);
      assert.notEqual(first.body.data.session_key, second.body.data.session_key);

      const inStore = await t.exchange(
        await t.mintCode(DEMO.visibleUser, DEMO.storeAppId, DEMO.acme),
        storeToken,
      );
      assert.equal(inStore.body.code, 0, inStore.text);
      assert.notEqual(inStore.body.data.open_id, first.body.data.open_id);

      const otherUser = await t.exchange(await t.mintCode(DEMO.otherVisibleUser), demoToken);
      assert.notEqual(otherUser.body.data.open_id, first.body.data.open_id);
    });

    it("serves a store app installed in two tenants: codes minted per tenant work in each", async () => {
      const acme = await t.exchange(
        await t.mintCode(DEMO.visibleUser, DEMO.storeAppId, DEMO.acme),
        storeToken,
      );
      assert.equal(acme.body.code, 0, acme.text);
      assert.equal(acme.body.data.tenant_key, DEMO.acme);
      assert.equal("employee_id" in acme.body.data, false, "the store app has no employee_id scope");

      const globex = await t.exchange(
        await t.mintCode(DEMO.globexUser, DEMO.storeAppId, DEMO.globex),
        storeToken,
      );
      assert.equal(globex.body.code, 0, globex.text);
      assert.equal(globex.body.data.tenant_key, DEMO.globex);
      assert.notEqual(globex.body.data.open_id, acme.body.data.open_id);

      const info = await userInfo(globex.body.data.access_token);
      assert.equal(info.body.data.tenant_key, DEMO.globex);
      assert.equal(info.body.data.name, "Hank Scorpio");
    });

    it("ignores extra body fields", async () => {
      const code = await t.mintCode();
      const res = await t.request("POST", TLV_PATH, {
        token: demoToken,
        body: { code, app_id: DEMO.storeAppId, user_id: DEMO.invisibleUser, extra: { nested: [1, 2] } },
      });
      assert.equal(res.body.code, 0, res.text);
      assert.equal(res.body.data.employee_id, DEMO.visibleUser);
    });

    it("accepts {__proto__: …} in the body without polluting any prototype", async () => {
      const code = await t.mintCode();
      const res = await t.request("POST", TLV_PATH, {
        token: demoToken,
        raw: `{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"code":"${code}"}`,
        headers: { "content-type": "application/json" },
      });
      assert.equal(res.body.code, 0, res.text);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    });

    it("accepts the documented content type with charset", async () => {
      const res = await t.request("POST", TLV_PATH, {
        token: demoToken,
        raw: JSON.stringify({ code: await t.mintCode() }),
        headers: { "content-type": "application/json; charset=utf-8" },
      });
      assert.equal(res.body.code, 0, res.text);
    });
  });

  describe("10202: the app token", () => {
    const badHeaders = (token: () => string): Array<[string, Record<string, string>]> => [
      ["no Authorization header", {}],
      ["lower-case scheme", { authorization: `bearer ${token()}` }],
      ["two spaces", { authorization: `Bearer  ${token()}` }],
      // (a trailing space is not tested: HTTP strips it from field values, so it never arrives)
      [
        "Basic",
        { authorization: `Basic ${Buffer.from(`${DEMO.appId}:${DEMO.appSecret}`).toString("base64")}` },
      ],
      ["the bare token", { authorization: token() }],
      ["Bearer alone", { authorization: "Bearer" }],
      ["Bearer and a space", { authorization: "Bearer " }],
      ["garbage", { authorization: "garbage ~!@#$%^&*() \u00ff" }],
      ["bearer x", { authorization: "bearer x" }],
      ["unknown well-formed t-", { authorization: `Bearer t-${randomBytes(32).toString("hex")}` }],
      ["a user token", { authorization: `Bearer u-${"A".repeat(43)}` }],
      ["two tokens", { authorization: `Bearer ${token()} ${token()}` }],
    ];

    it("answers 10202 (HTTP 200) for every malformed, missing or unknown Authorization, and consumes nothing", async () => {
      const code = await t.mintCode();
      for (const [label, headers] of badHeaders(() => demoToken)) {
        const res = await t.request("POST", TLV_PATH, {
          raw: JSON.stringify({ code }),
          headers: { "content-type": "application/json", ...headers },
        });
        assertEnvelope(res, 10202);
        assert.equal(res.body.msg, "access token invalid", label);
      }
      const ok = await t.exchange(code, demoToken);
      assert.equal(ok.body.code, 0, "the code survived every rejected attempt");
    });

    it("answers 10202 for printable garbage and a non-ASCII token", async () => {
      for (const authorization of [
        "Bearer t-@@@",
        "Bearer t-zzzz",
        "Token abc",
        "Bearer\tt-abc",
        "Bearer t-é",
      ]) {
        const res = await t.request("POST", TLV_PATH, {
          raw: JSON.stringify({ code: wellFormedUnknownCode() }),
          headers: { "content-type": "application/json", authorization },
        });
        assertEnvelope(res, 10202);
      }
    });

    it("answers 10202 for an expired app token", async () => {
      const local = await startTestServer();
      try {
        const token = await local.appToken();
        local.clock.advance(2 * 3600 * 1000);
        const res = await local.exchange(await local.mintCode(), token);
        assertEnvelope(res, 10202);
      } finally {
        await local.close();
      }
    });

    it("checks the app token first: a bad token with a bad (or missing) code answers 10202", async () => {
      for (const body of [{ code: "nope" }, {}, { code: 42 }, { code: wellFormedUnknownCode() }]) {
        const res = await t.request("POST", TLV_PATH, { token: `t-${"0".repeat(64)}`, body });
        assertEnvelope(res, 10202);
      }
      const malformedJson = await t.request("POST", TLV_PATH, {
        raw: "{not json",
        headers: { "content-type": "application/json" },
      });
      assertEnvelope(malformedJson, 10202);
    });
  });

  describe("10226: the code", () => {
    it("answers 10226 for a missing, non-string, empty, oversized or wrongly spelled code", async () => {
      const bodies: unknown[] = [
        {},
        { code: 12345678 },
        { code: { code: await t.mintCode() } },
        { code: [await t.mintCode()] },
        { code: null },
        { code: true },
        { code: "" },
        { code: "a".repeat(10 * 1024) },
        { code: "Z".repeat(32) },
        { code: "2ef0bb04e272d274" },
        { code: `${(await t.mintCode()).toUpperCase()}` },
        { code: ` ${await t.mintCode()}` },
        { code: "../../etc/passwd" },
        { Code: await t.mintCode() },
        null,
        [],
        "code",
        42,
      ];
      for (const body of bodies) {
        const res = await t.request("POST", TLV_PATH, { token: demoToken, body });
        assertEnvelope(res, 10226);
        assert.equal(res.body.msg, "invalid code");
      }
    });

    it("answers 10226 for an unknown well-formed code", async () => {
      const res = await t.exchange(wellFormedUnknownCode(), demoToken);
      assertEnvelope(res, 10226);
    });

    it("answers 10226 for a bad code even when the user would be invisible (the code is checked first)", async () => {
      // A code is what names the user: without a valid one there is no visibility to judge.
      const invisible = await t.mintCode(DEMO.invisibleUser);
      const res = await t.request("POST", TLV_PATH, { token: demoToken, body: { code: `${invisible}0` } });
      assertEnvelope(res, 10226);
      const owner = await t.exchange(invisible, demoToken);
      assertEnvelope(owner, 10228);
    });

    it("expires a code 180 s after issue: +179 s succeeds, +181 s answers 10226", async () => {
      const early = await t.mintCode();
      const late = await t.mintCode();
      t.clock.advance(179_000);
      const ok = await t.exchange(early, demoToken);
      assert.equal(ok.body.code, 0, ok.text);
      t.clock.advance(2_000);
      const expired = await t.exchange(late, demoToken);
      assertEnvelope(expired, 10226);
      // An expired code of another app is also just invalid.
      const foreignLate = await t.mintCode(DEMO.visibleUser, DEMO.storeAppId, DEMO.acme);
      t.clock.advance(181_000);
      assertEnvelope(await t.exchange(foreignLate, demoToken), 10226);
      // app tokens live 2 h: nothing above is a token problem
      assert.equal((await t.exchange(await t.mintCode(), demoToken)).body.code, 0);
    });
  });

  describe("10213: ownership and reuse", () => {
    it("answers 10213 for another app's code, and the owner can still redeem it", async () => {
      const code = await t.mintCode();
      for (let i = 0; i < 3; i++) assertEnvelope(await t.exchange(code, storeToken), 10213);
      const owner = await t.exchange(code, demoToken);
      assert.equal(owner.body.code, 0, owner.text);
      assert.equal(owner.body.data.employee_id, DEMO.visibleUser);
    });

    it("checks ownership before visibility: another app's code for an invisible user is 10213 and stays the owner's", async () => {
      // Wang Wu is outside the demo app's visibility but visible to the store app.
      const code = await t.mintCode(DEMO.invisibleUser, DEMO.storeAppId, DEMO.acme);
      assertEnvelope(await t.exchange(code, demoToken), 10213);
      const owner = await t.exchange(code, storeToken);
      assert.equal(owner.body.code, 0, owner.text);
      // And the reverse: the demo app's code for Wang Wu, presented by the store app.
      const own = await t.mintCode(DEMO.invisibleUser);
      assertEnvelope(await t.exchange(own, storeToken), 10213);
      assertEnvelope(await t.exchange(own, demoToken), 10228);
    });

    it("answers 10213 on reuse, revokes the first redemption's tokens, and every later replay is 10213", async () => {
      const code = await t.mintCode();
      const first = await t.exchange(code, demoToken);
      assert.equal(first.body.code, 0);
      const { access_token: access, refresh_token: refreshToken } = first.body.data;
      assert.equal((await userInfo(access)).body.code, 0, "live before the replay");

      assertEnvelope(await t.exchange(code, demoToken), 10213);

      const info = await userInfo(access);
      assertEnvelope(info, 99991668, 400);
      assertEnvelope(await refresh(refreshToken), 20038);

      assertEnvelope(await t.exchange(code, demoToken), 10213);
      assertEnvelope(await t.exchange(code, demoToken), 10213);
      // Another app replaying it is 10213 too, and harms nothing more.
      assertEnvelope(await t.exchange(code, storeToken), 10213);
    });

    it("a replay after the first redemption's tokens were refreshed revokes the rotated tokens too", async () => {
      const code = await t.mintCode();
      const first = await t.exchange(code, demoToken);
      const rotated = await refresh(first.body.data.refresh_token);
      assert.equal(rotated.body.code, 0, rotated.text);
      assertEnvelope(await t.exchange(code, demoToken), 10213);
      assertEnvelope(await userInfo(rotated.body.data.access_token), 99991668, 400);
      assertEnvelope(await refresh(rotated.body.data.refresh_token), 20038);
    });

    it("a replayed code stays 10213 until it expires, then is 10226 like any unknown code", async () => {
      const code = await t.mintCode();
      assert.equal((await t.exchange(code, demoToken)).body.code, 0);
      t.clock.advance(170_000);
      assertEnvelope(await t.exchange(code, demoToken), 10213);
      t.clock.advance(11_000);
      assertEnvelope(await t.exchange(code, demoToken), 10226);
    });
  });

  describe("10228: visibility", () => {
    it("answers 10228 for Wang Wu (outside the app's visibility) and consumes the code", async () => {
      const code = await t.mintCode(DEMO.invisibleUser);
      const res = await t.exchange(code, demoToken);
      assertEnvelope(res, 10228);
      assert.equal(res.body.msg, "user to app has no visibility");
      assertEnvelope(await t.exchange(code, demoToken), 10213);
    });

    it("answers 10228 for a deactivated user, consumes the code, and admits the user again when reactivated", async () => {
      const created = await t.request("POST", "/admin/v1/users", {
        token: ADMIN_TOKEN,
        body: { tenant_key: DEMO.acme, name: "Temp", department_ids: ["od-engineering"] },
      });
      assert.equal(created.status, 201, created.text);
      const userId = created.body.user_id as string;
      assert.equal((await t.exchange(await t.mintCode(userId), demoToken)).body.code, 0);

      const code = await t.mintCode(userId);
      const patched = await t.request("PATCH", `/admin/v1/users/${DEMO.acme}/${userId}`, {
        token: ADMIN_TOKEN,
        body: { status: "deactivated" },
      });
      assert.equal(patched.status, 200, patched.text);
      assert.equal(patched.body.status, "deactivated");
      assertEnvelope(await t.exchange(code, demoToken), 10228);
      assertEnvelope(await t.exchange(code, demoToken), 10213);

      await t.request("PATCH", `/admin/v1/users/${DEMO.acme}/${userId}`, {
        token: ADMIN_TOKEN,
        body: { status: "active" },
      });
      assert.equal((await t.exchange(await t.mintCode(userId), demoToken)).body.code, 0);
    });

    it("follows visibility changes: listing a user by id admits them", async () => {
      const code = await t.mintCode(DEMO.invisibleUser, DEMO.storeAppId, DEMO.acme);
      const put = await t.request("PUT", `/admin/v1/apps/${DEMO.storeAppId}/installations/${DEMO.acme}`, {
        token: ADMIN_TOKEN,
        body: { visibility: { users: [DEMO.visibleUser] } },
      });
      assert.equal(put.status, 200, put.text);
      assertEnvelope(await t.exchange(code, storeToken), 10228);
      assert.equal(
        (await t.exchange(await t.mintCode(DEMO.visibleUser, DEMO.storeAppId, DEMO.acme), storeToken)).body
          .code,
        0,
      );
      await t.request("PUT", `/admin/v1/apps/${DEMO.storeAppId}/installations/${DEMO.acme}`, {
        token: ADMIN_TOKEN,
        body: { visibility: "all" },
      });
      assert.equal(
        (await t.exchange(await t.mintCode(DEMO.invisibleUser, DEMO.storeAppId, DEMO.acme), storeToken)).body
          .code,
        0,
      );
    });
  });
});

describe("tokenLoginValidate with revokeGrantOnCodeReuse: false", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ config: { revokeGrantOnCodeReuse: false } });
  });
  after(() => t.close());

  it("answers 10213 on reuse but leaves the first redemption's tokens alive", async () => {
    const token = await t.appToken();
    const code = await t.mintCode();
    const first = await t.exchange(code, token);
    assert.equal(first.body.code, 0);
    assertEnvelope(await t.exchange(code, token), 10213);
    assertEnvelope(await t.exchange(code, token), 10213);
    const info = await t.request("GET", USER_INFO_PATH, { token: first.body.data.access_token });
    assert.equal(info.body.code, 0, info.text);
    const refreshed = await t.request("POST", REFRESH_PATH, {
      token,
      body: { grant_type: "refresh_token", refresh_token: first.body.data.refresh_token },
    });
    assert.equal(refreshed.body.code, 0, refreshed.text);
  });
});
