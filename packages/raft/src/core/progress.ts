import { assert } from '@playground/core';

/**
 * The leader's view of one follower (etcd-io/raft's Progress).
 * - probe: the leader does not know where the follower's log matches; it sends one append at
 *   a time and waits for the answer (or the next heartbeat response) before the next one.
 * - replicate: the logs match up to `match`; the leader streams appends optimistically,
 *   advancing `next` as it sends, with at most maxInflightAppends unacknowledged.
 */
export type ProgressState = 'probe' | 'replicate';

export interface ProgressView {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly inflight: number;
  readonly recentActive: boolean;
}

/** A bounded FIFO of the last index of each append in flight (a ring buffer). */
class Inflights {
  private readonly buffer: number[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    this.buffer = new Array<number>(capacity).fill(0);
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  add(lastIndex: number): void {
    assert(!this.full, 'inflights overflow: the sender must check full first');
    this.buffer[(this.start + this.count) % this.capacity] = lastIndex;
    this.count++;
  }

  /** Frees every append whose last index is <= index (they are acknowledged). */
  freeThrough(index: number): void {
    while (this.count > 0 && (this.buffer[this.start] as number) <= index) {
      this.start = (this.start + 1) % this.capacity;
      this.count--;
    }
  }

  /** Frees the oldest: a heartbeat answered while full means an append was probably lost. */
  freeFirst(): void {
    if (this.count === 0) return;
    this.start = (this.start + 1) % this.capacity;
    this.count--;
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
  }
}

export class Progress {
  /** Highest index known to be durable on the follower and equal to the leader's. */
  match = 0;
  /** The next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** Probe state: an append is out and unanswered; wait (at most until the next heartbeat response). */
  probeSent = false;
  /** Heard from since the last CheckQuorum round (dissertation §6.2). */
  recentActive = false;
  /**
   * A heartbeat answer came while the follower lags: send an append even if everything was
   * already sent once, because those appends may have been lost (etcd does the same).
   */
  resendRequested = false;
  /** The highest commitIndex sent to this follower (in an append, a heartbeat or a commit update). */
  toldCommit = 0;
  private readonly inflights: Inflights;

  constructor(next: number, maxInflightAppends: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflightAppends);
  }

  /** No more appends may be sent now. */
  get paused(): boolean {
    return this.state === 'probe' ? this.probeSent : this.inflights.full;
  }

  becomeProbe(next: number): void {
    this.state = 'probe';
    this.next = Math.max(next, this.match + 1);
    this.probeSent = false;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** Records an append that was sent, ending with `lastIndex` (equal to next - 1 when it is empty). */
  onSent(lastIndex: number, entryCount: number): void {
    if (this.state === 'probe') {
      this.probeSent = true;
    } else if (entryCount > 0) {
      this.next = lastIndex + 1;
      this.inflights.add(lastIndex);
    }
  }

  /** An accepted append up to `index`; true if match moved. */
  onAccepted(index: number): boolean {
    const moved = index > this.match;
    if (moved) this.match = index;
    if (this.next < index + 1) this.next = index + 1;
    this.inflights.freeThrough(index);
    return moved;
  }

  onHeartbeatResponse(): void {
    this.recentActive = true;
    this.resendRequested = true;
    if (this.state === 'probe') this.probeSent = false;
    else if (this.inflights.full) this.inflights.freeFirst();
  }

  view(): ProgressView {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      inflight: this.inflights.size,
      recentActive: this.recentActive,
    };
  }
}
