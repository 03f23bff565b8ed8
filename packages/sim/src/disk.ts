/**
 * A simulated disk for one node. Writes are buffered until a sync completes (after a simulated
 * fsync latency); a crash before that loses them, except for a random prefix that the "OS" had
 * already flushed (writes reach the platter in order, so a torn tail never precedes an older
 * write). The durable image is folded from the synced records by a reducer the topology gives.
 *
 * This is the model the Raft core relies on: what a Ready asked to persist is durable only when
 * the fsync completes, and only then may the messages that promise it leave (Raft Figure 2).
 */
import type { Rng } from '@playground/core';

export class SimDisk<State, Record> {
  private durable: State;
  private pending: Record[] = [];
  /** Records written, synced, and lost to crashes (for reports). */
  readonly stats = { written: 0, synced: 0, lost: 0, syncs: 0 };

  constructor(
    initial: State,
    private readonly reduce: (state: State, record: Record) => State,
  ) {
    this.durable = initial;
  }

  /** What survives a crash now. */
  get image(): State {
    return this.durable;
  }

  get unsynced(): number {
    return this.pending.length;
  }

  write(record: Record): void {
    this.pending.push(record);
    this.stats.written++;
  }

  /** Makes every write so far durable (called by the simulator when the fsync completes). */
  syncAll(): void {
    for (const record of this.pending) this.durable = this.reduce(this.durable, record);
    this.stats.synced += this.pending.length;
    this.stats.syncs++;
    this.pending = [];
  }

  /** Power loss: a random prefix of the unsynced writes made it, the rest is gone. */
  crash(rng: Rng): void {
    const kept = this.pending.length === 0 ? 0 : rng.int(0, this.pending.length);
    for (let i = 0; i < kept; i++) this.durable = this.reduce(this.durable, this.pending[i] as Record);
    this.stats.lost += this.pending.length - kept;
    this.pending = [];
  }
}
