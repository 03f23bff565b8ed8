/**
 * This node's own increments, as deltas to make durable and then merge. The driver persists a
 * delta before merging it (an acknowledgement, and anything sent to a peer, is a promise about
 * disk), so several increments can be prepared before the first is merged: the seqs and plain
 * totals they take are reserved here so that no two prepared increments collide. A crash loses
 * a suffix of prepared-but-not-durable increments, none of them acknowledged or sent.
 */
import { assert, BadRequestError, type NodeId } from '@playground/core';
import type { CounterCrdt } from './counter.js';
import type { Dot, Halves, StateDelta } from './types.js';

export class LocalWriter {
  private reservedSeq = 0;
  private readonly reservedPlain = new Map<string, Halves>();

  constructor(private readonly crdt: CounterCrdt) {}

  /** An increment without an Idempotency-Key: this node's new absolute P/N totals for the key. */
  preparePlain(key: string, delta: number): StateDelta {
    this.checkDelta(delta);
    const applied = this.crdt.plainOf(key, this.crdt.self);
    const reserved = this.reservedPlain.get(key) ?? applied;
    const base = { p: Math.max(applied.p, reserved.p), n: Math.max(applied.n, reserved.n) };
    const next = delta >= 0 ? { p: base.p + delta, n: base.n } : { p: base.p, n: base.n - delta };
    this.reservedPlain.set(key, next);
    return { plain: [{ origin: this.crdt.self, key, ...next }], dots: [], compacted: [] };
  }

  /** An increment with an Idempotency-Key: a new dot. The caller checked lookupIdem() first. */
  prepareDot(key: string, delta: number, idem: string): { delta: StateDelta; dot: Dot } {
    this.checkDelta(delta);
    // A node makes at most one dot per key: its own dots are never concurrent, so two would both count.
    assert(this.crdt.lookupIdem(idem) === undefined, () => `${this.crdt.self} already holds a dot for ${idem}`);
    const seq = Math.max(this.reservedSeq, this.crdt.highestOwnSeq()) + 1;
    this.reservedSeq = seq;
    // fromEntries, not assignment: a node id may be spelled `__proto__`.
    const deps: Record<NodeId, number> = Object.fromEntries(
      [...this.crdt.seenVector()].filter(([origin, s]) => origin !== this.crdt.self && s > 0),
    );
    const dot: Dot = { origin: this.crdt.self, seq, idem, key, delta, deps };
    this.crdt.preparingDot(dot);
    return { delta: { plain: [], dots: [dot], compacted: [] }, dot };
  }

  private checkDelta(delta: number): void {
    if (!Number.isSafeInteger(delta)) throw new BadRequestError('delta', 'must be a safe integer');
    if (this.crdt.mode === 'g' && delta < 0) {
      throw new BadRequestError('delta', 'this counter is a G-counter (--counter gcounter): it only grows, a negative delta is refused');
    }
  }
}
