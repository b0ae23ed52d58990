/**
 * The in-process app-token cache is bounded in size and in staleness, never outlives a token's
 * own expiry, and never caches a miss.
 * @see issue 6
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../clock.ts";
import { sha256Hex } from "../secrets.ts";
import type { AppTokenRecord, Storage } from "../storage/port.ts";
import { APP_TOKEN_CACHE, AppTokenService } from "./app-tokens.ts";

const token = (i: number) => `t-${i.toString(16).padStart(64, "0")}`;

function fakeStorage(clock: ManualClock) {
  const live = new Map<string, AppTokenRecord>();
  let reads = 0;
  const storage = {
    async findAppToken(tokenHash: string, now: number) {
      reads++;
      const record = live.get(tokenHash);
      return record && record.expiresAt > now ? record : null;
    },
  } as unknown as Storage;
  const add = (i: number, lifetimeMs = 3_600_000) => {
    const record: AppTokenRecord = {
      tokenHash: sha256Hex(token(i)),
      kind: "app",
      appId: "cli_0000000000000001",
      tenantKey: null,
      salt: "00",
      issuedAt: clock.now(),
      expiresAt: clock.now() + lifetimeMs,
    };
    live.set(record.tokenHash, record);
  };
  return { storage, add, remove: (i: number) => live.delete(sha256Hex(token(i))), reads: () => reads };
}

describe("AppTokenService.authenticate cache", () => {
  it("serves repeated lookups from memory, and reads storage again after maxAgeMs", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 26));
    const s = fakeStorage(clock);
    s.add(1);
    const service = new AppTokenService(s.storage, clock);
    assert.ok(await service.authenticate(token(1)));
    assert.ok(await service.authenticate(token(1)));
    assert.equal(s.reads(), 1);
    s.remove(1); // what a future revocation would do: seen within the staleness bound
    clock.advance(APP_TOKEN_CACHE.maxAgeMs);
    assert.equal(await service.authenticate(token(1)), null);
    assert.equal(s.reads(), 2);
  });

  it("never answers a token past its own expiry, even from the cache", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 26));
    const s = fakeStorage(clock);
    s.add(2, 500);
    const service = new AppTokenService(s.storage, clock);
    assert.ok(await service.authenticate(token(2)));
    clock.advance(500);
    assert.equal(await service.authenticate(token(2)), null);
  });

  it("does not cache misses: a token issued elsewhere works at once", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 26));
    const s = fakeStorage(clock);
    const service = new AppTokenService(s.storage, clock);
    assert.equal(await service.authenticate(token(3)), null);
    s.add(3);
    assert.ok(await service.authenticate(token(3)));
  });

  it("holds at most maxEntries tokens (oldest out first)", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 26));
    const s = fakeStorage(clock);
    const service = new AppTokenService(s.storage, clock);
    for (let i = 0; i <= APP_TOKEN_CACHE.maxEntries; i++) {
      s.add(100 + i);
      await service.authenticate(token(100 + i));
    }
    const before = s.reads();
    await service.authenticate(token(100 + APP_TOKEN_CACHE.maxEntries)); // newest: cached
    assert.equal(s.reads(), before);
    await service.authenticate(token(100)); // oldest: evicted, read again
    assert.equal(s.reads(), before + 1);
  });

  it("reads storage again when the clock goes backwards", async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 26));
    const s = fakeStorage(clock);
    s.add(4);
    const service = new AppTokenService(s.storage, clock);
    await service.authenticate(token(4));
    clock.advance(-10_000);
    await service.authenticate(token(4));
    assert.equal(s.reads(), 2);
  });
});
