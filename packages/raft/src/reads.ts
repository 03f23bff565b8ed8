/**
 * Linearizable reads through ReadIndex (Raft dissertation §6.4), batched: while one round of
 * leadership confirmation is in flight, every read that arrives waits for the NEXT round, so a
 * thousand concurrent reads cost one heartbeat round, not a thousand (etcd does the same).
 */
import type { Result } from '@playground/core';
import type { ReadState } from './core/types.js';
import type { ForwardReply } from './forward.js';

type ReadIndexError = { kind: 'not_leader'; leader: string | null } | { kind: 'not_ready' } | { kind: 'overloaded' };

export interface ReadQueueOptions {
  readonly readIndex: (context: string) => Result<void, ReadIndexError>;
  readonly appliedIndex: () => number;
  /** The core has new work (a heartbeat round to send): run the driver's loop. */
  readonly wake: () => void;
}

interface Round {
  readonly context: string;
  readonly waiters: ((reply: ForwardReply) => void)[];
}

/** A leader that has not yet committed an entry of its term retries after this long. */
const NOT_READY_RETRY_MS = 2;
/** Bound on reads waiting for the next round; beyond it a read is refused (503). */
const MAX_WAITING_READS = 10_000;

export class ReadQueue {
  private inFlight: Round | null = null;
  private next: ((reply: ForwardReply) => void)[] = [];
  private sequence = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly appliedWaiters = new Set<{ index: number; resolve: (ok: boolean) => void }>();

  constructor(private readonly options: ReadQueueOptions) {}

  /** Resolves with the read index once a quorum confirmed this node still leads. */
  request(deadlineMs: number): Promise<ForwardReply> {
    if (this.next.length >= MAX_WAITING_READS) {
      return Promise.resolve({ kind: 'unavailable', message: 'too many reads waiting; retry' });
    }
    return new Promise<ForwardReply>((resolve) => {
      let settled = false;
      const timer = setTimeout(() => finish({ kind: 'unavailable', message: 'leadership not confirmed by a quorum in time' }), Math.max(1, deadlineMs - Date.now()));
      const finish = (reply: ForwardReply): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(reply);
      };
      this.next.push(finish);
      this.startRound();
    });
  }

  private startRound(): void {
    if (this.inFlight !== null || this.next.length === 0 || this.retryTimer) return;
    const context = `r${++this.sequence}`;
    const result = this.options.readIndex(context);
    if (!result.ok) {
      if (result.error.kind === 'not_ready') {
        // A new leader must commit its no-op first (§6.4 step 1); that takes one round trip.
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.startRound();
        }, NOT_READY_RETRY_MS);
        return;
      }
      const reply: ForwardReply =
        result.error.kind === 'not_leader'
          ? { kind: 'not_leader', leader: result.error.leader }
          : { kind: 'unavailable', message: 'too many reads pending in the Raft core; retry' };
      const waiters = this.next;
      this.next = [];
      for (const w of waiters) w(reply);
      return;
    }
    this.inFlight = { context, waiters: this.next };
    this.next = [];
    this.options.wake();
    // A round whose confirmation never comes (lost quorum) must not block the next ones forever;
    // its waiters time out on their own deadlines, and the next round starts after a heartbeat.
    const round = this.inFlight;
    setTimeout(() => {
      if (this.inFlight === round) {
        this.inFlight = null;
        this.startRound();
      }
    }, 500).unref();
  }

  onReadStates(states: readonly ReadState[]): void {
    for (const state of states) {
      if (this.inFlight?.context !== state.context) continue;
      const waiters = this.inFlight.waiters;
      this.inFlight = null;
      for (const w of waiters) w({ kind: 'index', index: state.index });
    }
    this.startRound();
  }

  /** Resolves true once this node has applied `index`, false at the deadline. */
  waitApplied(index: number, deadlineMs: number): Promise<boolean> {
    if (this.options.appliedIndex() >= index) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const waiter = {
        index,
        resolve: (ok: boolean) => {
          clearTimeout(timer);
          this.appliedWaiters.delete(waiter);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), Math.max(1, deadlineMs - Date.now()));
      this.appliedWaiters.add(waiter);
    });
  }

  serveApplied(): void {
    if (this.appliedWaiters.size === 0) return;
    const applied = this.options.appliedIndex();
    for (const w of this.appliedWaiters) if (w.index <= applied) w.resolve(true);
  }

  /**
   * This node stopped leading: the core dropped its pending reads, so their rounds will never be
   * confirmed. Nothing was served from them; tell their waiters at once (they may retry).
   */
  onLostLeadership(leader: string | null): void {
    const reply: ForwardReply = { kind: 'not_leader', leader };
    const waiters = [...(this.inFlight?.waiters ?? []), ...this.next];
    this.inFlight = null;
    this.next = [];
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const w of waiters) w(reply);
  }

  failAll(): void {
    const reply: ForwardReply = { kind: 'unavailable', message: 'this node is stopping' };
    for (const w of this.next) w(reply);
    this.next = [];
    if (this.inFlight) for (const w of this.inFlight.waiters) w(reply);
    this.inFlight = null;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const w of this.appliedWaiters) w.resolve(false);
  }
}
