/**
 * One code, one redemption, every door, under a race: 64 simultaneous redemptions of one code,
 * spread over the three doors (tokenLoginValidate, authen/v1/oidc/access_token,
 * authen/v2/oauth/token) and two `mina-auth serve` child processes on one PostgreSQL database,
 * give exactly one winner and 63 reuses (each in its door's own code), round after round, and
 * one session per code.
 *
 * Without a reachable PostgreSQL this skips with the reason, except with CI=true, where that is
 * a failure.
 */
import assert from "node:assert/strict";
import { after, before, describe, it, test } from "node:test";
import { Paths } from "@mina-auth/protocol";
import {
  createTestDatabase,
  probePostgres,
  type TestDatabase,
} from "../src/storage/postgres/test-database.ts";
import {
  type Answer,
  appToken,
  call,
  type ServerProcess,
  startServerProcess,
  stopServerProcess,
} from "./child-server.ts";
import { DEMO } from "./harness.ts";

const ADMIN = "code-doors-race-admin-token-0123456789";
const ROUNDS = 6;
const RACERS = 64;

const probe = await probePostgres();
if (!probe.ok && process.env.CI === "true") {
  test("PostgreSQL is reachable (required with CI=true)", () => {
    assert.fail(probe.reason);
  });
}
if (!probe.ok && process.env.CI !== "true") {
  test("code doors race on PostgreSQL", {
    skip: `${probe.reason}; start it or set MINA_AUTH_TEST_PG_ADMIN_URL`,
  }, () => {});
}

type Door = "tokenLoginValidate" | "oidc" | "v2";
const DOORS: Door[] = ["tokenLoginValidate", "oidc", "v2"];
/** What each door answers to the redemption of a code some door already redeemed. */
const REUSE: Record<Door, number> = { tokenLoginValidate: 10213, oidc: 20003, v2: 20065 };

function redeem(door: Door, base: string, code: string, appToken: string): Promise<Answer> {
  switch (door) {
    case "tokenLoginValidate":
      return call(base, "POST", Paths.tokenLoginValidate, { code }, appToken);
    case "oidc":
      return call(base, "POST", Paths.oidcAccessToken, { grant_type: "authorization_code", code }, appToken);
    case "v2":
      return call(base, "POST", Paths.oauthToken, {
        grant_type: "authorization_code",
        client_id: DEMO.appId,
        client_secret: DEMO.appSecret,
        code,
      });
  }
}

describe("one code raced over three doors and two processes on one PostgreSQL", { skip: !probe.ok }, () => {
  let database: TestDatabase;
  let a: ServerProcess | undefined;
  let b: ServerProcess | undefined;
  let tokens: string[];

  before(async () => {
    database = await createTestDatabase();
    const env = { MINA_AUTH_LOG_LEVEL: "error", MINA_AUTH_RATE_LIMITS: "false" };
    // One after the other: the first seeds the empty catalogue, the second finds it there.
    a = await startServerProcess({ name: "A", db: database.url, adminToken: ADMIN, env });
    b = await startServerProcess({ name: "B", db: database.url, adminToken: ADMIN, env });
    tokens = [await appToken(a.url), await appToken(b.url)];
  });

  after(async () => {
    await Promise.allSettled([stopServerProcess(a), stopServerProcess(b)]);
    await database?.drop();
  });

  it(`${RACERS} redemptions per code over 3 doors × 2 instances, ${ROUNDS} rounds: one winner, ${RACERS - 1} reuses`, async () => {
    const user = DEMO.otherVisibleUser;
    const wonAt: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const minted = await call(
        a!.url,
        "POST",
        "/admin/v1/login-codes",
        { app_id: DEMO.appId, user_id: user },
        ADMIN,
      );
      assert.equal(minted.status, 201, JSON.stringify(minted.body));
      const code: string = minted.body.code;
      const racers = Array.from({ length: RACERS }, (_, i) => ({
        door: DOORS[i % DOORS.length]!,
        instance: i % 2,
      }));
      const answers = await Promise.all(
        racers.map(({ door, instance }) =>
          redeem(door, instance === 0 ? a!.url : b!.url, code, tokens[instance]!),
        ),
      );
      const winners = answers.flatMap((answer, i) => (answer.body.code === 0 ? [racers[i]!] : []));
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} winners`);
      answers.forEach((answer, i) => {
        if (answer.body.code === 0) return;
        const { door } = racers[i]!;
        assert.equal(
          answer.body.code,
          REUSE[door],
          `round ${round}, ${door}: ${JSON.stringify(answer.body)}`,
        );
        assert.equal(answer.status, door === "v2" ? 400 : 200);
      });
      wonAt.push(`${winners[0]!.door}@${winners[0]!.instance === 0 ? "A" : "B"}`);
    }
    const sessions = await call(
      a!.url,
      "GET",
      `/admin/v1/sessions?user_id=${user}&limit=1000`,
      undefined,
      ADMIN,
    );
    assert.equal(sessions.status, 200);
    assert.equal(sessions.body.sessions.length, ROUNDS, "exactly one session per raced code");
    process.stdout.write(`# code doors race: ${ROUNDS} rounds × ${RACERS}: winners ${wonAt.join(", ")}\n`);
  });
});
