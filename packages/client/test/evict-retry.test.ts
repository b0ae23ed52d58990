// The client's evict-and-retry against injected rejections of a valid app token (fault rules of
// the real server, through mina-auth/testing): each rejection costs exactly one app-token fetch,
// even though the platform hands the same token back while 30 minutes of it remain.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { Paths } from "@mina-auth/protocol";
import { type Emulator, type FaultEffectInput, startEmulator } from "mina-auth/testing";
import { MinaApiError, MinaClient } from "../src/index.ts";

let emu: Emulator;
before(async () => {
  emu = await startEmulator();
});
after(() => emu.close());
beforeEach(async () => {
  await emu.faults.clear();
});

const fetchesSince = (seq: number) => emu.journal({ since: seq, route: Paths.appAccessToken }).length;
const mark = () => emu.journal().at(-1)?.seq ?? 0;

const rejections: Array<[string, Extract<FaultEffectInput, { type: "answer" }>]> = [
  ["10202 (HTTP 200)", { type: "answer", code: 10202 }],
  ["99991663 with HTTP 400", { type: "answer", code: 99991663 }],
  ["99991663 with HTTP 200", { type: "answer", code: 99991663, http_status: 200 }],
  ["99991664 (HTTP 400)", { type: "answer", code: 99991664 }],
];

describe("evict and retry: one app-token fetch per rejection", () => {
  for (const [name, effect] of rejections) {
    it(`tokenLoginValidate rejected with ${name}: one refetch, one retry`, async () => {
      const client = new MinaClient({
        appId: emu.app.appId,
        appSecret: emu.app.appSecret,
        baseUrl: emu.baseUrl,
      });
      const userId = emu.users[0]!.userId;
      await client.tokenLoginValidate(await emu.mintCode({ userId })); // the token is cached now
      const since = mark();
      await emu.faults.add({ match: { path: Paths.tokenLoginValidate }, effect, times: 1 });
      const session = await client.tokenLoginValidate(await emu.mintCode({ userId }));
      assert.ok(session.accessToken.startsWith("u-"));
      assert.equal(fetchesSince(since), 1);
      const calls = emu.journal({ since, route: Paths.tokenLoginValidate }).map((e) => e.code);
      assert.deepEqual(calls, [effect.code, 0]);
    });
  }

  it("a refresh rejected with 99991663: one refetch, one retry", async () => {
    const client = new MinaClient({
      appId: emu.app.appId,
      appSecret: emu.app.appSecret,
      baseUrl: emu.baseUrl,
    });
    const session = await client.tokenLoginValidate(await emu.mintCode({ userId: emu.users[0]!.userId }));
    const since = mark();
    await emu.faults.add({
      match: { path: Paths.oidcRefreshAccessToken },
      effect: { type: "answer", code: 99991663 },
      times: 1,
    });
    await client.refreshUserAccessToken(session.refreshToken);
    assert.equal(fetchesSince(since), 1);
  });

  it("rejected again after the retry: the error reaches the caller, after one refetch", async () => {
    const client = new MinaClient({
      appId: emu.app.appId,
      appSecret: emu.app.appSecret,
      baseUrl: emu.baseUrl,
    });
    const userId = emu.users[0]!.userId;
    await client.tokenLoginValidate(await emu.mintCode({ userId }));
    const since = mark();
    await emu.faults.add({
      match: { path: Paths.tokenLoginValidate },
      effect: { type: "answer", code: 99991664 },
      times: 2,
    });
    await assert.rejects(client.tokenLoginValidate(await emu.mintCode({ userId })), (error: unknown) => {
      assert.ok(error instanceof MinaApiError);
      assert.equal(error.code, 99991664);
      return true;
    });
    assert.equal(fetchesSince(since), 1);
  });
});
