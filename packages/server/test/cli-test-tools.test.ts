import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Paths } from "@mina-auth/protocol";
import { clockFor, faultCommand, journalSizeFrom } from "../src/cli-test-tools.ts";
import { ManualClock, systemClock } from "../src/clock.ts";
import { ConfigError } from "../src/config.ts";
import { ADMIN_TOKEN, startTestServer, type TestServer } from "./harness.ts";

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

describe("mina-auth fault", () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const run = async (...args: string[]) => {
    let text = "";
    const code = await faultCommand(args, { url: t.url, "admin-token": ADMIN_TOKEN }, {}, (s) => {
      text += s;
    });
    return { code, body: JSON.parse(text) };
  };

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
