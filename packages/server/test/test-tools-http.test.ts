import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Paths } from "@mina-auth/protocol";
import { ADMIN_TOKEN, assertEnvelope, DEMO, startTestServer, type TestServer, until } from "./harness.ts";

/** Fault rules, the clock and the journal through the admin API, against a real server. */
describe("test tools over HTTP", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ config: { journalSize: 200 } });
  });
  after(() => t.close());

  const admin = (method: string, path: string, body?: unknown) =>
    t.request(method, `/admin/v1${path}`, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });
  const addFault = async (rule: object) => {
    const res = await admin("POST", "/faults", rule);
    assert.equal(res.status, 201, res.text);
    return res.body as { id: string };
  };
  const journal = async (query = "") => {
    const res = await admin("GET", `/journal${query}`);
    assert.equal(res.status, 200, res.text);
    return res.body as { entries: Array<Record<string, unknown>>; last_seq: number };
  };
  const mark = async () => (await journal()).last_seq;
  /** A raw platform request that must fail at the transport (the connection closed, no answer). */
  const lostReply = async (path: string, body: object, token?: string) => {
    await assert.rejects(
      fetch(`${t.url}${path}`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify(body),
      }),
      TypeError,
    );
  };
  const login = async () => {
    const appToken = await t.appToken();
    const res = await t.exchange(await t.mintCode(), appToken);
    assert.equal(res.body.code, 0, res.text);
    return { appToken, data: res.body.data as { refresh_token: string; access_token: string } };
  };

  it("answer: a platform code with the platform's msg and status, or the status chosen", async () => {
    const appToken = await t.appToken();
    await addFault({
      match: { path: Paths.tokenLoginValidate },
      effect: { type: "answer", code: 99991663 },
      times: 1,
    });
    const first = await t.exchange(await t.mintCode(), appToken);
    assert.equal(first.status, 400);
    assert.deepEqual(first.body, {
      code: 99991663,
      msg: "Invalid access token for authorization. Please make a request with token attached.",
    });
    await addFault({
      match: { path: Paths.tokenLoginValidate },
      effect: { type: "answer", code: 99991663, http_status: 200 },
      times: 1,
    });
    const second = await t.exchange(await t.mintCode(), appToken);
    assert.equal(second.status, 200);
    assert.equal(second.body.code, 99991663);
    // times: 1 each: both rules are used up, the next exchange is real.
    assert.equal((await t.exchange(await t.mintCode(), appToken)).body.code, 0);
    assert.deepEqual((await admin("GET", "/faults")).body, { faults: [] });
  });

  it("answer: a registry code defaults to its entry (1500, HTTP 200); an unknown code needs a msg", async () => {
    const rule = await addFault({
      match: { path: Paths.appAccessToken },
      effect: { type: "answer", code: 1500 },
    });
    const res = await t.request("POST", Paths.appAccessToken, {
      body: { app_id: DEMO.appId, app_secret: DEMO.appSecret },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { code: 1500, msg: "internal error, please retry" });
    assert.equal((await admin("DELETE", `/faults/${rule.id}`)).status, 200);
    const unknown = await admin("POST", "/faults", {
      match: { path: Paths.appAccessToken },
      effect: { type: "answer", code: 4242 },
    });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.code, 9400);
    assert.match(unknown.body.msg, /effect\.msg/);
  });

  it("rejects a rule for an unknown path, with times and probability both, or an unknown effect", async () => {
    for (const body of [
      { match: { path: "/open-apis/nope" }, effect: { type: "drop" } },
      { match: { path: Paths.userInfo }, effect: { type: "drop" }, times: 1, probability: 0.5 },
      { match: { path: Paths.userInfo }, effect: { type: "explode" } },
      { match: { path: Paths.userInfo }, effect: { type: "latency", min_ms: 9, max_ms: 1 } },
      { match: { path: Paths.userInfo }, effect: { type: "drop" }, probability: 0 },
    ]) {
      const res = await admin("POST", "/faults", body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.code, 9400);
    }
    assert.equal((await admin("DELETE", "/faults/fault_none")).status, 404);
    assert.equal((await t.request("GET", "/admin/v1/faults")).status, 401);
  });

  it("match.app_id: a rule for another app leaves this app's requests alone", async () => {
    await addFault({ match: { path: Paths.appAccessToken, app_id: "cli_other" }, effect: { type: "drop" } });
    assert.ok((await t.appToken()).length > 0);
    assert.equal((await admin("DELETE", "/faults")).body.cleared, 1);
  });

  it("match.user_id and match.tenant_key: user_info and refresh by the token's user, the rest by the caller's tenant", async () => {
    const appToken = await t.appToken();
    const loginAs = async (userId: string) => {
      const res = await t.exchange(await t.mintCode(userId), appToken);
      assert.equal(res.body.code, 0, res.text);
      return res.body.data as { access_token: string; refresh_token: string };
    };
    const zhang = await loginAs(DEMO.visibleUser);
    const li = await loginAs(DEMO.otherVisibleUser);
    const userInfo = (token: string) => t.request("GET", Paths.userInfo, { token });
    const refresh = (refreshToken: string) =>
      t.request("POST", Paths.oidcRefreshAccessToken, {
        token: appToken,
        body: { grant_type: "refresh_token", refresh_token: refreshToken },
      });
    const answer1500 = { type: "answer", code: 1500 };

    await addFault({ match: { path: Paths.userInfo, user_id: DEMO.visibleUser }, effect: answer1500 });
    await addFault({
      match: { path: Paths.oidcRefreshAccessToken, user_id: DEMO.otherVisibleUser, tenant_key: DEMO.acme },
      effect: answer1500,
    });
    assert.equal((await userInfo(zhang.access_token)).body.code, 1500);
    assert.equal((await userInfo(li.access_token)).body.code, 0);
    assert.equal((await refresh(zhang.refresh_token)).body.code, 0);
    assert.equal((await refresh(li.refresh_token)).body.code, 1500);
    // An unknown token has no user: a user_id rule leaves it to the real answer (99991668).
    assert.equal((await userInfo(`u-${"A".repeat(51)}`)).body.code, 99991668);
    await admin("DELETE", "/faults");

    // tokenLoginValidate knows the caller's tenant (its app token), not yet the user.
    await addFault({
      match: { path: Paths.tokenLoginValidate, tenant_key: DEMO.globex },
      effect: answer1500,
    });
    assert.equal((await t.exchange(await t.mintCode(), appToken)).body.code, 0);
    await addFault({ match: { path: Paths.tokenLoginValidate, tenant_key: DEMO.acme }, effect: answer1500 });
    assert.equal((await t.exchange(await t.mintCode(), appToken)).body.code, 1500);
    await admin("DELETE", "/faults");
  });

  it("latency: the real answer, at least that much later (fixed and range)", async () => {
    const since = await mark();
    await addFault({ match: { path: Paths.appAccessToken }, effect: { type: "latency", ms: 120 }, times: 1 });
    await addFault({
      match: { path: Paths.appAccessToken },
      effect: { type: "latency", min_ms: 50, max_ms: 60 },
      times: 1,
    });
    await t.appToken();
    await t.appToken();
    const entries = (await journal(`?since=${since}&fault=any`)).entries;
    assert.equal(entries.length, 2);
    // setTimeout may fire up to a millisecond early: the journal rounds to 0.1 ms.
    assert.ok((entries[0]!.ms as number) >= 119, String(entries[0]!.ms));
    assert.ok((entries[1]!.ms as number) >= 49, String(entries[1]!.ms));
    assert.equal(entries[0]!.code, 0);
  });

  it("drop: the connection closes before anything is done", async () => {
    const since = await mark();
    const { appToken } = await login();
    const code = await t.mintCode();
    await addFault({ match: { path: Paths.tokenLoginValidate }, effect: { type: "drop" }, times: 1 });
    await lostReply(Paths.tokenLoginValidate, { code }, appToken);
    // Nothing was done: the same code still works.
    assert.equal((await t.exchange(code, appToken)).body.code, 0);
    const dropped = (await journal(`?since=${since}&fault=any`)).entries;
    assert.equal(dropped.length, 1);
    assert.equal(dropped[0]!.status, null);
    assert.equal(dropped[0]!.code, null);
  });

  it("commit_then_drop on tokenLoginValidate: the retry meets a used code (and the first grant is revoked)", async () => {
    const appToken = await t.appToken();
    const code = await t.mintCode();
    await addFault({
      match: { path: Paths.tokenLoginValidate },
      effect: { type: "commit_then_drop" },
      times: 1,
    });
    await lostReply(Paths.tokenLoginValidate, { code }, appToken);
    const retry = await t.exchange(code, appToken);
    assert.equal(retry.body.code, 10213); // "already used", as the platform answers a replay
    const sessions = await admin("GET", `/sessions?user_id=${DEMO.visibleUser}&active=false`);
    assert.ok(sessions.body.sessions.some((s: { revoke_reason: string | null }) => s.revoke_reason !== null));
  });

  it("commit_then_drop on refresh: the retry meets a spent refresh token", async () => {
    const { appToken, data } = await login();
    await addFault({
      match: { path: Paths.refreshAccessToken },
      effect: { type: "commit_then_drop" },
      times: 1,
    });
    const body = { grant_type: "refresh_token", refresh_token: data.refresh_token };
    await lostReply(Paths.refreshAccessToken, body, appToken);
    const retry = await t.request("POST", Paths.refreshAccessToken, { token: appToken, body });
    assert.equal(retry.body.code, 20038, retry.text);
  });

  it("timeout: no answer until the caller gives up; a stop does not wait for it", async () => {
    await addFault({ match: { path: Paths.appAccessToken }, effect: { type: "timeout" }, times: 2 });
    const gaveUp = new AbortController();
    const pending = fetch(`${t.url}${Paths.appAccessToken}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ app_id: DEMO.appId, app_secret: DEMO.appSecret }),
      signal: gaveUp.signal,
    });
    await until(
      async () => (await t.server.app.testTools.faults.list())[0]?.applied === 1,
      "the fault applied",
    );
    gaveUp.abort();
    await assert.rejects(pending, { name: "AbortError" });
    // The second one is still hanging when a separate server stops: it closes all the same.
    const other = await startTestServer();
    try {
      await other.server.app.testTools.faults.add({
        match: { path: Paths.appAccessToken },
        effect: { type: "timeout" },
      });
      const hanging = fetch(`${other.url}${Paths.appAccessToken}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ app_id: DEMO.appId, app_secret: DEMO.appSecret }),
      });
      hanging.catch(() => {});
      await until(
        async () => (await other.server.app.testTools.faults.list())[0]?.applied === 1,
        "the fault applied",
      );
    } finally {
      await other.close();
    }
    await admin("DELETE", "/faults");
  });

  it("expires_at and probability: a rule past its time is gone; probability 1 always applies", async () => {
    const nowSeconds = Math.floor(t.clock.now() / 1000);
    await addFault({
      match: { path: Paths.appAccessToken },
      effect: { type: "answer", code: 1500 },
      probability: 1,
      expires_at: nowSeconds + 60,
    });
    const res = await t.request("POST", Paths.appAccessToken, {
      body: { app_id: DEMO.appId, app_secret: DEMO.appSecret },
    });
    assert.equal(res.body.code, 1500);
    assert.equal((await admin("POST", "/clock", { advance_ms: 61_000 })).status, 200);
    assert.ok((await t.appToken()).length > 0);
    assert.deepEqual((await admin("GET", "/faults")).body.faults, []);
  });

  /** Logs in, and finds the new session's id: the one listed after the login and not before. */
  const loginWithSession = async () => {
    const ids = async () =>
      new Set(
        (
          (await admin("GET", `/sessions?app_id=${DEMO.appId}&limit=1000`)).body.sessions as Array<{
            session_id: string;
          }>
        ).map((x) => x.session_id),
      );
    const before = await ids();
    const session = await login();
    const added = [...(await ids())].filter((id) => !before.has(id));
    assert.equal(added.length, 1);
    return { ...session, sessionId: added[0]! };
  };

  it("expire now: a session's access token answers 99991668 next, its refresh still works; 404 after", async () => {
    const { appToken, data, sessionId } = await loginWithSession();
    const userInfo = (token: string) => t.request("GET", Paths.userInfo, { token });
    assert.equal((await userInfo(data.access_token)).body.code, 0);
    const res = await admin("POST", `/sessions/${sessionId}/expire-access-token`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { session_id: sessionId, expired_at: t.clock.now() });
    assertEnvelope(await userInfo(data.access_token), 99991668, 400);
    const again = await admin("POST", `/sessions/${sessionId}/expire-access-token`);
    assert.equal(again.status, 404);
    assert.equal(again.body.code, 9404);
    const refreshed = await t.request("POST", Paths.oidcRefreshAccessToken, {
      token: appToken,
      body: { grant_type: "refresh_token", refresh_token: data.refresh_token },
    });
    assert.equal(refreshed.body.code, 0, refreshed.text);
    assert.equal((await userInfo(refreshed.body.data.access_token)).body.code, 0);
    assert.equal((await admin("POST", "/sessions/g_nope/expire-access-token")).status, 404);
  });

  it("expire now: an app's tokens answer 10202 and 20014 next; a new one is issued; kind narrows", async () => {
    const { appToken, data } = await login();
    const expired = await admin("POST", `/apps/${DEMO.appId}/expire-tokens`, {});
    assert.equal(expired.status, 200, expired.text);
    assert.equal(expired.body.app_id, DEMO.appId);
    assert.ok(expired.body.expired >= 1);
    assertEnvelope(await t.exchange(await t.mintCode(), appToken), 10202);
    const refresh = await t.request("POST", Paths.refreshAccessToken, {
      token: appToken,
      body: { grant_type: "refresh_token", refresh_token: data.refresh_token },
    });
    assert.equal(refresh.body.code, 20014);
    const fresh = await t.appToken();
    assert.notEqual(fresh, appToken);
    assert.equal((await t.exchange(await t.mintCode(), fresh)).body.code, 0);
    // kind: tenant ends the tenant token that app_access_token/internal issued beside the fresh
    // app token (as its page documents), and leaves the app token alone.
    assert.deepEqual((await admin("POST", `/apps/${DEMO.appId}/expire-tokens`, { kind: "tenant" })).body, {
      app_id: DEMO.appId,
      expired: 1,
    });
    assert.equal((await t.exchange(await t.mintCode(), fresh)).body.code, 0);
    assert.equal((await admin("POST", "/apps/cli_0000000000000000/expire-tokens", {})).status, 404);
    assert.equal((await admin("POST", `/apps/${DEMO.appId}/expire-tokens`, { kind: "user" })).status, 400);
  });

  it("clock: GET tells, POST moves it, and a code expires by it", async () => {
    const before = await admin("GET", "/clock");
    assert.equal(before.body.manual, true);
    const appToken = await t.appToken();
    const code = await t.mintCode();
    const moved = await admin("POST", "/clock", { advance_ms: 181_000 });
    assert.equal(moved.body.now_ms, before.body.now_ms + 181_000);
    assert.equal(moved.body.now, new Date(moved.body.now_ms).toISOString());
    assert.equal((await t.exchange(code, appToken)).body.code, 10226);
    const set = await admin("POST", "/clock", { set: before.body.now_ms + 200_000 });
    assert.equal(set.body.now_ms, before.body.now_ms + 200_000);
    assert.equal((await admin("POST", "/clock", { advance_ms: -1 })).status, 400);
    assert.equal((await admin("POST", "/clock", { advance_ms: 1, set: 1 })).status, 400);
  });

  it("journal: secrets redacted to fingerprints, filters by route, code, since and limit", async () => {
    const since = await mark();
    const { appToken, data } = await login();
    const entries = (await journal(`?since=${since}`)).entries;
    const text = JSON.stringify(entries);
    for (const secret of [DEMO.appSecret, appToken, data.access_token, data.refresh_token]) {
      assert.ok(!text.includes(secret), "a secret in the journal");
    }
    const exchange = (await journal(`?since=${since}&route=${Paths.tokenLoginValidate}`)).entries;
    assert.equal(exchange.length, 1);
    const entry = exchange[0] as {
      app_id: string;
      status: number;
      code: number;
      request: { headers: Record<string, string>; body: { code: string } };
      response: { data: { open_id: string; access_token: string } };
    };
    assert.equal(entry.app_id, DEMO.appId);
    assert.equal(entry.status, 200);
    assert.equal(entry.code, 0);
    assert.match(entry.request.headers.authorization!, /^Bearer \[redacted:[0-9a-f]{8}\]$/);
    assert.match(entry.request.body.code, /^\[redacted:[0-9a-f]{8}\]$/);
    assert.match(entry.response.data.open_id, /^ou_/);
    assert.match(entry.response.data.access_token, /^\[redacted:/);
    assert.equal((await journal(`?since=${since}&limit=1`)).entries.length, 1);
    assert.equal((await journal(`?since=${since}&code=10226`)).entries.length, 0);
    assert.equal((await admin("GET", "/journal?limit=x")).status, 400);
    const none = await admin("GET", "/journal?limit=0");
    assert.equal(none.status, 400, "limit=0 once meant everything");
    assert.equal(none.body.code, 9400);
    assert.match(none.body.msg, /limit/);
  });

  it("journal: a body nested past any bound is answered and journalled, its body as a note", async () => {
    const since = await mark();
    const appToken = await t.appToken();
    const deep = `{"code":"x","extra":${"[".repeat(30_000)}${"]".repeat(30_000)}}`;
    const res = await fetch(`${t.url}${Paths.tokenLoginValidate}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${appToken}` },
      body: deep,
    });
    const answer = (await res.json()) as { code: number };
    assert.notEqual(answer.code, 0);
    const entries = (await journal(`?since=${since}&route=${Paths.tokenLoginValidate}`)).entries;
    assert.equal(entries.length, 1);
    assert.equal(entries[0]!.code, answer.code);
    assert.deepEqual((entries[0]!.request as { body: unknown }).body, {
      truncated: true,
      reason: "too deep or too many values",
    });
  });
});

