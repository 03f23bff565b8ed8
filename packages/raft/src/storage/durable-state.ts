/**
 * What a Raft node keeps on disk (Raft Figure 2: currentTerm, votedFor, log[]; plus the commit
 * index, as etcd-io/raft does) and the rules every save must obey. Both the file log and its
 * in-memory twin check saves with `checkSave`, and recovery re-checks every record with it, so a
 * log that breaks a Raft invariant is caught where it is written, not three bugs later.
 */
import { assert } from '@playground/core';
import type { Entry, HardState } from '../core/types.js';

export interface DurableState {
  hardState: HardState;
  /** From index 1, contiguous. */
  entries: Entry[];
}

export const INITIAL_HARD_STATE: HardState = Object.freeze({ term: 0, vote: null, commit: 0 });

/** The save/close shape shared by RaftLogFile and MemoryLog: what the driver depends on. */
export interface DurableLog {
  /** Resolves once hardState and entries are durable; an entry at an existing index replaces it and everything after. */
  save(hardState: HardState | null, entries: readonly Entry[]): Promise<void>;
  close(): Promise<void>;
}

/** Just enough of a log to check a save against. */
export interface LogView {
  readonly hardState: HardState;
  readonly lastIndex: number;
  /** The term of the entry at `index`; 0 for index 0. */
  termAt(index: number): number;
}

/**
 * Checks a save against the log and returns the index after which the log is cut before the
 * entries are appended (Raft §5.3: a conflicting suffix is deleted), or null for a pure append.
 * Throws AssertionError when the save would break an invariant; changes nothing.
 */
export function checkSave(view: LogView, hardState: HardState | null, entries: readonly Entry[]): number | null {
  const prev = view.hardState;
  if (hardState !== null) {
    assert(
      Number.isSafeInteger(hardState.term) && Number.isSafeInteger(hardState.commit),
      () => `hard state has non-integer fields: ${JSON.stringify(hardState)}`,
    );
    assert(hardState.term >= prev.term, () => `term went backwards: ${prev.term} -> ${hardState.term}`);
    // Raft §5.2: at most one vote per term, so a vote once cast is never changed within that term.
    assert(
      hardState.term > prev.term || prev.vote === null || hardState.vote === prev.vote,
      () => `vote changed within term ${prev.term}: ${prev.vote} -> ${hardState.vote}`,
    );
    assert(hardState.commit >= prev.commit, () => `commit index went backwards: ${prev.commit} -> ${hardState.commit}`);
  }
  const next = hardState ?? prev;
  let truncateAfter: number | null = null;
  let lastIndex = view.lastIndex;
  const first = entries[0];
  if (first !== undefined) {
    assert(
      Number.isSafeInteger(first.index) && first.index >= 1 && first.index <= view.lastIndex + 1,
      () => `entries start at ${first.index}, but the log ends at ${view.lastIndex}: a gap`,
    );
    if (first.index <= view.lastIndex) {
      // Leader Completeness (Raft §5.4): a committed entry is never replaced.
      assert(first.index > prev.commit, () => `overwriting index ${first.index}, at or below commit ${prev.commit}`);
      truncateAfter = first.index - 1;
    }
    let prevTerm = view.termAt(first.index - 1);
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      assert(entry.index === first.index + i, () => `entries not contiguous: index ${entry.index} at position ${i} after ${first.index}`);
      // Terms never decrease along a Raft log, and no entry is from a term the node has not reached.
      assert(entry.term >= prevTerm, () => `term decreases along the log at index ${entry.index}: ${prevTerm} -> ${entry.term}`);
      assert(entry.term <= next.term, () => `entry ${entry.index} has term ${entry.term}, beyond the current term ${next.term}`);
      prevTerm = entry.term;
    }
    lastIndex = first.index + entries.length - 1;
  }
  assert(next.commit <= lastIndex, () => `commit ${next.commit} beyond the last index ${lastIndex}`);
  return truncateAfter;
}

/** Cuts `list` (item i holds index i + 1) after `truncateAfter` and appends `items`. */
export function spliceLog<T>(list: T[], truncateAfter: number | null, items: readonly T[]): void {
  if (truncateAfter !== null) list.length = truncateAfter;
  for (const item of items) list.push(item);
}

export function viewOf(hardState: HardState, entries: readonly { readonly term: number }[]): LogView {
  return {
    hardState,
    lastIndex: entries.length,
    termAt: (index) => (index === 0 ? 0 : (entries[index - 1]?.term ?? 0)),
  };
}
