/**
 * The batcher's decisions that need no database: what happens to a batch when its one
 * statement fails. (Against a real PostgreSQL: postgres.test.ts.)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ExchangeInput, ExchangeOutcome } from "../port.ts";
import { StorageOutcomeUnknownError, StorageUnavailableError } from "../port.ts";
import { type BatchOptions, ExchangeBatcher } from "./batcher.ts";

const input = (codeHash: string) => ({ codeHash }) as ExchangeInput;

function batcherWith(
  fast: (inputs: ExchangeInput[]) => Promise<Array<ExchangeOutcome | null>>,
  options: BatchOptions = { maxInFlight: 1 },
) {
  const perExchange: string[] = [];
  const batcher = new ExchangeBatcher(
    (body) => body({ query: async () => ({ rows: [] }) } as never),
    async (_client, item) => {
      perExchange.push(item.codeHash);
      return { kind: "invalid" };
    },
    options,
    fast,
  );
  return { batcher, perExchange };
}

const decided: ExchangeOutcome = { kind: "not_visible" };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a connection lost during the batch statement never answers 'retry' (its commit may have happened), and none is run again", async () => {
  const sent: string[][] = [];
  const { batcher, perExchange } = batcherWith(async (inputs) => {
    sent.push(inputs.map((i) => i.codeHash));
    throw new Error("Connection terminated unexpectedly");
  });
  const results = await Promise.allSettled(["b", "a", "c"].map((code) => batcher.submit(input(code))));
  for (const result of results) {
    assert.equal(result.status, "rejected");
    assert.ok((result as PromiseRejectedResult).reason instanceof StorageOutcomeUnknownError);
  }
  // The first went alone; the other two queued behind it, sent in code order.
  assert.deepEqual(sent, [["b"], ["a", "c"]]);
  assert.deepEqual(perExchange, [], "its commit may have happened: running it again could issue twice");
});

test("a batch that may have committed is settled by the read-back, each caller with its own answer", async () => {
  const handed: Array<{ codes: string[]; cause: unknown }> = [];
  const lost = new Error("Connection terminated unexpectedly");
  const batcher = new ExchangeBatcher(
    (body) => body({ query: async () => ({ rows: [] }) } as never),
    async () => ({ kind: "invalid" }),
    { maxInFlight: 1 },
    async () => {
      throw lost;
    },
    async (items, cause) => {
      handed.push({ codes: items.map((item) => item.input.codeHash), cause });
      for (const item of items)
        if (item.input.codeHash === "a") item.resolve(decided);
        else item.reject(new StorageUnavailableError("nothing committed"));
    },
  );
  const [a, b] = await Promise.allSettled(["a", "b"].map((code) => batcher.submit(input(code))));
  assert.deepEqual(a, { status: "fulfilled", value: decided });
  assert.ok(b?.status === "rejected" && b.reason instanceof StorageUnavailableError);
  assert.deepEqual(handed.flatMap((h) => h.codes).sort(), ["a", "b"]);
  assert.ok(handed.every((h) => h.cause === lost));
});

test("no connection for the batch statement (nothing sent) fails its callers as retryable, without a read-back", async () => {
  let readBacks = 0;
  const batcher = new ExchangeBatcher(
    (body) => body({ query: async () => ({ rows: [] }) } as never),
    async () => ({ kind: "invalid" }),
    { maxInFlight: 1 },
    async () => {
      throw new StorageUnavailableError("no connection");
    },
    async () => {
      readBacks++;
    },
  );
  await assert.rejects(batcher.submit(input("a")), StorageUnavailableError);
  assert.equal(readBacks, 0);
});

test("an error PostgreSQL reported (nothing committed) sends the whole batch down the per-exchange path", async () => {
  const { batcher, perExchange } = batcherWith(async () => {
    throw Object.assign(new Error("deadlock detected"), { code: "40P01" });
  });
  const outcomes = await Promise.all(["b", "a"].map((code) => batcher.submit(input(code))));
  assert.deepEqual(outcomes, [{ kind: "invalid" }, { kind: "invalid" }]);
  assert.deepEqual(perExchange, ["b", "a"]);
});

test("entries the statement decided are answered from it; only the undecided go on", async () => {
  const issued: ExchangeOutcome = { kind: "not_visible" };
  const { batcher, perExchange } = batcherWith(async (inputs) =>
    inputs.map((i) => (i.codeHash === "x" ? issued : null)),
  );
  const outcomes = await Promise.all(["x", "y"].map((code) => batcher.submit(input(code))));
  assert.deepEqual(outcomes, [issued, { kind: "invalid" }]);
  assert.deepEqual(perExchange, ["y"]);
});

test("by default one batch runs at a time while batches are quick: what queues meanwhile goes out as one", {
  timeout: 5000,
}, async () => {
  const sent: string[][] = [];
  let running = 0;
  let most = 0;
  const { batcher } = batcherWith(async (inputs) => {
    running += 1;
    most = Math.max(most, running);
    sent.push(inputs.map((i) => i.codeHash));
    await sleep(5);
    running -= 1;
    return inputs.map(() => decided);
  }, {});
  // Submitted together: "a" goes out at once, the rest queue while it runs.
  const first = batcher.submit(input("a"));
  const rest = ["d", "b", "c"].map((code) => batcher.submit(input(code)));
  await Promise.all([first, ...rest]);
  assert.deepEqual(sent, [["a"], ["b", "c", "d"]]);
  assert.equal(most, 1, "no second batch while the first took 5 ms of the 20 allowed");
  await batcher.drain();
});

test("a stalled batch does not hold up the rest: after overlapAfterMs a second batch runs and answers", {
  timeout: 5000,
}, async () => {
  const sent: string[][] = [];
  let release!: () => void;
  const stalled = new Promise<void>((resolve) => {
    release = resolve;
  });
  const { batcher } = batcherWith(
    async (inputs) => {
      sent.push(inputs.map((i) => i.codeHash));
      if (inputs.some((i) => i.codeHash === "locked")) await stalled; // e.g. a row lock held elsewhere
      return inputs.map(() => decided);
    },
    { overlapAfterMs: 300 },
  );
  let lockedDone = false;
  const started = performance.now();
  const locked = batcher.submit(input("locked")).then((outcome) => {
    lockedDone = true;
    return outcome;
  });
  const others = await Promise.all(["y", "x"].map((code) => batcher.submit(input(code))));
  const waited = performance.now() - started;
  assert.deepEqual(others, [decided, decided]);
  assert.equal(lockedDone, false, "answered while the stalled batch still waits");
  assert.ok(waited >= 300, `the second batch waited for overlapAfterMs first (${waited.toFixed(1)} ms)`);
  assert.deepEqual(sent, [["locked"], ["x", "y"]]);
  // The only batch still running is the stalled one, long past overlapAfterMs: what comes now
  // goes out at once, not after another delay.
  const asked = performance.now();
  assert.deepEqual(await batcher.submit(input("z")), decided);
  const took = performance.now() - asked;
  assert.ok(took < 150, `z went out at once (${took.toFixed(1)} ms)`);
  assert.equal(lockedDone, false);
  release();
  assert.deepEqual(await locked, decided);
  await batcher.drain();
});

test("with maxInFlight 1 a stalled batch is waited for: nothing overlaps it", { timeout: 5000 }, async () => {
  let release!: () => void;
  const stalled = new Promise<void>((resolve) => {
    release = resolve;
  });
  const sent: string[][] = [];
  const { batcher } = batcherWith(
    async (inputs) => {
      sent.push(inputs.map((i) => i.codeHash));
      if (sent.length === 1) await stalled;
      return inputs.map(() => decided);
    },
    { maxInFlight: 1, overlapAfterMs: 1 },
  );
  const first = batcher.submit(input("a"));
  await sleep(1);
  const second = batcher.submit(input("b"));
  await sleep(20);
  assert.deepEqual(sent, [["a"]]);
  release();
  await Promise.all([first, second]);
  assert.deepEqual(sent, [["a"], ["b"]]);
});
