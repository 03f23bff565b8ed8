/**
 * The durable write path: every delta, local or from a peer, is appended to the log and
 * fsynced (group commit) BEFORE it is merged into memory, so nothing reaches a peer, a client
 * or a stability report before it is on disk. Also decides when to snapshot.
 */
import type { Logger, NodeId } from '@playground/core';
import type { CounterCrdt } from './core/counter.js';
import type { StateDelta } from './core/types.js';
import { encodeRecord, encodeSnapshot } from './persist.js';
import type { CrdtStore } from './store.js';

export class DurableWriter {
  private inflight = 0;
  private snapshotting = false;
  private drain: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(
    private readonly store: CrdtStore,
    private readonly crdt: CounterCrdt,
    private readonly snapshotBytes: number,
    private readonly log: Logger,
    /** Called after each merge (stability reports may have become usable). */
    private readonly merged: () => void,
  ) {}

  /** Append + fsync, then merge. Rejects (nothing merged) if the disk failed. */
  async write(delta: StateDelta, source: NodeId | null): Promise<void> {
    while (this.drain) await this.drain.promise;
    this.inflight++;
    try {
      await this.store.append(encodeRecord(delta));
      this.crdt.merge(delta, source);
      this.merged();
    } finally {
      this.inflight--;
      this.maybeSnapshot();
    }
  }

  /**
   * Snapshots once the log passes `snapshotBytes` and no write is in flight (the snapshot must
   * hold every logged record). Bound: past 4x that, new writes wait until in-flight ones drain.
   */
  private maybeSnapshot(): void {
    const bytes = this.store.logBytes;
    if (this.snapshotting || bytes < this.snapshotBytes) return;
    if (this.inflight > 0) {
      if (bytes > 4 * this.snapshotBytes && !this.drain) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        this.drain = { promise, resolve };
      }
      return;
    }
    this.snapshotting = true;
    void this.store
      .snapshot(encodeSnapshot(this.crdt))
      .catch((e: unknown) => this.log.error('crdt snapshot failed', { error: (e as Error).message }))
      .finally(() => {
        this.snapshotting = false;
        const drain = this.drain;
        this.drain = null;
        drain?.resolve();
      });
  }
}
