/**
 * The in-memory twin of RaftLogFile, for tests and the simulator: the same checks, the same
 * semantics, no disk. A save is durable the moment it resolves; a simulated crash keeps the
 * MemoryLog and restarts the node from `state()`.
 */
import { assert } from '@playground/core';
import type { Entry, HardState } from '../core/types.js';
import { checkSave, INITIAL_HARD_STATE, spliceLog, viewOf, type DurableLog, type DurableState } from './durable-state.js';

export class MemoryLog implements DurableLog {
  private hardState: HardState;
  private readonly entries: Entry[];
  private closed = false;

  constructor(initial?: DurableState) {
    this.hardState = initial?.hardState ?? INITIAL_HARD_STATE;
    this.entries = [];
    if (initial !== undefined) checkSave(viewOf(INITIAL_HARD_STATE, []), this.hardState, initial.entries);
    spliceLog(this.entries, null, initial?.entries ?? []);
  }

  async save(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    assert(!this.closed, 'save on a closed MemoryLog');
    const truncateAfter = checkSave(viewOf(this.hardState, this.entries), hardState, entries);
    spliceLog(this.entries, truncateAfter, entries);
    if (hardState !== null) this.hardState = hardState;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** What a node restarted on this log recovers (a copy: later saves do not change it). */
  state(): DurableState {
    return { hardState: this.hardState, entries: [...this.entries] };
  }
}
