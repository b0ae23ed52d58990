/**
 * The batcher's decisions that need no database: what happens to a batch when its one
 * statement fails. (Against a real PostgreSQL: postgres.test.ts.)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ExchangeInput, ExchangeOutcome } from "../port.ts";
import { StorageUnavailableError } from "../port.ts";
import { ExchangeBatcher } from "./batcher.ts";

const input = (codeHash: string) => ({ codeHash }) as ExchangeInput;

function batcherWith(fast: (inputs: ExchangeInput[]) => Promise<Array<ExchangeOutcome | null>>) {
  const perExchange: string[] = [];
  const batcher = new ExchangeBatcher(
    (body) => body({ query: async () => ({ rows: [] }) } as never),
    async (_client, item) => {
      perExchange.push(item.codeHash);
      return { kind: "invalid" };
    },
    { maxInFlight: 1 },
    fast,
  );
  return { batcher, perExchange };
}

test("a connection lost during the batch statement fails every exchange of it as unavailable, and none is run again", async () => {
  const sent: string[][] = [];
  const { batcher, perExchange } = batcherWith(async (inputs) => {
    sent.push(inputs.map((i) => i.codeHash));
    throw new Error("Connection terminated unexpectedly");
  });
  const results = await Promise.allSettled(["b", "a", "c"].map((code) => batcher.submit(input(code))));
  for (const result of results) {
    assert.equal(result.status, "rejected");
    assert.ok((result as PromiseRejectedResult).reason instanceof StorageUnavailableError);
  }
  // The first went alone; the other two queued behind it, sent in code order.
  assert.deepEqual(sent, [["b"], ["a", "c"]]);
  assert.deepEqual(perExchange, [], "its commit may have happened: running it again could issue twice");
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
