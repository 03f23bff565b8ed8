import { assert } from './assert.js';

/**
 * Vector clocks (Lamport 1978; Dynamo §4.4): a counter per node that coordinated a write.
 * Plain objects so that they cross the wire (msgpack, JSON) unchanged.
 */
export type VClock = Readonly<Record<string, number>>;

export type Order = 'before' | 'after' | 'equal' | 'concurrent';

export const emptyClock: VClock = Object.freeze({});

export function increment(clock: VClock, node: string): VClock {
  return { ...clock, [node]: (clock[node] ?? 0) + 1 };
}

/** Pointwise maximum: the least clock that dominates both. */
export function merge(a: VClock, b: VClock): VClock {
  const out: Record<string, number> = { ...a };
  for (const [node, n] of Object.entries(b)) {
    if (n > (out[node] ?? 0)) out[node] = n;
  }
  return out;
}

/** How `a` relates to `b`: happened before, after, the same, or concurrent. */
export function compare(a: VClock, b: VClock): Order {
  let aBigger = false;
  let bBigger = false;
  for (const node of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[node] ?? 0;
    const y = b[node] ?? 0;
    if (x > y) aBigger = true;
    else if (y > x) bBigger = true;
    if (aBigger && bBigger) return 'concurrent';
  }
  if (aBigger) return 'after';
  if (bBigger) return 'before';
  return 'equal';
}

/** True when `a` has seen everything `b` has (a >= b pointwise). */
export function descends(a: VClock, b: VClock): boolean {
  const order = compare(a, b);
  return order === 'after' || order === 'equal';
}

/**
 * Validates a clock that came from outside (a peer message or a client context): an object
 * of node id to a non-negative safe integer, with at most `maxEntries` entries.
 */
export function parseClock(value: unknown, maxEntries: number): VClock | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'a vector clock must be an object';
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length > maxEntries) return `a vector clock may have at most ${maxEntries} entries`;
  const out: Record<string, number> = {};
  for (const [node, n] of entries) {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      return `vector clock entry ${JSON.stringify(node)} must be a non-negative integer`;
    }
    out[node] = n;
  }
  return out;
}

export function assertClock(clock: VClock): void {
  for (const [node, n] of Object.entries(clock)) {
    assert(Number.isSafeInteger(n) && n >= 0, `clock entry ${node}=${n} is not a non-negative integer`);
  }
}
