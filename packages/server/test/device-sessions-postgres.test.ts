/**
 * Derived session keys across two mina-auth instances on one real PostgreSQL (issue 18): a
 * login on one instance, getUserInfo's data from the other under the same session_key; a
 * rotation on one, picked up by the other within its refresh interval, with sessions of both
 * versions still served. Skips with the reason without PostgreSQL, except with CI=true.
 */
import assert from "node:assert/strict";
import { createDecipheriv, createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ManualClock } from "../src/clock.ts";
import { SESSION_KEY_REFRESH_MS } from "../src/domain/session-keys.ts";
import {
  createTestDatabase,
  postgresForTests,
  type TestDatabase,
} from "../src/storage/postgres/test-database.ts";
import { ADMIN_TOKEN, DEMO, startTestServer, type TestServer } from "./harness.ts";

const { skip } = await postgresForTests();

/** The platform sample's steps, node:crypto alone. */
function opens(res: { body: Record<string, string> }, sessionKey: string): boolean {
  const signed =
    createHash("sha1")
      .update(res.body.rawData + sessionKey)
      .digest("hex") === res.body.signature;
  const decipher = createDecipheriv(
    "aes-128-cbc",
    Buffer.from(sessionKey, "hex"),
    Buffer.from(res.body.iv!, "hex"),
  );
  const plain = JSON.parse(
    decipher.update(res.body.encryptedData!, "base64", "utf8") + decipher.final("utf8"),
  );
  return signed && plain.watermark.appid === DEMO.appId;
}

describe("derived session keys on two instances sharing one PostgreSQL", { skip }, () => {
  let database: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  const clock = new ManualClock(Date.UTC(2026, 10, 26, 9, 0, 0));

  before(async () => {
    database = await createTestDatabase();
    a = await startTestServer({ config: { db: database.url }, clock });
    b = await startTestServer({ config: { db: database.url }, clock });
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await database?.drop();
  });

  /** A device's login through `via`, exchanged by the backend on `via` too. */
  async function login(via: TestServer) {
    clock.advance(1000);
    const minted = await via.request("POST", "/dev/v1/tt/login", {
      token: ADMIN_TOKEN,
      body: { app_id: DEMO.appId, user_id: DEMO.visibleUser },
    });
    assert.equal(minted.status, 201, minted.text);
    const exchanged = await via.exchange(minted.body.code, await via.appToken());
    assert.equal(exchanged.body.code, 0, exchanged.text);
    const sessions = await via.request("GET", `/admin/v1/sessions?user_id=${DEMO.visibleUser}&limit=1`, {
      token: ADMIN_TOKEN,
    });
    const grantId = sessions.body.sessions[0].session_id as string;
    return {
      code: minted.body.code as string,
      sessionKey: exchanged.body.data.session_key as string,
      version: Number.parseInt(grantId.slice(-3), 16),
    };
  }
  const userInfo = (via: TestServer, code: string) =>
    via.request("POST", "/dev/v1/tt/user-info", {
      token: ADMIN_TOKEN,
      body: { app_id: DEMO.appId, user_id: DEMO.visibleUser, code, with_credentials: true },
    });

  test("a session opened on one instance is sealed alike by the other", async () => {
    const session = await login(a);
    assert.equal(session.version, 1);
    const res = await userInfo(b, session.code);
    assert.equal(res.status, 200, res.text);
    assert.ok(opens(res, session.sessionKey));
  });

  test("a rotation on one instance reaches the other within its refresh interval; both versions stay served", async () => {
    const before = await login(a);
    const rotated = await b.request("POST", "/admin/v1/server-keys/session_key/rotate", {
      token: ADMIN_TOKEN,
    });
    assert.equal(rotated.status, 201, rotated.text);
    assert.equal(rotated.body.version, 2);
    assert.equal((await login(b)).version, 2, "the rotating instance uses the new version at once");
    assert.equal((await login(a)).version, 1, "the other keeps the version it read, a valid one");

    clock.advance(SESSION_KEY_REFRESH_MS);
    let after = await login(a); // starts the background read
    for (let i = 0; i < 5 && after.version !== 2; i++) after = await login(a);
    assert.equal(after.version, 2);

    for (const [session, via] of [
      [before, b],
      [after, b],
      [before, a],
      [after, a],
    ] as const) {
      const res = await userInfo(via, session.code);
      assert.equal(res.status, 200, res.text);
      assert.ok(opens(res, session.sessionKey));
    }
  });
});
