/**
 * One ordered stream of Raft messages per peer, over request/response HTTP. The peer answers a
 * batch once it has acted on it (persisted what it appended): its responses ride back on the
 * reply, so an append round trip is one HTTP exchange, not one each way.
 *
 * Raft tolerates loss and reordering, but a pipelined leader whose appends arrive out of order
 * makes its followers reject and fall back to probing (etcd keeps one stream per peer for the
 * same reason). So each peer gets at most one request in flight; what is queued meanwhile goes
 * out as the next batch. The queue is bounded: past the bound the oldest messages are dropped,
 * which Raft survives (heartbeats and retransmission repair it) and the metrics count.
 */
import type { NodeId, PeerTransport } from '@playground/core';
import type { Message } from './core/types.js';
import { MAX_MESSAGES_PER_REQUEST } from './wire.js';

export interface PeerSenderOptions {
  readonly transport: PeerTransport;
  readonly peer: NodeId;
  readonly rpcTimeoutMs: number;
  readonly maxQueuedMessages: number;
  readonly onDropped: (count: number) => void;
  /** What the peer answered with: its messages to us caused by this batch (validated by the caller). */
  readonly onReply: (reply: unknown) => void;
}

export class PeerSender {
  private queue: Message[] = [];
  private inFlight = false;
  private closed = false;

  constructor(private readonly options: PeerSenderOptions) {}

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) this.queue.push(m);
    const excess = this.queue.length - this.options.maxQueuedMessages;
    if (excess > 0) {
      this.queue.splice(0, excess);
      this.options.onDropped(excess);
    }
    this.pump();
  }

  get queued(): number {
    return this.queue.length;
  }

  close(): void {
    this.closed = true;
    this.queue = [];
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0 || this.closed) return;
    const batch = this.queue.length <= MAX_MESSAGES_PER_REQUEST ? this.queue : this.queue.slice(0, MAX_MESSAGES_PER_REQUEST);
    this.queue = this.queue.length <= MAX_MESSAGES_PER_REQUEST ? [] : this.queue.slice(MAX_MESSAGES_PER_REQUEST);
    this.inFlight = true;
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
        this.inFlight = false;
        this.pump();
      });
  }
}
