/**
 * Raft messages to one peer, as request/reply calls on the transport's stream to it. The peer
 * answers a batch once it has acted on it (persisted what it appended): its responses ride back
 * on the reply, so an append round trip is one call, not one each way.
 *
 * Raft tolerates loss and reordering, but a pipelined leader whose appends arrive out of order
 * makes its followers reject and fall back to probing (etcd keeps one stream per peer for the
 * same reason). So appends that carry entries, and everything else whose order matters, go on
 * one ordered lane: one request in flight, what is queued meanwhile goes out as the next batch.
 * Heartbeats and empty appends (commit updates, anchored at what the follower is known to hold)
 * mean the same whenever they arrive, so they take a second lane: a commit update then never
 * holds the next batch of entries back for a round trip, nor a heartbeat a ReadIndex round.
 *
 * Each lane's queue is bounded: past the bound the oldest messages are dropped, which Raft
 * survives (heartbeats and retransmission repair it) and the metrics count.
 */
import type { NodeId, PeerTransport } from '@playground/core';
import type { Message } from './core/types.js';
import { MAX_MESSAGES_PER_REQUEST } from './wire.js';

export interface PeerSenderOptions {
  readonly transport: PeerTransport;
  readonly peer: NodeId;
  readonly rpcTimeoutMs: number;
  /** Per lane. */
  readonly maxQueuedMessages: number;
  readonly onDropped: (count: number) => void;
  /** What the peer answered with: its messages to us caused by this batch (validated by the caller). */
  readonly onReply: (reply: unknown) => void;
}

/** Messages whose effect does not depend on arriving after the ones sent before them. */
export function isOrderFree(m: Message): boolean {
  return m.type === 'hb' || (m.type === 'app' && m.entries.length === 0);
}

interface Lane {
  queue: Message[];
  inFlight: boolean;
}

export class PeerSender {
  private readonly ordered: Lane = { queue: [], inFlight: false };
  private readonly free: Lane = { queue: [], inFlight: false };
  private closed = false;

  constructor(private readonly options: PeerSenderOptions) {}

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) (isOrderFree(m) ? this.free : this.ordered).queue.push(m);
    for (const lane of [this.ordered, this.free]) {
      const excess = lane.queue.length - this.options.maxQueuedMessages;
      if (excess > 0) {
        lane.queue.splice(0, excess);
        this.options.onDropped(excess);
      }
      this.pump(lane);
    }
  }

  get queued(): number {
    return this.ordered.queue.length + this.free.queue.length;
  }

  close(): void {
    this.closed = true;
    this.ordered.queue = [];
    this.free.queue = [];
  }

  private pump(lane: Lane): void {
    if (lane.inFlight || lane.queue.length === 0 || this.closed) return;
    const batch = lane.queue.length <= MAX_MESSAGES_PER_REQUEST ? lane.queue : lane.queue.slice(0, MAX_MESSAGES_PER_REQUEST);
    lane.queue = lane.queue.length <= MAX_MESSAGES_PER_REQUEST ? [] : lane.queue.slice(MAX_MESSAGES_PER_REQUEST);
    lane.inFlight = true;
    void this.options.transport
      .call(this.options.peer, 'raft', batch, { timeoutMs: this.options.rpcTimeoutMs })
      .then((result) => {
        if (result.ok) this.options.onReply(result.value);
        else {
          // Lost on the way (or the peer is down): Raft's retransmission covers it. The
          // transport counts the failure by kind; here it counts the messages it took down.
          this.options.onDropped(batch.length);
        }
      })
      .finally(() => {
        lane.inFlight = false;
        this.pump(lane);
      });
  }
}
