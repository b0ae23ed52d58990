/**
 * Several instances on one PostgreSQL (issue 4; security.md H6): rate-limit counts are shared
 * by two servers on one database (in process here, with one clock, so one window).
 *
 * Without a reachable PostgreSQL this test skips with the reason, except with CI=true, where
 * that is a failure.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { ManualClock } from "../src/clock.ts";
import { defaultConfig } from "../src/config.ts";
import { createTestDatabase, postgresForTests } from "../src/storage/postgres/test-database.ts";
import { DEMO, startTestServer } from "./harness.ts";

const { skip } = await postgresForTests();

describe("two mina-auth processes on one PostgreSQL", { skip }, () => {
  it("H6: rate-limit counts add up across two servers on one PostgreSQL database", async () => {
    // In-process servers (same clock, so one window), on their own fresh database.
    const limitsDb = await createTestDatabase();
    const clock = new ManualClock(Date.UTC(2026, 10, 26, 12, 0, 0));
    const config = {
      db: limitsDb.url,
      rateLimits: {
        ...defaultConfig.rateLimits,
        enabled: true,
        failedAppSecretPerApp: { limit: 4, windowMs: 60_000 },
        failedRedeemPerAddress: { limit: 4, windowMs: 60_000 },
      },
    };
    const one = await startTestServer({ config, clock });
    const two = await startTestServer({ config, clock });
    try {
      const wrong = (server: typeof one) =>
        server.request("POST", "/open-apis/auth/v3/app_access_token/internal", {
          body: { app_id: DEMO.appId, app_secret: "wrong" },
        });
      const tokenOne = await one.appToken();
      const tokenTwo = await two.appToken();
      const codes = [];
      for (const server of [one, two, one, two]) codes.push((await wrong(server)).body.code);
      assert.deepEqual(codes, [10014, 10014, 10014, 10014]);
      const refused = await wrong(one);
      assert.equal(refused.status, 429);
      assert.equal(refused.body.code, 99991400);
      assert.equal(refused.headers.get("x-ogw-ratelimit-limit"), "4");
      assert.equal(refused.headers.get("x-ogw-ratelimit-reset"), "60");

      const unknown = () => randomBytes(22).toString("hex");
      const failed = [];
      for (const [server, token] of [
        [one, tokenOne],
        [two, tokenTwo],
        [one, tokenOne],
        [two, tokenTwo],
      ] as const) {
        failed.push((await server.exchange(unknown(), token)).body.code);
      }
      assert.deepEqual(failed, [10226, 10226, 10226, 10226]);
      const over = await two.exchange(unknown(), tokenTwo);
      assert.equal(over.status, 429);
      assert.equal(over.body.code, 99991400);
    } finally {
      await one.close();
      await two.close();
      await limitsDb.drop();
    }
  });
});
