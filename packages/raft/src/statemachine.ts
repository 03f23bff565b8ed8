/**
 * The replicated counter: what every replica computes from the same committed log.
 *
 * Exactly-once (Raft dissertation §6.3): the table of idempotency keys is part of the replicated
 * state, so a retry through another node, after a leader change or after a restart finds the
 * first outcome on whichever replica applies it. Everything here is a function of the log alone
 * (no local clock, no randomness), so every replica holds the same table at the same index.
 *
 * Bounds, and what they mean for a client:
 * - dedupTtlMs (default 24 h): a key is forgotten once the newest proposedAtMs seen (the leaders'
 *   clocks, carried in the log) is more than dedupTtlMs past the key's own proposedAtMs. The TTL is
 *   measured on leader clocks: a leader whose clock runs ahead shortens it for everyone.
 * - dedupMaxEntries (default 100 000): beyond it the oldest key by log index is forgotten (FIFO).
 * A retry whose key was forgotten is applied AGAIN. Clients must retry within both bounds:
 * at 1 000 keyed increments/s the default table covers only the last 100 s.
 * Expiry walks from the oldest key by index and stops at the first key still within the TTL, so
 * with skewed leader clocks a key can outlive its TTL until the keys before it expire (never the
 * reverse); this keeps apply O(1) amortized.
 *
 * Reusing an idempotency key with a different counter or delta returns the FIRST outcome, marked
 * duplicate: the key names the operation, not its arguments (the driver may reject such reuse).
 *
 * Overflow: a counter saturates at ±Number.MAX_SAFE_INTEGER. The driver validates each delta, but
 * cannot see the sum at apply time; a crash here would crash every replica at the same index,
 * forever (the log is replayed on restart), so the deterministic and live choice is to saturate.
 */
import { assert } from '@playground/core';
import type { Entry } from './core/types.js';

export interface ApplyResult {
  readonly key: string;
  readonly delta: number;
  /** The counter right after the increment (for a duplicate: right after the first one). */
  readonly value: number;
  readonly duplicate: boolean;
  /** The log index where the increment was applied (for a duplicate: the first one's). */
  readonly index: number;
}

export interface CounterStateMachineOptions {
  readonly dedupMaxEntries?: number;
  readonly dedupTtlMs?: number;
}

interface FirstOutcome {
  readonly key: string;
  readonly delta: number;
  readonly value: number;
  readonly index: number;
  readonly proposedAtMs: number;
}

export class CounterStateMachine {
  private readonly dedupMaxEntries: number;
  private readonly dedupTtlMs: number;
  private readonly counters = new Map<string, number>();
  /** Insertion order is log index order: the front is the oldest, a free FIFO. */
  private readonly dedup = new Map<string, FirstOutcome>();
  private applied = 0;
  /** The newest leader clock seen in the log: the state machine's only notion of time. */
  private newestProposedAtMs = Number.NEGATIVE_INFINITY;

  constructor(options: CounterStateMachineOptions = {}) {
    this.dedupMaxEntries = options.dedupMaxEntries ?? 100_000;
    this.dedupTtlMs = options.dedupTtlMs ?? 24 * 60 * 60 * 1000;
    assert(Number.isSafeInteger(this.dedupMaxEntries) && this.dedupMaxEntries >= 1, 'dedupMaxEntries must be a positive integer');
    assert(Number.isFinite(this.dedupTtlMs) && this.dedupTtlMs >= 0, 'dedupTtlMs must be a non-negative number');
  }

  get appliedIndex(): number {
    return this.applied;
  }

  /** Applies the next committed entry (each exactly once, in index order); null for a no-op. */
  apply(entry: Entry): ApplyResult | null {
    assert(entry.index === this.applied + 1, () => `applied entry ${entry.index} after ${this.applied}: entries must be applied in order, once each`);
    this.applied = entry.index;
    const command = entry.command;
    if (command === null) return null;
    assert(Number.isSafeInteger(command.delta), () => `entry ${entry.index}: delta ${command.delta} is not a safe integer`);
    assert(Number.isFinite(command.proposedAtMs), () => `entry ${entry.index}: proposedAtMs ${command.proposedAtMs} is not finite`);

    this.newestProposedAtMs = Math.max(this.newestProposedAtMs, command.proposedAtMs);
    this.expireDedup();
    if (command.idem !== undefined) {
      const first = this.firstOutcome(command.idem);
      if (first !== null) return first;
    }

    const value = saturatingAdd(this.counters.get(command.key) ?? 0, command.delta);
    this.counters.set(command.key, value);
    if (command.idem !== undefined) {
      this.dedup.set(command.idem, { key: command.key, delta: command.delta, value, index: entry.index, proposedAtMs: command.proposedAtMs });
      if (this.dedup.size > this.dedupMaxEntries) this.evictOldest();
    }
    return { key: command.key, delta: command.delta, value, duplicate: false, index: entry.index };
  }

  /** The first outcome of the increment with Idempotency-Key `idem`, as a duplicate would get it; null if none is remembered. */
  firstOutcome(idem: string): ApplyResult | null {
    const first = this.dedup.get(idem);
    return first === undefined ? null : { key: first.key, delta: first.delta, value: first.value, duplicate: true, index: first.index };
  }

  /** 0 for a key never incremented. */
  value(key: string): number {
    return this.counters.get(key) ?? 0;
  }

  snapshotForStatus(): { keys: number; dedupEntries: number; appliedIndex: number } {
    return { keys: this.counters.size, dedupEntries: this.dedup.size, appliedIndex: this.applied };
  }

  /** Forgets keys, oldest first, while they are older than the TTL on the log's clock. */
  private expireDedup(): void {
    const horizonMs = this.newestProposedAtMs - this.dedupTtlMs;
    for (const [idem, outcome] of this.dedup) {
      if (outcome.proposedAtMs >= horizonMs) return;
      this.dedup.delete(idem);
    }
  }

  private evictOldest(): void {
    const oldest = this.dedup.keys().next();
    if (!oldest.done) this.dedup.delete(oldest.value);
  }
}

function saturatingAdd(value: number, delta: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(Number.MIN_SAFE_INTEGER, value + delta));
}
