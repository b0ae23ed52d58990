/**
 * security.md C1 over real HTTP: 64 redemptions of one code released together, each on its own
 * connection, answer exactly one `code:0` and 63 × 10213, and leave exactly one session.
 */
import assert from "node:assert/strict";
import { Agent, request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { ADMIN_TOKEN, startTestServer, type TestServer } from "./harness.ts";

const PARALLEL = 64;
const ROUNDS = 10;

interface RawReply {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: inspected field by field
  body: any;
}

/** A prepared POST that is only sent when `fire()` is called: all of them go out together. */
function prepare(url: string, agent: Agent, path: string, token: string, body: unknown) {
  const payload = JSON.stringify(body);
  const target = new URL(path, url);
  return () =>
    new Promise<RawReply>((resolve, reject) => {
      const req = httpRequest(
        target,
        {
          method: "POST",
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(payload),
            connection: "close",
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            try {
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
            } catch {
              resolve({ status: res.statusCode ?? 0, body: text });
            }
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload);
    });
}

describe("C1: one code redeemed 64 times at once over HTTP", () => {
  let t: TestServer;
  let agent: Agent;
  before(async () => {
    t = await startTestServer();
    agent = new Agent({ keepAlive: false, maxSockets: PARALLEL * 2 });
  });
  after(async () => {
    agent.destroy();
    await t.close();
  });

  it(`exactly one success and ${PARALLEL - 1} × 10213 per code, one session per code, over ${ROUNDS} codes`, async () => {
    const appToken = await t.appToken();
    const winners = new Set<string>();
    for (let round = 0; round < ROUNDS; round++) {
      const code = await t.mintCode();
      const shots = Array.from({ length: PARALLEL }, () =>
        prepare(t.url, agent, "/open-apis/mina/v2/tokenLoginValidate", appToken, { code }),
      );
      const replies = await Promise.all(shots.map((fire) => fire()));
      const ok = replies.filter((r) => r.body?.code === 0);
      const reused = replies.filter((r) => r.body?.code === 10213);
      assert.equal(
        ok.length,
        1,
        `round ${round}: successes ${JSON.stringify(replies.map((r) => r.body?.code))}`,
      );
      assert.equal(reused.length, PARALLEL - 1, `round ${round}: every other reply is 10213`);
      for (const r of replies) assert.equal(r.status, 200);
      winners.add(ok[0]!.body.data.access_token);
    }
    assert.equal(winners.size, ROUNDS);

    const sessions = await t.request("GET", "/admin/v1/sessions?limit=1000", { token: ADMIN_TOKEN });
    assert.equal(sessions.status, 200);
    // One session per code, ever: the 63 losers created nothing.
    assert.equal(sessions.body.sessions.length, ROUNDS);
  });

  it("the replays after the winner revoked its tokens (C2): the winner's access token no longer works", async () => {
    const appToken = await t.appToken();
    const code = await t.mintCode();
    const replies = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        prepare(t.url, agent, "/open-apis/mina/v2/tokenLoginValidate", appToken, { code }),
      ).map((fire) => fire()),
    );
    const winner = replies.find((r) => r.body?.code === 0);
    assert.ok(winner, "one redemption succeeded");
    const info = await t.request("GET", "/open-apis/authen/v1/user_info", {
      token: winner.body.data.access_token,
    });
    assert.equal(info.body.code, 99991668);
    const active = await t.request("GET", "/admin/v1/sessions?active=true&limit=1000", {
      token: ADMIN_TOKEN,
    });
    assert.equal(active.body.sessions.length, 0, "every racing grant was revoked by its replays");
  });
});
