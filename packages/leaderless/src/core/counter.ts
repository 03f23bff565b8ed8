import { assert } from '@playground/core';
import type { NodeId } from '@playground/core';
import { digestHex, digestOf, xorInto } from './hash.js';
import type { Digest64 } from './hash.js';

/**
 * The payload of a version in `merge` mode: a counter CRDT that joins without loss.
 *
 * - `dots`: increments that carry the client's Idempotency-Key, keyed by it. A retry of the
 *   same key through any coordinator lands on the same dot, and a union counts it once: the
 *   anchors' "key the increment by the client's id" (a PN-counter keyed by the coordinating
 *   server double-counts retries, as Riak and Cassandra warn).
 * - `sums`: increments without a key, as a PN-counter per coordinator (Shapiro et al. 2011):
 *   each coordinator is the only writer of its entry, so join is a pointwise maximum. No key,
 *   no retry safety: a client retry of a keyless increment counts again, as documented.
 *
 * Join is commutative, associative and idempotent, so siblings, read repair, hints and
 * anti-entropy can all exchange state in any order, any number of times.
 *
 * Mutable on purpose: a hot key collects many dots, and copying them on every write would make
 * each write O(dots). Whoever holds a CounterCrdt owns it; `clone` before sharing.
 */
export class CounterCrdt {
  private readonly dots = new Map<string, number>();
  private readonly sums = new Map<NodeId, { p: number; n: number }>();
  private dotsDigest: Digest64 = { hi: 0, lo: 0 };
  private dotsTotal = 0;

  get dotCount(): number {
    return this.dots.size;
  }

  hasDot(id: string): boolean {
    return this.dots.has(id);
  }

  /**
   * Adds a keyed increment; a second add of the same id changes nothing (idempotence), except
   * lowering its delta (below). True when it changed.
   */
  addDot(id: string, delta: number): boolean {
    const existing = this.dots.get(id);
    if (existing !== undefined) {
      // Same Idempotency-Key, different delta: a client error. Keep the smaller delta on every
      // replica so that all of them converge on one answer whatever the arrival order.
      if (delta >= existing) return false;
      this.replaceDot(id, existing, delta);
      return true;
    }
    this.dots.set(id, delta);
    this.dotsTotal += delta;
    xorInto(this.dotsDigest, digestOf(`${id}\u0000${delta}`));
    return true;
  }

  /** Raises a coordinator's entry of the PN-counter; lower values are old news. True when it changed. */
  raiseSum(node: NodeId, p: number, n: number): boolean {
    assert(p >= 0 && n >= 0, `sums must be non-negative, got ${p}/${n}`);
    const current = this.sums.get(node);
    if (current !== undefined && p <= current.p && n <= current.n) return false;
    this.sums.set(node, current === undefined ? { p, n } : { p: Math.max(current.p, p), n: Math.max(current.n, n) });
    return true;
  }

  sumOf(node: NodeId): { p: number; n: number } {
    return this.sums.get(node) ?? { p: 0, n: 0 };
  }

  /** Joins `other` into this one; true when this changed (a dot added or lowered, a sum raised). */
  join(other: CounterCrdt): boolean {
    let changed = false;
    for (const [id, delta] of other.dots) changed = this.addDot(id, delta) || changed;
    for (const [node, s] of other.sums) changed = this.raiseSum(node, s.p, s.n) || changed;
    return changed;
  }

  value(): number {
    let total = this.dotsTotal;
    for (const s of this.sums.values()) total += s.p - s.n;
    return total;
  }

  digest(): string {
    const d = { ...this.dotsDigest };
    for (const [node, s] of this.sums) xorInto(d, digestOf(`s\u0000${node}\u0000${s.p}\u0000${s.n}`));
    return digestHex(d);
  }

  clone(): CounterCrdt {
    const copy = new CounterCrdt();
    copy.join(this);
    return copy;
  }

  toWire(): CounterWire {
    const out: CounterWire = {};
    if (this.dots.size > 0) out.d = [...this.dots];
    if (this.sums.size > 0) out.s = Object.fromEntries([...this.sums].map(([node, s]) => [node, [s.p, s.n]]));
    return out;
  }

  static fromWire(wire: CounterWire): CounterCrdt {
    const crdt = new CounterCrdt();
    for (const [id, delta] of wire.d ?? []) crdt.addDot(id, delta);
    for (const [node, [p, n]] of Object.entries(wire.s ?? {})) crdt.raiseSum(node, p, n);
    return crdt;
  }

  private replaceDot(id: string, from: number, to: number): void {
    this.dots.set(id, to);
    this.dotsTotal += to - from;
    xorInto(this.dotsDigest, digestOf(`${id}\u0000${from}`));
    xorInto(this.dotsDigest, digestOf(`${id}\u0000${to}`));
  }
}

/** On the wire and on disk: `d` dots as [id, delta] pairs, `s` sums as node -> [p, n]. */
export interface CounterWire {
  d?: [string, number][];
  s?: Record<string, [number, number]>;
}

/**
 * The payload of a version in `lww` mode: a plain integer register stamped with the writer's
 * wall clock in microseconds (plus its configured skew), resolved like Cassandra: the highest
 * timestamp wins, ties broken by writer id then value. Concurrent read-modify-write increments
 * are lost here. Microseconds, as Cassandra: with milliseconds, two causally ordered writes in
 * the same millisecond would tie and the earlier one could win.
 */
export interface LwwRegister {
  readonly value: number;
  readonly tsUs: number;
  readonly writer: NodeId;
  /**
   * The Idempotency-Keys of the last LWW_RECENT_KEYS_MAX increments folded into `value`, newest
   * first. They travel with the value, so a key is listed exactly when its increment is in the
   * value that won: a retry of a listed key is a duplicate, and a retry of an increment whose
   * write was overwritten (lost) applies it once. A retry older than the last
   * LWW_RECENT_KEYS_MAX increments of the key is counted again: that is the bound.
   */
  readonly keys?: readonly string[];
}

export const LWW_RECENT_KEYS_MAX = 256;

/** True when `a` beats `b` under last-writer-wins. */
export function lwwWins(a: LwwRegister, b: LwwRegister): boolean {
  if (a.tsUs !== b.tsUs) return a.tsUs > b.tsUs;
  if (a.writer !== b.writer) return a.writer > b.writer;
  return a.value > b.value;
}

export function lwwDigest(r: LwwRegister): string {
  return digestHex(digestOf(`${r.value}\u0000${r.tsUs}\u0000${r.writer}\u0000${(r.keys ?? []).join('\u0000')}`));
}
