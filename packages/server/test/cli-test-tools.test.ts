import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Paths } from "@mina-auth/protocol";
import {
  clockFor,
  expireCommand,
  faultCommand,
  journalSizeFrom,
  type ToolCommand,
} from "../src/cli-test-tools.ts";
import { ManualClock, systemClock } from "../src/clock.ts";
import { ConfigError } from "../src/config.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestServer } from "./harness.ts";

describe("serve --clock and --journal", () => {
  it("--clock manual on loopback; refused beyond it unless --force", () => {
    assert.equal(clockFor({}, {}, "0.0.0.0"), systemClock);
    assert.ok(clockFor({ clock: "manual" }, {}, "127.0.0.1") instanceof ManualClock);
    assert.ok(clockFor({}, { MINA_AUTH_CLOCK: "manual" }, "::1") instanceof ManualClock);
    assert.throws(() => clockFor({ clock: "manual" }, {}, "0.0.0.0"), /--force/);
    assert.ok(clockFor({ clock: "manual", force: true }, {}, "0.0.0.0") instanceof ManualClock);
    assert.throws(() => clockFor({ clock: "sundial" }, {}, "127.0.0.1"), ConfigError);
  });

  it("--journal N: a whole number up to 100000", () => {
    assert.equal(journalSizeFrom({}, {}), 0);
    assert.equal(journalSizeFrom({ journal: "500" }, {}), 500);
    assert.equal(journalSizeFrom({}, { MINA_AUTH_JOURNAL_SIZE: "20" }), 20);
    for (const bad of ["-1", "1e3", "100001", "x"])
      assert.throws(() => journalSizeFrom({ journal: bad }, {}), ConfigError);
  });
});

/** Runs a command against the server at `url()` with the admin token; its exit code and JSON answer. */
const runner =
  (command: ToolCommand, url: () => string) =>
  async (...args: string[]) => {
    let text = "";
    const code = await command(args, { url: url(), "admin-token": ADMIN_TOKEN }, {}, (s) => {
      text += s;
    });
    return { code, body: JSON.parse(text) };
  };

describe("mina-auth fault", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const run = runner(faultCommand, () => t.url);

  it("add, list, delete and clear against a running server", async () => {
    const rule = JSON.stringify({ match: { path: Paths.userInfo }, effect: { type: "drop" }, times: 2 });
    const added = await run("add", rule);
    assert.equal(added.code, 0);
    assert.equal(added.body.times_left, 2);
    await run("add", rule);
    assert.equal((await run("list")).body.faults.length, 2);
    assert.deepEqual((await run("delete", added.body.id)).body, { deleted: true });
    assert.equal((await run("delete", added.body.id)).code, 1);
    assert.deepEqual((await run("clear")).body, { cleared: 1 });
  });

  it("a rule the server refuses exits 1 with its {code, msg}; usage errors are ConfigErrors", async () => {
    const refused = await run("add", JSON.stringify({ match: { path: "/nope" }, effect: { type: "drop" } }));
    assert.equal(refused.code, 1);
    assert.equal(refused.body.code, 9400);
    await assert.rejects(run("add", "{not json"), /not valid JSON/);
    await assert.rejects(run("add"), /needs a RULE_JSON/);
    await assert.rejects(run("explode"), ConfigError);
    await assert.rejects(
      faultCommand(["list"], { url: t.url }, {}, () => {}),
      /admin token/,
    );
    await assert.rejects(
      faultCommand(["list"], { url: "http://127.0.0.1:9", "admin-token": ADMIN_TOKEN }, {}, () => {}),
      /no server answers/,
    );
  });
});

describe("mina-auth expire", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const run = runner(expireCommand, () => t.url);

  it("session ID ends its access token (99991668 next); app-tokens APP_ID [kind] ends the app's", async () => {
    const appToken = await t.appToken();
    const login = await t.exchange(await t.mintCode(), appToken);
    const sessions = await t.request("GET", `/admin/v1/sessions?app_id=${DEMO.appId}`, {
      token: ADMIN_TOKEN,
    });
    const sessionId = sessions.body.sessions[0].session_id as string;
    const ended = await run("session", sessionId);
    assert.equal(ended.code, 0);
    assert.equal(ended.body.session_id, sessionId);
    const info = await t.request("GET", Paths.userInfo, { token: login.body.data.access_token });
    assert.equal(info.body.code, 99991668);
    assert.equal((await run("session", sessionId)).code, 1);

    // app_access_token/internal issued the app's tenant token beside its app token (as its page
    // documents): kind tenant ends that one, and leaves the app token alone.
    assert.deepEqual((await run("app-tokens", DEMO.appId, "tenant")).body, {
      app_id: DEMO.appId,
      expired: 1,
    });
    const apps = await run("app-tokens", DEMO.appId);
    assert.equal(apps.code, 0);
    assert.equal(apps.body.expired, 1);
    assert.equal((await t.exchange(await t.mintCode(), appToken)).body.code, 10202);
  });

  it("usage errors are ConfigErrors", async () => {
    await assert.rejects(run("session"), /needs an ID/);
    await assert.rejects(run("session", "a", "b"), /one ID/);
    await assert.rejects(run("app-tokens", DEMO.appId, "user"), /app or tenant/);
    await assert.rejects(
      expireCommand(["session", "x"], { url: t.url }, {}, () => {}),
      /expire needs the server's admin token/,
    );
  });
});