describe("test tools off", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ clock: undefined });
  });
  after(() => t.close());

  it("journal off by default: 409, code 9412, that says how to turn it on", async () => {
    const res = await t.request("GET", "/admin/v1/journal", { token: ADMIN_TOKEN });
    assert.equal(res.status, 409);
    assert.equal(res.body.code, 9412);
    assert.match(res.body.msg, /--journal/);
  });

  it("the system clock cannot be moved: 409, code 9412 (not 9409 'already exists')", async () => {
    const { startServer } = await import("../src/server.ts");
    const { defaultConfig } = await import("../src/config.ts");
    const server = await startServer({
      config: {
        ...defaultConfig,
        port: 0,
        db: "sqlite::memory:",
        adminToken: ADMIN_TOKEN,
        logLevel: "silent",
      },
    });
    try {
      const headers = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
      const get = await fetch(`${server.url}/admin/v1/clock`, { headers });
      assert.equal(((await get.json()) as { manual: boolean }).manual, false);
      const post = await fetch(`${server.url}/admin/v1/clock`, {
        method: "POST",
        headers,
        body: JSON.stringify({ advance_ms: 1000 }),
      });
      assert.equal(post.status, 409);
      const envelope = (await post.json()) as { code: number; msg: string };
      assert.equal(envelope.code, 9412);
      assert.match(envelope.msg, /^not enabled on this server: .*--clock manual/);
    } finally {
      await server.close();
    }
  });

  it("the admin routes are in /openapi.json", async () => {
    const doc = (await t.request("GET", "/openapi.json")).body;
    for (const path of [
      "/admin/v1/faults",
      "/admin/v1/faults/{fault_id}",
      "/admin/v1/clock",
      "/admin/v1/journal",
      "/admin/v1/sessions/{session_id}/expire-access-token",
      "/admin/v1/apps/{app_id}/expire-tokens",
    ]) {
      assert.ok(doc.paths[path], path);
    }
  });
});
