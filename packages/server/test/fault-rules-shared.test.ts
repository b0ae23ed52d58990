/**
 * Fault rules are stored: every instance on one database obeys the same set (issue 16). Two
 * server instances on one PostgreSQL database, and on one SQLite file: a rule added through A
 * applies at B, and a `times: N` rule hit through both at once fires exactly N times.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Paths } from "@mina-auth/protocol";
import {
  createTestDatabase,
  postgresForTests,
  type TestDatabase,
} from "../src/storage/postgres/test-database.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestServer, until } from "./harness.ts";

const { skip: postgresSkip } = await postgresForTests();

const credentials = { app_id: DEMO.appId, app_secret: DEMO.appSecret };
const appTokenAt = (t: TestServer) => t.request("POST", Paths.appAccessToken, { body: credentials });

function sharedRulesCases(name: string, options: { skip: string | false }, database: () => Promise<string>) {
  describe(`fault rules shared by two instances: ${name}`, { skip: options.skip }, () => {
    let a: TestServer;
    let b: TestServer;

    before(async () => {
      const db = await database();
      // One after the other: the first migrates and seeds, the second finds it done.
      a = await startTestServer({ config: { db } });
      b = await startTestServer({ config: { db } });
    });
    after(async () => {
      await Promise.allSettled([a?.close(), b?.close()]);
    });

    const admin = (t: TestServer, method: string, path: string, body?: unknown) =>
      t.request(method, `/admin/v1${path}`, { token: ADMIN_TOKEN, ...(body === undefined ? {} : { body }) });

    it("a rule added through A applies at B, and is listed and deleted through either", async () => {
      const added = await admin(a, "POST", "/faults", {
        match: { path: Paths.appAccessToken },
        effect: { type: "answer", code: 1500 },
        times: 1,
      });
      assert.equal(added.status, 201, added.text);
      const listedAtB = await admin(b, "GET", "/faults");
      assert.deepEqual(
        listedAtB.body.faults.map((rule: { id: string }) => rule.id),
        [added.body.id],
      );
      // B learns of the rule from its poll of the set's version: until then its answers are real.
      let answer: { code: number } = { code: 0 };
      await until(async () => {
        answer = (await appTokenAt(b)).body;
        return answer.code !== 0;
      }, "B applied A's rule");
      assert.equal(answer.code, 1500);
      // Used up at B: gone at A too, and A answers for real.
      assert.deepEqual((await admin(a, "GET", "/faults")).body, { faults: [] });
      assert.equal((await appTokenAt(a)).body.code, 0);

      const lasting = await admin(b, "POST", "/faults", {
        match: { path: Paths.userInfo },
        effect: { type: "drop" },
      });
      assert.deepEqual((await admin(a, "DELETE", `/faults/${lasting.body.id}`)).body, { deleted: true });
      assert.equal((await admin(b, "DELETE", `/faults/${lasting.body.id}`)).status, 404);
    });

    it("times: N hit through both instances at once fires exactly N times", async () => {
      const N = 7;
      const added = await admin(b, "POST", "/faults", {
        match: { path: Paths.appAccessToken, app_id: DEMO.appId },
        effect: { type: "answer", code: 1500 },
        times: N,
      });
      assert.equal(added.status, 201, added.text);
      // Both must have the rule in force before the burst, or the count proves nothing about A.
      await until(() => a.server.app.testTools.faults.size === 1, "A saw B's rule");
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => appTokenAt(i % 2 === 0 ? a : b).then((res) => res.body.code)),
      );
      assert.equal(answers.filter((code) => code === 1500).length, N);
      assert.equal(answers.filter((code) => code === 0).length, 40 - N);
      assert.deepEqual((await admin(a, "GET", "/faults")).body, { faults: [] });
      await until(
        () => a.server.app.testTools.faults.size === 0 && b.server.app.testTools.faults.size === 0,
        "both dropped the spent rule",
      );
    });

    it("clear through one clears the rules of both", async () => {
      await admin(a, "POST", "/faults", { match: { path: Paths.userInfo }, effect: { type: "drop" } });
      await admin(a, "POST", "/faults", { match: { path: Paths.userInfo }, effect: { type: "timeout" } });
      assert.deepEqual((await admin(b, "DELETE", "/faults")).body, { cleared: 2 });
      assert.deepEqual((await admin(a, "GET", "/faults")).body, { faults: [] });
    });
  });
}

let pgDatabase: TestDatabase | undefined;
sharedRulesCases("PostgreSQL", { skip: postgresSkip }, async () => {
  pgDatabase = await createTestDatabase();
  return pgDatabase.url;
});
after(() => pgDatabase?.drop());

sharedRulesCases("one SQLite file", { skip: false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "mina-auth-shared-faults-"));
  return `sqlite:${join(dir, "shared.db")}`;
});
