import { assert } from '@playground/core';
import type { NodeId } from '@playground/core';
import type { ReadState } from './types.js';

interface PendingRead {
  readonly context: string;
  /** The leader's commitIndex when the read arrived (dissertation §6.4 step 1). */
  readonly index: number;
  readonly acks: Set<NodeId>;
}

/**
 * ReadIndex requests waiting for a quorum to confirm that this node still leads
 * (dissertation §6.4 step 3). Reads are confirmed in arrival order: a heartbeat carrying
 * context c left after every read queued before c, so a quorum answering c confirms
 * leadership for all of them (etcd's readOnly.advance).
 *
 * Bounded by `capacity`: at the bound, readIndex() answers `overloaded` and queues nothing.
 * All pending reads are dropped when leadership is lost; the driver sees the role change in
 * Ready.softState and must fail the reads it was waiting for (they were never served).
 */
export class ReadIndexQueue {
  private queue: PendingRead[] = [];
  private head = 0;
  private readonly byContext = new Map<string, PendingRead>();

  constructor(
    private readonly self: NodeId,
    private readonly quorum: number,
    private readonly capacity: number,
  ) {}

  get size(): number {
    return this.queue.length - this.head;
  }

  get full(): boolean {
    return this.size >= this.capacity;
  }

  /** The newest pending context, which every heartbeat carries; null if none. */
  lastContext(): string | null {
    return this.size > 0 ? (this.queue[this.queue.length - 1] as PendingRead).context : null;
  }

  add(context: string, index: number): void {
    assert(!this.full, 'ReadIndexQueue.add past its bound: the caller checks full first');
    assert(!this.byContext.has(context), () => `duplicate ReadIndex context ${JSON.stringify(context)}`);
    const read: PendingRead = { context, index, acks: new Set([this.self]) };
    this.queue.push(read);
    this.byContext.set(context, read);
  }

  /** A heartbeat response carrying `context` from `from`; returns the reads now confirmed, in order. */
  confirm(context: string, from: NodeId): ReadState[] {
    const read = this.byContext.get(context);
    if (read === undefined) return [];
    read.acks.add(from);
    if (read.acks.size < this.quorum) return [];
    const released: ReadState[] = [];
    while (this.head < this.queue.length) {
      const next = this.queue[this.head++] as PendingRead;
      this.byContext.delete(next.context);
      released.push({ context: next.context, index: next.index });
      if (next === read) break;
    }
    if (this.head > 64 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return released;
  }
}
