import { err, ok } from '@playground/core';
import type { NodeId, Result, RpcFailure } from '@playground/core';
import { PUT_BATCH_MAX } from './core/messages.js';
import type { PutMessage, PutReply } from './core/messages.js';

export interface PutBatcherOptions {
  /** Batch RPCs in flight to one peer; puts wait in the queue while this many are out. */
  readonly inFlightMax: number;
  /** Puts waiting for one peer; at the bound a put is not sent and fails `overloaded` (surely not applied). */
  readonly queuedMax: number;
  /** Puts per batch message (at most PUT_BATCH_MAX, what the receiver accepts). */
  readonly batchMax: number;
  /** The shortest timeout a batch gets, when its puts' rounds have (nearly) passed their deadline. */
  readonly lateTimeoutMs: number;
}

export const DEFAULT_PUT_BATCHER: PutBatcherOptions = { inFlightMax: 2, queuedMax: 4096, batchMax: PUT_BATCH_MAX, lateTimeoutMs: 1000 };

/** Sends one batch and returns one reply per put, in order (or one failure for all of them). */
export type SendBatch = (peer: NodeId, puts: PutMessage[], timeoutMs: number) => Promise<Result<PutReply[], RpcFailure>>;

interface Waiting {
  readonly msg: PutMessage;
  /** Absolute, ms since the epoch: the round's deadline. */
  readonly deadlineMs: number;
  readonly done: (result: Result<PutReply, RpcFailure>) => void;
}

interface Lane {
  queue: Waiting[];
  inFlight: number;
  scheduled: boolean;
}

/**
 * Group send: the replica writes that concurrent client requests send to one peer ride in one
 * RPC while earlier ones are in flight, so a replica pays one HTTP request, one signature and
 * one fsync per batch instead of per increment (the peer-side twin of the log's group commit).
 * Nothing waits for a batch to fill: with nothing in flight a put leaves at once (after the
 * current synchronous run, so that the coordinator's own write reaches its log first).
 *
 * Honesty is per put: a put never sent fails `overloaded` (not applied); a batch's failure is
 * each of its puts' failure, so a timeout stays an unknown outcome for every one of them.
 */
export class PutBatcher {
  private readonly lanes = new Map<NodeId, Lane>();

  constructor(
    private readonly send: SendBatch,
    private readonly options: PutBatcherOptions,
    private readonly nowMs: () => number = Date.now,
  ) {}

  put(peer: NodeId, msg: PutMessage, timeoutMs: number): Promise<Result<PutReply, RpcFailure>> {
    const lane = this.lane(peer);
    if (lane.queue.length >= this.options.queuedMax) {
      return Promise.resolve(err({ kind: 'overloaded', message: `${this.options.queuedMax} puts to ${peer} already queued; not sent` }));
    }
    return new Promise((done) => {
      lane.queue.push({ msg, deadlineMs: this.nowMs() + timeoutMs, done });
      this.schedule(peer, lane);
    });
  }

  /** Puts waiting (not yet sent) for `peer`. */
  queued(peer: NodeId): number {
    return this.lanes.get(peer)?.queue.length ?? 0;
  }

  private lane(peer: NodeId): Lane {
    let lane = this.lanes.get(peer);
    if (lane === undefined) this.lanes.set(peer, (lane = { queue: [], inFlight: 0, scheduled: false }));
    return lane;
  }

  private schedule(peer: NodeId, lane: Lane): void {
    if (lane.scheduled || lane.inFlight >= this.options.inFlightMax || lane.queue.length === 0) return;
    lane.scheduled = true;
    queueMicrotask(() => {
      lane.scheduled = false;
      this.flush(peer, lane);
    });
  }

  private flush(peer: NodeId, lane: Lane): void {
    while (lane.inFlight < this.options.inFlightMax && lane.queue.length > 0) {
      const now = this.nowMs();
      const batch = lane.queue.splice(0, this.options.batchMax);
      lane.inFlight++;
      // A put queued past its round's deadline still goes: the round has decided (its reply is
      // ignored), but the replica still needs the write, and sending it now is far cheaper
      // than the full-object exchange of anti-entropy later.
      const timeoutMs = Math.max(this.options.lateTimeoutMs, Math.max(...batch.map((w) => w.deadlineMs)) - now);
      void this.send(
        peer,
        batch.map((w) => w.msg),
        timeoutMs,
      )
        .catch((e: unknown): Result<PutReply[], RpcFailure> => err({ kind: 'unreachable', message: `batch to ${peer}: ${(e as Error).message}` }))
        .then((res) => {
          lane.inFlight--;
          batch.forEach((w, i) => {
            if (!res.ok) return w.done(res);
            const reply = res.value[i];
            w.done(reply === undefined ? err({ kind: 'remote_error', status: 502, message: `batch reply from ${peer} is missing put ${i}` }) : ok(reply));
          });
          this.schedule(peer, lane);
        });
    }
  }
}
