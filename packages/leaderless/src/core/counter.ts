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

  /** Adds a keyed increment; a second add of the same id changes nothing (idempotence). */
  addDot(id: string, delta: number): 'added' | 'duplicate' {
    const existing = this.dots.get(id);
    if (existing !== undefined) {
      // Same Idempotency-Key, different delta: a client error. Keep the smaller delta on every
      // replica so that all of them converge on one answer whatever the arrival order.
      if (delta < existing) this.replaceDot(id, existing, delta);
      return 'duplicate';
    }
    this.dots.set(id, delta);
    this.dotsTotal += delta;
    xorInto(this.dotsDigest, digestOf(`${id}\u0000${delta}`));
    return 'added';
  }

  /** Raises a coordinator's entry of the PN-counter; lower values are old news. */
  raiseSum(node: NodeId, p: number, n: number): void {
    assert(p >= 0 && n >= 0, `sums must be non-negative, got ${p}/${n}`);
    const current = this.sums.get(node);
    if (current === undefined) this.sums.set(node, { p, n });
    else this.sums.set(node, { p: Math.max(current.p, p), n: Math.max(current.n, n) });
  }

  sumOf(node: NodeId): { p: number; n: number } {
    return this.sums.get(node) ?? { p: 0, n: 0 };
  }

  join(other: CounterCrdt): void {
    for (const [id, delta] of other.dots) this.addDot(id, delta);
    for (const [node, s] of other.sums) this.raiseSum(node, s.p, s.n);
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
 * wall clock (plus its configured skew), resolved like Cassandra: the highest timestamp wins,
 * ties broken by writer id then value. Concurrent read-modify-write increments are lost here.
 */
export interface LwwRegister {
  readonly value: number;
  readonly tsMs: number;
  readonly writer: NodeId;
}

/** True when `a` beats `b` under last-writer-wins. */
export function lwwWins(a: LwwRegister, b: LwwRegister): boolean {
  if (a.tsMs !== b.tsMs) return a.tsMs > b.tsMs;
  if (a.writer !== b.writer) return a.writer > b.writer;
  return a.value > b.value;
}

export function lwwDigest(r: LwwRegister): string {
  return digestHex(digestOf(`${r.value}\u0000${r.tsMs}\u0000${r.writer}`));
}
