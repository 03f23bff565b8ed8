/**
 * Batched idempotency checks: before a keyed increment makes a new dot, its node asks the peers
 * whether they already hold the key, so that a retry through another node answers "duplicate"
 * at once (the contract) instead of making a concurrent dot (still counted once, counter.ts, but
 * then both replies could say "duplicate": false).
 *
 * One question per key would put a peer round trip per increment on the write path and a message
 * per increment per peer on the wire. Instead the keys that arrive while a batch is in flight
 * wait together for the next one: at most two batches in flight, one message per peer per batch
 * (the same shape as the push batching in replicator.ts). Under load a keyed increment waits about
 * one round trip (capped by the deadline); the messages per increment fall as the load grows.
 *
 * A peer slower than the deadline is not waited for, but its question is not cut short either:
 * it runs to the peer timeout (a late answer is still merged), and that peer is left out of the
 * batches while it has two questions open. So a slow or partitioned peer costs an increment at
 * most the deadline, and the transport's breaker counts one failure per peer timeout, not one per
 * deadline (a 25 ms timeout on a loaded machine would trip it and stall gossip too).
 *
 * Bound: at most MAX_KEYS_PER_BATCH keys in one message; keys beyond it wait for a later batch
 * (requests in flight are bounded by the HTTP layer, so the queue is too).
 */
import type { NodeId } from '@playground/core';
import type { Dot } from './core/types.js';
import { fanOut } from './fan-out.js';

export const MAX_KEYS_PER_BATCH = 1024;
/** Batches asked at once (and questions open per peer): two, so that keys arriving during one wait for about one round trip, not one and a half. */
export const MAX_BATCHES_IN_FLIGHT = 2;

/** Asks one peer about `keys`; resolves with the dots it holds for them (throws: counts as none). */
export type AskPeer = (peer: NodeId, keys: readonly string[], timeoutMs: number) => Promise<readonly Dot[]>;

interface Waiting {
  readonly key: string;
  readonly resolve: () => void;
}

export class IdemChecker {
  private queue: Waiting[] = [];
  private scheduled = false;
  private batchesInFlight = 0;
  /** Per peer, its questions still open (also past the deadline, until the peer timeout). */
  private readonly open = new Map<NodeId, number>();
  /** Batches sent (for tests). */
  batches = 0;

  constructor(
    private readonly peers: () => readonly NodeId[],
    /** How long an increment waits for the answers. */
    private readonly deadlineMs: number,
    /** How long a question may stay open (the peer timeout). */
    private readonly rpcTimeoutMs: number,
    private readonly ask: AskPeer,
    /** The dots peers answered with, merged before any waiting increment goes on. */
    private readonly absorb: (from: NodeId, dots: readonly Dot[]) => Promise<void>,
    private readonly onError: (peer: NodeId, error: unknown) => void,
  ) {}

  /** Resolves once the peers were asked about `key` (and what they hold of it merged) or the deadline passed. */
  check(key: string): Promise<void> {
    return new Promise((resolve) => {
      this.queue.push({ key, resolve });
      this.startSoon();
    });
  }

  private startSoon(): void {
    if (this.scheduled || this.batchesInFlight >= MAX_BATCHES_IN_FLIGHT || this.queue.length === 0) return;
    this.scheduled = true;
    // Let the increments of this turn of the event loop join the batch.
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    this.scheduled = false;
    const batch = this.queue.splice(0, MAX_KEYS_PER_BATCH);
    if (batch.length === 0) return;
    this.batchesInFlight++;
    this.startSoon();
    try {
      await this.askAll([...new Set(batch.map((w) => w.key))]);
    } finally {
      for (const w of batch) w.resolve();
      this.batchesInFlight--;
      this.startSoon();
    }
  }

  /** Every peer at once, until each answered or the deadline; each answer is merged as it comes. */
  private async askAll(keys: readonly string[]): Promise<void> {
    const peers = this.peers().filter((p) => (this.open.get(p) ?? 0) < MAX_BATCHES_IN_FLIGHT);
    if (peers.length === 0) return;
    this.batches++;
    const timeoutMs = Math.max(this.deadlineMs, this.rpcTimeoutMs);
    await fanOut(
      peers,
      peers.length,
      this.deadlineMs,
      async (peer) => {
        this.open.set(peer, (this.open.get(peer) ?? 0) + 1);
        try {
          const dots = await this.ask(peer, keys, timeoutMs);
          if (dots.length > 0) await this.absorb(peer, dots);
          return true;
        } finally {
          this.open.set(peer, (this.open.get(peer) ?? 1) - 1);
        }
      },
      this.onError,
    );
  }
}
