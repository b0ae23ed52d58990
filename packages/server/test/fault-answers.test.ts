/**
 * A fault rule's `answer` is sent as the endpoint it hits sends a real failure: the v2 token
 * endpoint's `{code, error, error_description}` with its status, the platform's `{code, msg}`
 * elsewhere; a code means what it means at that endpoint (review finding 3).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Errors, Paths } from "@mina-auth/protocol";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestResponse, type TestServer } from "./harness.ts";

describe("fault answers take the shape of the endpoint they hit", () => {
  let t: TestServer;
  let appToken: string;
  before(async () => {
    t = await startTestServer();
    appToken = await t.appToken();
  });
  after(() => t.close());

  const addFault = (path: string, effect: object) =>
    t.request("POST", "/admin/v1/faults", {
      token: ADMIN_TOKEN,
      body: { match: { path }, effect: { type: "answer", ...effect }, times: 1 },
    });
  const added = async (path: string, effect: object) => {
    const res = await addFault(path, effect);
    assert.equal(res.status, 201, res.text);
    return res.body.effect as { code: number; msg: string; http_status: number };
  };
  // A well-formed request: a fault applies once the body passed the endpoint's rules.
  const v2 = () =>
    t.request("POST", Paths.oauthToken, {
      body: {
        grant_type: "authorization_code",
        client_id: DEMO.appId,
        client_secret: DEMO.appSecret,
        code: "x",
      },
    });
  const validate = async () => t.exchange(await t.mintCode(), appToken);
  const refresh = async () => {
    const login = await validate();
    assert.equal(login.body.code, 0, login.text);
    return t.request("POST", Paths.refreshAccessToken, {
      token: appToken,
      body: { grant_type: "refresh_token", refresh_token: login.body.data.refresh_token },
    });
  };
  const assertOAuth = (res: TestResponse, status: number, body: object) => {
    assert.equal(res.status, status, res.text);
    assert.deepEqual(res.body, body);
  };

  it("20050 at v2: HTTP 500 server_error, its v2 description; at tokenLoginValidate: {code, msg}", async () => {
    assert.deepEqual(await added(Paths.oauthToken, { code: 20050 }), {
      type: "answer",
      code: 20050,
      msg: Errors.OAuthServerError.msg,
      http_status: 500,
    });
    assertOAuth(await v2(), 500, {
      code: 20050,
      error: "server_error",
      error_description: Errors.OAuthServerError.msg,
    });
    // authen/v1's 20050 is another failure ("System error", HTTP 200): the endpoint decides.
    await added(Paths.tokenLoginValidate, { code: 20050 });
    const res = await validate();
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { code: 20050, msg: Errors.AuthenSystemError.msg });
  });

  it("the v2 codes: 20065 400 invalid_grant, 20072 503, 20001 400 invalid_request, 9502 400 invalid_grant", async () => {
    for (const [definition, status, error] of [
      [Errors.OAuthCodeUsed, 400, "invalid_grant"],
      [Errors.OAuthTemporarilyUnavailable, 503, "temporarily_unavailable"],
      [Errors.OAuthInvalidRequest, 400, "invalid_request"],
      [Errors.OutcomeUnknown, 400, "invalid_grant"],
    ] as const) {
      await added(Paths.oauthToken, { code: definition.code });
      assertOAuth(await v2(), status, { code: definition.code, error, error_description: definition.msg });
    }
  });

  it("20001 on authen/v1 refresh is its own 200 failure, not v2's 400", async () => {
    await added(Paths.refreshAccessToken, { code: 20001 });
    const res = await refresh();
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { code: 20001, msg: Errors.RefreshBadRequest.msg });
  });

  it("a rule's own msg and http_status are sent at both", async () => {
    const effect = { code: 20050, msg: "injected", http_status: 502 };
    await added(Paths.oauthToken, effect);
    assertOAuth(await v2(), 502, { code: 20050, error: "server_error", error_description: "injected" });
    await added(Paths.tokenLoginValidate, effect);
    const res = await validate();
    assert.equal(res.status, 502);
    assert.deepEqual(res.body, { code: 20050, msg: "injected" });
  });

  it("a failure v2 renames (9500 a bug, 1500 storage) is sent as v2 sends it: 20050, 20072", async () => {
    for (const [code, sent, status, error] of [
      [9500, Errors.OAuthServerError, 500, "server_error"],
      [1500, Errors.OAuthTemporarilyUnavailable, 503, "temporarily_unavailable"],
    ] as const) {
      const effect = await added(Paths.oauthToken, { code });
      assert.deepEqual(effect, { type: "answer", code: sent.code, msg: sent.msg, http_status: status });
      assertOAuth(await v2(), status, { code: sent.code, error, error_description: sent.msg });
    }
    // 1500 is the platform's auth/v3 code, sent as itself there.
    assert.equal((await added(Paths.appAccessToken, { code: 1500 })).code, 1500);
    await t.request("DELETE", "/admin/v1/faults", { token: ADMIN_TOKEN });
  });

  it("a code nobody knows needs a msg; at v2 it is sent with HTTP 400 invalid_request", async () => {
    const unknown = await addFault(Paths.oauthToken, { code: 123456 });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.code, Errors.AdminInvalidRequest.code);
    assert.match(unknown.body.msg, /which mina-auth does not know/);
    await added(Paths.oauthToken, { code: 123456, msg: "made up" });
    assertOAuth(await v2(), 400, { code: 123456, error: "invalid_request", error_description: "made up" });
  });

  it("a code another endpoint fails with HTTP 200 (10213) is sent at v2 with 400, never 200", async () => {
    const effect = await added(Paths.oauthToken, { code: Errors.CodeAppIdNotMatch.code });
    assert.equal(effect.http_status, 400);
    const res = await v2();
    assert.equal(res.status, 400);
    assert.equal(res.body.code, Errors.CodeAppIdNotMatch.code);
    assert.equal(res.body.error, "invalid_request");
    await t.request("DELETE", "/admin/v1/faults", { token: ADMIN_TOKEN });
  });

  it("gateway codes keep the platform's form at v2 too: 99991663 HTTP 400", async () => {
    await added(Paths.oauthToken, { code: 99991663 });
    const res = await v2();
    assert.equal(res.status, 400);
    assert.equal(res.body.code, 99991663);
    assert.equal(res.body.error, "invalid_request");
  });
});
