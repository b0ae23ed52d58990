/**
 * Several instances on one PostgreSQL (issue 4; security.md C1, C2, T4, S4): two server CHILD
 * PROCESSES (`mina-auth serve --db postgres://…`) on one fresh database (two-instances.ts).
 *
 * - a code minted through A is redeemed on B; 64 simultaneous redemptions of one code split
 *   32/32 across A and B give exactly one `code:0` and 63 × 10213, round after round, and one
 *   session per code;
 * - an app_ticket one instance pushes is accepted by the other;
 * - 16 concurrent refreshes of one refresh token split across A and B: exactly one success;
 * - a code-reuse revocation and a refresh-family revocation done on A hold on B.
 *
 * The children run with MINA_AUTH_RATE_LIMITS=false: 64-way races on one code are, by design,
 * the failure pattern the limits exist to throttle (multi-instance-rate-limits.test.ts checks
 * the limits across servers).
 *
 * Without a reachable PostgreSQL these tests skip with the reason, except with CI=true, where
 * that is a failure.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { storageKey } from "../src/secrets.ts";
import { postgresForTests } from "../src/storage/postgres/test-database.ts";
import { call } from "./child-server.ts";
import { startEventReceiver } from "./event-receiver.ts";
import { DEMO } from "./harness.ts";
import {
  ADMIN,
  exchange,
  login,
  mintCode,
  refresh,
  sleep,
  sql,
  twoInstances,
  userInfo,
} from "./two-instances.ts";

const ROUNDS = Number(process.env.MINA_AUTH_MI_ROUNDS ?? 20);
const RACERS = 64;
const REFRESH_RACERS = 16;
const REFRESH_ROUNDS = 5;

const { skip } = await postgresForTests();

describe("two mina-auth processes on one PostgreSQL", { skip }, () => {
  const two = twoInstances();

  it("S4: a code minted through A is redeemed on B; its replay on A answers 10213", async () => {
    const code = await mintCode(two.a.url);
    const redeemed = await exchange(two.b.url, code, two.tokenB);
    assert.equal(redeemed.body.code, 0, JSON.stringify(redeemed.body));
    const replay = await exchange(two.a.url, code, two.tokenA);
    assert.equal(replay.body.code, 10213);
  });

  it("store apps: a ticket A pushes is accepted by B, and B's push by A; both instances' attempts are listed", async () => {
    const receiver = await startEventReceiver();
    try {
      const set = await call(
        two.a.url,
        "PUT",
        `/admin/v1/apps/${DEMO.storeAppId}/events`,
        { event_url: receiver.url, verification_token: "vt-multi-instance-3e8a1c" },
        ADMIN,
      );
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const pushed = async (count: number) => {
        for (let i = 0; i < 1000 && receiver.tickets().length < count; i++) await sleep(10);
        assert.ok(receiver.tickets().length >= count, "the ticket arrived");
        return receiver.tickets()[count - 1]!;
      };
      const storeToken = (base: string, ticket: string) =>
        call(base, "POST", "/open-apis/auth/v3/app_access_token", {
          app_id: DEMO.storeAppId,
          app_secret: DEMO.storeAppSecret,
          app_ticket: ticket,
        });
      const fromA = await pushed(1);
      assert.equal((await storeToken(two.b.url, fromA)).body.code, 0, "B accepts A's ticket");
      const resend = await call(two.b.url, "POST", "/open-apis/auth/v3/app_ticket/resend", {
        app_id: DEMO.storeAppId,
        app_secret: DEMO.storeAppSecret,
      });
      assert.equal(resend.body.code, 0);
      const fromB = await pushed(2);
      assert.equal((await storeToken(two.a.url, fromB)).body.code, 0, "A accepts B's ticket");
      // B records its attempt once the receiver's answer is back: wait for it (a margin, not a timing).
      let delivered = 0;
      for (let i = 0; i < 1000 && delivered < 2; i++) {
        const listed = await call(
          two.a.url,
          "GET",
          `/admin/v1/apps/${DEMO.storeAppId}/event-deliveries`,
          undefined,
          ADMIN,
        );
        delivered = (listed.body.deliveries as Array<{ event_type: string; outcome: string }>).filter(
          (d) => d.event_type === "app_ticket" && d.outcome === "delivered",
        ).length;
        if (delivered < 2) await sleep(10);
      }
      assert.equal(delivered, 2, "A lists both instances' delivered pushes");
    } finally {
      await receiver.close();
    }
  });

  it(`C1: ${RACERS} simultaneous redemptions split ${RACERS / 2}/${RACERS / 2} across A and B, ${ROUNDS} rounds: one code:0, ${RACERS - 1} × 10213, one session per code`, async () => {
    const raceUser = DEMO.otherVisibleUser;
    const wins = { A: 0, B: 0 };
    const codes: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const code = await mintCode(round % 2 === 0 ? two.a.url : two.b.url, raceUser);
      codes.push(code);
      const answers = await Promise.all(
        Array.from({ length: RACERS }, (_, i) =>
          i % 2 === 0 ? exchange(two.a.url, code, two.tokenA) : exchange(two.b.url, code, two.tokenB),
        ),
      );
      const winners = answers.flatMap((answer, i) =>
        answer.body.code === 0 ? [i % 2 === 0 ? "A" : "B"] : [],
      );
      const losers = answers.filter((answer) => answer.body.code === 10213).length;
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} winners`);
      assert.equal(losers, RACERS - 1, `round ${round}: ${losers} × 10213`);
      assert.ok(answers.every((answer) => answer.status === 200));
      wins[winners[0] as "A" | "B"]++;
    }
    const sessions = await call(
      two.a.url,
      "GET",
      `/admin/v1/sessions?user_id=${raceUser}&limit=1000`,
      undefined,
      ADMIN,
    );
    assert.equal(sessions.status, 200);
    assert.equal(sessions.body.sessions.length, ROUNDS, "exactly one session per raced code");
    const perCode = await sql<{ code_hash: string; n: number }>(
      "SELECT code_hash, count(*)::int AS n FROM grants WHERE code_hash = ANY($1) GROUP BY code_hash",
      [codes.map((code) => storageKey("login_code", code))],
    );
    assert.equal(perCode.rows.length, ROUNDS);
    assert.ok(perCode.rows.every((row) => row.n === 1));
    process.stdout.write(
      `# C1 across two processes: ${ROUNDS} rounds × ${RACERS} redemptions: ${ROUNDS} winners (A ${wins.A}, B ${wins.B}), ${ROUNDS * (RACERS - 1)} × 10213, ${ROUNDS} sessions\n`,
    );
  });

  it(`T4: ${REFRESH_RACERS} concurrent refreshes of one refresh token split across A and B: exactly one success (${REFRESH_ROUNDS} rounds)`, async () => {
    const tally = { A: 0, B: 0 };
    for (let round = 0; round < REFRESH_ROUNDS; round++) {
      const session = await login(two.a.url, two.tokenA, "A");
      const answers = await Promise.all(
        Array.from({ length: REFRESH_RACERS }, (_, i) =>
          i % 2 === 0
            ? refresh(two.a.url, session.refreshToken, two.tokenA)
            : refresh(two.b.url, session.refreshToken, two.tokenB),
        ),
      );
      const winners = answers.flatMap((answer, i) =>
        answer.body.code === 0 ? [i % 2 === 0 ? "A" : "B"] : [],
      );
      assert.equal(winners.length, 1, `round ${round}: ${winners.length} successes`);
      assert.ok(
        answers.every((answer) => answer.body.code === 0 || answer.body.code === 20038),
        answers.map((answer) => answer.body.code).join(","),
      );
      tally[winners[0] as "A" | "B"]++;
    }
    process.stdout.write(
      `# T4 across two processes: ${REFRESH_ROUNDS} rounds × ${REFRESH_RACERS} refreshes: one success each (A ${tally.A}, B ${tally.B})\n`,
    );
  });

  it("C2: a code-reuse revocation done on A is seen on B", async () => {
    const session = await login(two.a.url, two.tokenA, "A");
    assert.equal((await userInfo(two.b.url, session.accessToken)).body.code, 0);
    assert.equal((await exchange(two.a.url, session.code, two.tokenA)).body.code, 10213);
    const info = await userInfo(two.b.url, session.accessToken);
    assert.equal(info.status, 400);
    assert.equal(info.body.code, 99991668);
    assert.equal((await refresh(two.b.url, session.refreshToken, two.tokenB)).body.code, 20038);
  });

  it("T4: a refresh-family revocation done on A is seen on B", async () => {
    const session = await login(two.b.url, two.tokenB, "B");
    const rotated = await refresh(two.a.url, session.refreshToken, two.tokenA);
    assert.equal(rotated.body.code, 0);
    assert.equal(
      (await refresh(two.a.url, session.refreshToken, two.tokenA)).body.code,
      20038,
      "replay on A",
    );
    assert.equal((await userInfo(two.b.url, rotated.body.data.access_token)).body.code, 99991668);
    assert.equal((await refresh(two.b.url, rotated.body.data.refresh_token, two.tokenB)).body.code, 20038);
  });
});
