/** Unique to this bench process, so that keys never collide across runs on one cluster. */
export const runTag = `${process.pid.toString(36)}${Date.now().toString(36)}`;

/** A fresh key per call: `${prefix}-${runTag}-1`, `-2`, ... (Idempotency-Keys, etcd keys). */
export function keySequence(prefix: string): () => string {
  let n = 0;
  return () => `${prefix}-${runTag}-${++n}`;
}

/**
 * Increments per counter key in a long keyed load: far below the leaderless topology's default
 * bound on the Idempotency-Keys one key remembers (--dedup-max, 100,000; at the bound the key
 * refuses keyed increments with 503), whatever the machine's speed or the run's length.
 */
export const INCREMENTS_PER_KEY = 10_000;

/**
 * The counter keys of a long keyed load, a fresh one every `span` increments, so that no key
 * reaches a per-key bound and a load of any length measures increments, not refusals.
 */
export function rotatingKeys(prefix: string, span = INCREMENTS_PER_KEY): { next: () => string; upcoming: () => string } {
  if (!Number.isInteger(span) || span < 1) throw new RangeError(`span must be a positive integer, got ${span}`);
  const tag = `${prefix}-${runTag}`;
  let n = 0;
  const keyOf = (i: number): string => `${tag}-${Math.floor(i / span)}`;
  return {
    /** The key of the next increment. */
    next: () => keyOf(n++),
    /** What next() will return, without taking it: the key a load about to start begins on. */
    upcoming: () => keyOf(n),
  };
}
