/**
 * The bench's ratio arithmetic (bench/round-stats.mjs), on fixed numbers: the median of the
 * rounds' ratios, which drift of the machine cannot bias, not the ratio of the medians.
 * @see issue 6
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
// @ts-expect-error: a plain script module of the bench, without type declarations
import { median, roundRatio } from "../../../bench/round-stats.mjs";

const ratio = roundRatio as (values: number[], reference: number[]) => number | null;
const mid = median as (xs: number[]) => number;

describe("bench round statistics", () => {
  it("median: the middle value, or the mean of the two middle ones", () => {
    assert.equal(mid([3, 1, 2]), 2);
    assert.equal(mid([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(mid([])));
  });

  it("roundRatio is the median of the per-round ratios", () => {
    // The ceiling halves in round 2 and the system with it: the ratio held at 0.2 in both of
    // those rounds. The ratio of the medians (16 / 100 = 0.16) would report a change that no
    // round saw.
    assert.equal(ratio([20, 10, 16], [100, 50, 100]), 0.2);
    // Median, not mean, of the ratios (0.1, 0.2, 0.9).
    assert.equal(ratio([10, 20, 90], [100, 100, 100]), 0.2);
  });

  it("roundRatio is null when the rounds do not pair up or a reference run measured nothing", () => {
    assert.equal(ratio([1, 2], [1]), null);
    assert.equal(ratio([], []), null);
    assert.equal(ratio([1, 2], [1, 0]), null);
    assert.equal(ratio([1, Number.NaN], [1, 1]), null);
  });
});
