import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { Paths } from "@mina-auth/protocol";
import { type Emulator, startEmulator } from "../src/testing.ts";
import { until } from "./harness.ts";

/** Each fault effect, the clock and the journal through the emulator's typed API. */
describe("emulator test tools", () => {
  let emu: Emulator;
  before(async () => {
    emu = await startEmulator({ clock: "manual" });
  });
  after(() => emu.close());
  beforeEach(async () => {
    await emu.faults.clear();
  });

  const post = (path: string, body: object, token?: string, signal?: AbortSignal) =>
    fetch(`${emu.baseUrl}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
  const appToken = async () => {
    const res = await post(Paths.appAccessToken, { app_id: emu.app.appId, app_secret: emu.app.appSecret });
    return ((await res.json()) as { app_access_token: string }).app_access_token;
  };
  const exchange = async (code: string, token: string) =>
    (await (await post(Paths.tokenLoginValidate, { code }, token)).json()) as {
      code: number;
      data: { access_token: string; refresh_token: string };
    };
  const userId = () => emu.users[0]!.userId;
  const userInfo = async (accessToken: string) =>
    (
      (await (
        await fetch(`${emu.baseUrl}${Paths.userInfo}`, {
          headers: { authorization: `Bearer ${accessToken}` },
        })
      ).json()) as { code: number }
    ).code;
  const seq = () => emu.journal().at(-1)?.seq ?? 0;

  it("answer: the platform's envelope and status", async () => {
    const rule = await emu.faults.add({
      match: { path: Paths.appAccessToken, app_id: emu.app.appId },
      effect: { type: "answer", code: 99991664 },
      times: 1,
    });
    assert.deepEqual(rule.effect, {
      type: "answer",
      code: 99991664,
      msg: "invalid app token",
      http_status: 400,
    });
    const res = await post(Paths.appAccessToken, { app_id: emu.app.appId, app_secret: emu.app.appSecret });
    assert.equal(res.status, 400);
    assert.deepEqual(await res.json(), { code: 99991664, msg: "invalid app token" });
    assert.deepEqual(await emu.faults.list(), []);
  });

  it("latency: the answer comes, at least that much later", async () => {
    const since = seq();
    await emu.faults.add({
      match: { path: Paths.appAccessToken },
      effect: { type: "latency", ms: 80 },
      times: 1,
    });
    assert.ok((await appToken()).startsWith("t-"));
    const [entry] = emu.journal({ since, fault: "any" });
    assert.ok(entry!.ms >= 79, String(entry!.ms));
  });

  it("drop: no answer, nothing done", async () => {
    const token = await appToken();
    const code = await emu.mintCode({ userId: userId() });
    await emu.faults.add({ match: { path: Paths.tokenLoginValidate }, effect: { type: "drop" }, times: 1 });
    await assert.rejects(post(Paths.tokenLoginValidate, { code }, token), TypeError);
    assert.equal((await exchange(code, token)).code, 0);
  });

  it("timeout: no answer until the caller gives up", async () => {
    const rule = await emu.faults.add({
      match: { path: Paths.appAccessToken },
      effect: { type: "timeout" },
      times: 1,
    });
    const gaveUp = new AbortController();
    const pending = post(
      Paths.appAccessToken,
      { app_id: emu.app.appId, app_secret: "x" },
      undefined,
      gaveUp.signal,
    );
    // The rule is gone once used: then the request hangs on the server.
    await until(async () => (await emu.faults.list()).length === 0, "the fault applied");
    gaveUp.abort();
    await assert.rejects(pending, { name: "AbortError" });
    const [entry] = emu.journal({ fault: rule.id });
    assert.equal(entry!.status, null);
  });

  it("commit_then_drop on refresh: the retry meets a spent refresh token (20038)", async () => {
    const token = await appToken();
    const session = await exchange(await emu.mintCode({ userId: userId() }), token);
    await emu.faults.add({
      match: { path: Paths.oidcRefreshAccessToken },
      effect: { type: "commit_then_drop" },
      times: 1,
    });
    const body = { grant_type: "refresh_token", refresh_token: session.data.refresh_token };
    await assert.rejects(post(Paths.oidcRefreshAccessToken, body, token), TypeError);
    const retry = (await (await post(Paths.oidcRefreshAccessToken, body, token)).json()) as { code: number };
    assert.equal(retry.code, 20038);
  });

  it("match.user_id: user_info fails for that user only", async () => {
    const token = await appToken();
    const login = async (user: string) =>
      (await exchange(await emu.mintCode({ userId: user }), token)).data.access_token;
    const [first, second] = emu.users.filter((u) => u.tenantKey === emu.users[0]!.tenantKey);
    const mine = await login(first!.userId);
    const theirs = await login(second!.userId);
    await emu.faults.add({
      match: { path: Paths.userInfo, user_id: first!.userId },
      effect: { type: "answer", code: 1500 },
    });
    assert.equal(await userInfo(mine), 1500);
    assert.equal(await userInfo(theirs), 0);
  });

  it("match.user_id: a v2 refresh_token grant fails for that user only", async () => {
    const token = await appToken();
    const [first, second] = emu.users.filter((u) => u.tenantKey === emu.users[0]!.tenantKey);
    const refreshOf = async (user: string) =>
      (await exchange(await emu.mintCode({ userId: user }), token)).data.refresh_token;
    const mine = await refreshOf(first!.userId);
    const theirs = await refreshOf(second!.userId);
    await emu.faults.add({
      match: { path: Paths.oauthToken, user_id: first!.userId },
      effect: { type: "answer", code: 1500 },
    });
    const v2Refresh = async (refreshToken: string) =>
      (
        (await (
          await post(Paths.oauthToken, {
            grant_type: "refresh_token",
            client_id: emu.app.appId,
            client_secret: emu.app.appSecret,
            refresh_token: refreshToken,
          })
        ).json()) as { code: number }
      ).code;
    // v2 sends a storage fault (1500 elsewhere) as its own 20072 (HTTP 503).
    assert.equal(await v2Refresh(mine), 20072);
    assert.notEqual(await v2Refresh(theirs), 20072);
  });

  it("expireNow: an access token (by itself) and the app's tokens answer the platform's expired codes", async () => {
    const token = await appToken();
    const session = await exchange(await emu.mintCode({ userId: userId() }), token);
    const ended = await emu.expireNow.accessToken(session.data.access_token);
    assert.equal(ended.expired_at, emu.clock.now());
    assert.equal(await userInfo(session.data.access_token), 99991668);
    await assert.rejects(emu.expireNow.session(ended.session_id), /not found/);
    await assert.rejects(emu.expireNow.accessToken(session.data.access_token), (error: Error) => {
      assert.ok(!error.message.includes(session.data.access_token), "the token in a message");
      return true;
    });

    assert.ok((await emu.expireNow.appTokens(emu.app.appId)).expired >= 1);
    assert.equal((await exchange(await emu.mintCode({ userId: userId() }), token)).code, 10202);
    const refresh = await post(
      Paths.oidcRefreshAccessToken,
      { grant_type: "refresh_token", refresh_token: session.data.refresh_token },
      token,
    );
    assert.equal(((await refresh.json()) as { code: number }).code, 20014);
    // A fresh app token works, and so does the session's refresh token.
    const fresh = await appToken();
    const refreshed = await post(
      Paths.oidcRefreshAccessToken,
      { grant_type: "refresh_token", refresh_token: session.data.refresh_token },
      fresh,
    );
    assert.equal(((await refreshed.json()) as { code: number }).code, 0);
  });

  it("clock: a code expires when the clock passes its 3 minutes", async () => {
    const token = await appToken();
    const code = await emu.mintCode({ userId: userId() });
    const before = emu.clock.now();
    emu.clock.advance(180_000);
    assert.equal(emu.clock.now(), before + 180_000);
    assert.equal((await exchange(code, token)).code, 10226);
  });

  it("journal: filters, and no secret in it", async () => {
    const since = seq();
    const token = await appToken();
    await exchange(await emu.mintCode({ userId: userId() }), token);
    const entries = emu.journal({ since });
    assert.deepEqual(
      entries.map((e) => [e.route, e.code]),
      [
        [Paths.appAccessToken, 0],
        [Paths.tokenLoginValidate, 0],
      ],
    );
    const text = JSON.stringify(entries);
    assert.ok(!text.includes(token) && !text.includes(emu.app.appSecret));
    assert.equal(emu.journal({ since, route: Paths.tokenLoginValidate, app_id: emu.app.appId }).length, 1);
  });

  it("a rule naming a fact its store endpoint never knows is refused, with the reason", async () => {
    for (const [match, field] of [
      [{ path: Paths.storeTenantAccessToken, app_id: emu.app.appId }, /match\.app_id: .*app_access_token/],
      [{ path: Paths.storeTenantAccessToken, tenant_key: "t" }, /match\.tenant_key/],
      [{ path: Paths.storeAppAccessToken, user_id: "u" }, /match\.user_id/],
      [{ path: Paths.appTicketResend, tenant_key: "t" }, /match\.tenant_key/],
    ] as const) {
      await assert.rejects(emu.faults.add({ match, effect: { type: "drop" } }), field);
    }
    assert.deepEqual(await emu.faults.list(), []);
    // What it can know is still accepted.
    await emu.faults.add({
      match: { path: Paths.storeAppAccessToken, app_id: emu.app.appId },
      effect: { type: "drop" },
    });
    assert.equal((await emu.faults.list()).length, 1);
  });

  it("a rule out of range is refused by the typed API too", async () => {
    const path = Paths.userInfo;
    for (const [rule, field] of [
      [{ match: { path }, effect: { type: "drop" }, times: 0 }, /times/],
      [{ match: { path }, effect: { type: "drop" }, probability: 1.5 }, /probability/],
      [{ match: { path }, effect: { type: "latency", ms: -1 } }, /effect\.ms/],
      [{ match: { path }, effect: { type: "latency", min_ms: 9, max_ms: 1 } }, /effect\.max_ms/],
      [{ match: { path }, effect: { type: "answer", code: 1500, http_status: 700 } }, /http_status/],
      [{ match: { path: "/open-apis/nope" }, effect: { type: "drop" } }, /match\.path/],
    ] as const) {
      await assert.rejects(emu.faults.add(rule), field);
    }
    assert.deepEqual(await emu.faults.list(), []);
  });

  it("an emulator on the system clock says how to get a manual one", async () => {
    const plain = await startEmulator({ journalSize: 0 });
    try {
      assert.throws(() => plain.clock.advance(1), /clock: "manual"/);
      assert.throws(() => plain.journal(), /journal is off/);
      assert.ok(Math.abs(plain.clock.now() - Date.now()) < 60_000);
    } finally {
      await plain.close();
    }
  });
});
