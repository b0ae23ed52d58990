// The bench's arithmetic, apart from its processes so that a test can pin it down.

/** The median of a non-empty list of numbers (NaN for an empty one). */
export function median(xs) {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/**
 * A system's speed against a reference measured in the same rounds: the median over rounds of
 * the ratio of the two runs of a round (`values[i] / reference[i]`), not the ratio of their
 * medians. Runs of one round are tens of seconds apart, runs of different rounds minutes, so
 * drift of the machine's speed moves the two runs of a round more alike than any two medians.
 * null when the rounds do not pair up or a reference run measured nothing.
 *
 * @param {number[]} values req/s of the system, one per round
 * @param {number[]} reference req/s of the reference, one per round
 * @returns {number | null}
 */
export function roundRatio(values, reference) {
  if (values.length === 0 || values.length !== reference.length) return null;
  if (reference.some((r) => !(r > 0)) || values.some((v) => !Number.isFinite(v))) return null;
  return median(values.map((v, i) => v / reference[i]));
}
