import { assert } from '@playground/core';
import type { Entry } from './types.js';

/**
 * The core's in-memory image of the log (no snapshots in v1: the entry with index i sits at
 * entries[i - 1]). It also remembers what the driver has been handed and what it has made
 * durable, because a vote, an acknowledgement or the leader's own match are promises about
 * disk, not about memory (Raft Figure 2, "persistent state").
 */
export class RaftLog {
  private readonly entries: Entry[] = [];
  /** Raft Figure 2 commitIndex: never decreases, never beyond lastIndex. */
  private committed: number;
  /** The first index not yet handed to the driver in a Ready (etcd's "unstable" offset). */
  private unstableFrom: number;
  /** The last index the driver has reported durable through advance(). */
  private persisted: number;

  constructor(restored: readonly Entry[], commit: number) {
    for (const entry of restored) this.appendOne(entry);
    assert(
      Number.isInteger(commit) && commit >= 0 && commit <= this.lastIndex,
      () => `restored commit ${commit} is beyond the restored log (last index ${this.lastIndex})`,
    );
    this.committed = commit;
    this.unstableFrom = this.lastIndex + 1;
    this.persisted = this.lastIndex;
  }

  get lastIndex(): number {
    return this.entries.length;
  }

  get lastTerm(): number {
    return this.entries[this.entries.length - 1]?.term ?? 0;
  }

  get commitIndex(): number {
    return this.committed;
  }

  get persistedIndex(): number {
    return this.persisted;
  }

  /** The term of the entry at `index`; 0 for the empty prefix (index 0); undefined beyond the log. */
  termAt(index: number): number | undefined {
    if (index === 0) return 0;
    return this.entries[index - 1]?.term;
  }

  entryAt(index: number): Entry | undefined {
    return index >= 1 ? this.entries[index - 1] : undefined;
  }

  /** Entries [from, to], both inclusive, clamped to the log. */
  slice(from: number, to: number): Entry[] {
    return this.entries.slice(Math.max(from, 1) - 1, Math.min(to, this.lastIndex));
  }

  /** Appends one entry at lastIndex + 1 (a leader's proposal, or a follower's new suffix). */
  append(entry: Entry): void {
    this.appendOne(entry);
  }

  /**
   * Makes the log hold `entries` (contiguous, already checked to follow a matching prevIndex),
   * truncating the first conflicting suffix (Raft §5.3). Committed entries are never truncated:
   * a conflict there means two leaders disagreed on a committed entry, a safety violation.
   */
  appendFromLeader(entries: readonly Entry[]): void {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      const existing = this.termAt(entry.index);
      if (existing === entry.term) continue;
      if (existing !== undefined) this.truncateFrom(entry.index);
      for (let j = i; j < entries.length; j++) this.appendOne(entries[j] as Entry);
      return;
    }
  }

  /** Raises commitIndex; it never decreases and never passes the end of the log. */
  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex, () => `commit ${index} beyond last index ${this.lastIndex}`);
    this.committed = index;
    return true;
  }

  /**
   * The largest index holding `term`, or 0 if the log has none. Terms never decrease along a
   * log (each leader appends in its own, newer term), so a binary search suffices.
   */
  lastIndexOfTerm(term: number): number {
    let lo = 0; // termAt(lo) <= term always holds (termAt(0) = 0)
    let hi = this.lastIndex;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.termAt(mid) as number) <= term) lo = mid;
      else hi = mid - 1;
    }
    return lo > 0 && this.termAt(lo) === term ? lo : 0;
  }

  /** The smallest index holding a term >= `term` (lastIndex + 1 if none). */
  firstIndexOfTerm(term: number): number {
    let lo = 1;
    let hi = this.lastIndex + 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.termAt(mid) as number) >= term) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  hasUnstable(): boolean {
    return this.unstableFrom <= this.lastIndex;
  }

  /** The entries the driver has not been handed yet; from now on they are its to persist. */
  takeUnstable(): Entry[] {
    const out = this.unstableFrom <= this.lastIndex ? this.entries.slice(this.unstableFrom - 1) : [];
    this.unstableFrom = this.lastIndex + 1;
    return out;
  }

  /**
   * The driver has made durable every entry through `last`. If the log was truncated since,
   * the entry is gone or has another term and nothing is learned (the overwrite is itself in a
   * later Ready); if it is still there, Log Matching (§5.3) says the whole prefix is too.
   */
  persistedThrough(last: Entry): void {
    if (this.termAt(last.index) === last.term && last.index > this.persisted) this.persisted = last.index;
  }

  private truncateFrom(index: number): void {
    assert(
      index > this.committed,
      () => `refusing to truncate committed entries: conflict at ${index}, commit ${this.committed}`,
    );
    this.entries.length = index - 1;
    if (this.unstableFrom > index) this.unstableFrom = index;
    if (this.persisted >= index) this.persisted = index - 1;
  }

  private appendOne(entry: Entry): void {
    assert(
      entry.index === this.lastIndex + 1,
      () => `log not contiguous: appending index ${entry.index} after ${this.lastIndex}`,
    );
    assert(
      Number.isInteger(entry.term) && entry.term >= this.lastTerm && entry.term > 0,
      () => `log terms must not decrease: term ${entry.term} at ${entry.index} after term ${this.lastTerm}`,
    );
    this.entries.push(entry);
  }
}
