import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { ManualClock } from "../clock.ts";
import { storageKey } from "../secrets.ts";
import { openStorage } from "../storage/open.ts";
import type { Storage } from "../storage/port.ts";
import {
  codeLink,
  deriveSessionKey,
  MAX_SESSION_KEY_VERSION,
  newLinkedGrantId,
  parseGrantId,
  SESSION_KEY_REFRESH_MS,
  SessionKeys,
} from "./session-keys.ts";

const CODE_KEY = storageKey("login_code", `${"0".repeat(12)}${"ab".repeat(16)}`);

describe("grant ids that carry their code link and key version", () => {
  it("extend the former layout (g_, 12 hex of time, 12 random): unique per proposal, time first", () => {
    const id = newLinkedGrantId(0x0123456789a, CODE_KEY, 7);
    assert.match(id, /^g_[0-9a-f]{36}$/);
    assert.notEqual(newLinkedGrantId(0x0123456789a, CODE_KEY, 7), id, "two proposals for one code differ");
    assert.ok(id.startsWith("g_00123456789a"));
    assert.deepEqual(parseGrantId(id), { link: codeLink(CODE_KEY), version: 7 });
  });

  it("refuse versions a grant id cannot hold, and read none from other layouts", () => {
    assert.throws(() => newLinkedGrantId(1, CODE_KEY, 0), RangeError);
    assert.throws(() => newLinkedGrantId(1, CODE_KEY, MAX_SESSION_KEY_VERSION + 1), RangeError);
    assert.equal(parseGrantId(newLinkedGrantId(1, CODE_KEY, MAX_SESSION_KEY_VERSION))?.version, 4095);
    assert.equal(parseGrantId("g_000000000001000000000000"), null, "a grant from before: 24 hex digits");
    assert.equal(parseGrantId(`g_${"0".repeat(36)}`), null, "version 0");
    assert.equal(parseGrantId("not-a-grant"), null);
  });

  it("never change the derivation: every live session's key depends on it", () => {
    const grant = "g_0192f0e4a1c3a1b2c3d4e5f6123456789001";
    assert.equal(deriveSessionKey("0".repeat(64), grant), "63ef155d0756eeabe9ad2aba9a554a7c");
    assert.equal(
      deriveSessionKey("0".repeat(64), grant),
      createHmac("sha256", "0".repeat(64)).update(`session_key|${grant}`).digest("hex").slice(0, 32),
    );
  });

  it("derive a 32-hex session_key per (server key, grant), deterministic", () => {
    const grant = newLinkedGrantId(1, CODE_KEY, 1);
    const key = deriveSessionKey("k".repeat(64), grant);
    assert.match(key, /^[0-9a-f]{32}$/);
    assert.equal(deriveSessionKey("k".repeat(64), grant), key);
    assert.notEqual(deriveSessionKey("j".repeat(64), grant), key);
    assert.notEqual(deriveSessionKey("k".repeat(64), newLinkedGrantId(2, CODE_KEY, 1)), key);
  });
});

describe("SessionKeys on one database shared by two instances", () => {
  let storage: Storage;
  const clock = new ManualClock(Date.UTC(2026, 10, 26));
  before(async () => {
    storage = await openStorage("sqlite::memory:");
    await storage.migrate();
  });
  after(() => storage.close());

  it("agree on version 1, see a rotation within the refresh interval, and keep every version", async () => {
    const a = new SessionKeys(storage, clock);
    const b = new SessionKeys(storage, clock);
    const [first, second] = await Promise.all([a.current(), b.current()]);
    assert.equal(first.version, 1);
    assert.deepEqual(second, first, "both instances derive from the one key that won");

    const rotated = await a.rotate();
    assert.equal(rotated.version, 2);
    assert.equal((await a.current()).version, 2, "the rotating instance uses it at once");
    assert.equal((await b.current()).version, 1, "the other keeps its read until the interval passes");
    clock.advance(SESSION_KEY_REFRESH_MS);
    assert.equal((await b.current()).version, 1, "the read is in the background: no login waits for it");
    // The background read lands within a few turns of the event loop (bounded, not timed).
    for (let turn = 0; turn < 1000 && (await b.current()).version !== 2; turn++)
      await new Promise((resolve) => setImmediate(resolve));
    assert.equal((await b.current()).version, 2);

    assert.equal((await b.version(1))?.value, first.value, "older versions stay derivable");
    assert.equal(await b.version(99), null);
  });
});
