/**
 * The vocabulary of the pure CRDT core. Everything here is plain data: the same shapes cross
 * the wire (msgpack) and land in the write-ahead log, so a record on disk is just a delta that
 * recovery merges again (merge is idempotent, so replaying twice is harmless).
 */
import type { NodeId } from '@playground/core';

/** pn: increments and decrements (PN-counter); g: increments only (G-counter). */
export type CounterMode = 'pn' | 'g';

/** Positive and negative halves of a PN-counter entry (Shapiro et al. 2011, §3.1.2). */
export interface Halves {
  readonly p: number;
  readonly n: number;
}

/**
 * An increment that carries a client's Idempotency-Key: a dot (origin, seq) plus what it adds.
 * `deps` is the origin's contiguous knowledge (origin -> highest seq seen) when it created the
 * dot, without the origin itself: two dots are concurrent iff neither creator had seen the other.
 */
export interface Dot {
  readonly origin: NodeId;
  readonly seq: number;
  readonly idem: string;
  readonly key: string;
  readonly delta: number;
  readonly deps: Readonly<Record<NodeId, number>>;
}

/** An increment without an Idempotency-Key: the origin's absolute P/N totals for one key. */
export interface PlainCell {
  readonly origin: NodeId;
  readonly key: string;
  readonly p: number;
  readonly n: number;
}

/**
 * The origin's dots with seq <= upToSeq, folded: `sums` holds, per key, the deltas of those
 * dots that count (see counter.ts). Two replicas that fold the same prefix get the same sums,
 * so records merge by the larger upToSeq.
 */
export interface Compacted {
  readonly origin: NodeId;
  readonly upToSeq: number;
  readonly sums: ReadonlyMap<string, Halves>;
}

/** A join-decomposed piece of state: a delta, or (everything) the full state. */
export interface StateDelta {
  readonly plain: readonly PlainCell[];
  readonly dots: readonly Dot[];
  readonly compacted: readonly Compacted[];
}

export const EMPTY_DELTA: StateDelta = { plain: [], dots: [], compacted: [] };

export function isEmptyDelta(delta: StateDelta): boolean {
  return delta.plain.length === 0 && delta.dots.length === 0 && delta.compacted.length === 0;
}

/** Contiguous knowledge per origin: every dot of `origin` with seq <= value is held here. */
export type SeenVector = ReadonlyMap<NodeId, number>;
