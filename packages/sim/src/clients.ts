/**
 * Simulated clients: closed-loop, each issuing increments (with idempotency keys, retried
 * through the hinted leader after a failure or a timeout) and linearizable reads, recording
 * every attempt in the checkers' history format. A timeout is `info` (unknown), never `fail`.
 */
import type { NodeId, Rng } from '@playground/core';
import type { Op } from '@playground/checkers';
import type { EventQueue } from './event-queue.js';
import type { ClientOutcome, IncrCall } from './topology.js';

/** What clients need of the world (a Simulation). */
export interface ClientWorld {
  readonly queue: EventQueue;
  readonly ids: readonly NodeId[];
  readonly now: number;
  clientIncr(id: NodeId, call: IncrCall, reply: (o: ClientOutcome) => void): void;
  clientRead(id: NodeId, key: string, reply: (o: ClientOutcome) => void): void;
}

export interface ClientOptions {
  readonly clients: number;
  readonly keys: readonly string[];
  /** Fraction of operations that are reads. */
  readonly readRate: number;
  /** Pause between a client's operations, uniform in [0, thinkMs). */
  readonly thinkMs: number;
  /** Per attempt; past it the outcome is unknown. */
  readonly timeoutMs: number;
  /** Attempts per logical operation (retries share the idempotency key). */
  readonly maxAttempts: number;
  /** Backoff before a retry: uniform in [0, retryBackoffMs) (full jitter). */
  readonly retryBackoffMs: number;
}

export const CLIENT_DEFAULTS: ClientOptions = {
  clients: 3,
  keys: ['counter'],
  readRate: 0.3,
  thinkMs: 20,
  timeoutMs: 500,
  maxAttempts: 5,
  retryBackoffMs: 50,
};

interface Logical {
  readonly type: 'incr' | 'read';
  readonly key: string;
  readonly delta: number;
  readonly idempotencyKey: string | undefined;
  attempts: number;
}

export class ClientPool {
  readonly history: Op[] = [];
  private nextOpId = 0;
  private nextIdem = 0;
  private stopped = false;
  private outstandingAttempts = 0;
  private readonly hints: (NodeId | null)[];

  constructor(
    private readonly sim: ClientWorld,
    private readonly rng: Rng,
    readonly options: ClientOptions,
  ) {
    this.hints = new Array<NodeId | null>(options.clients + 1).fill(null);
  }

  start(): void {
    for (let c = 0; c < this.options.clients; c++) this.sim.queue.after(this.rng.float() * this.options.thinkMs, () => this.next(c));
  }

  /** No new operations and no more retries; attempts in flight still complete or time out. */
  stop(): void {
    this.stopped = true;
  }

  get outstanding(): number {
    return this.outstandingAttempts;
  }

  /**
   * One increment retried (through the leader hints, with backoff) until acknowledged: the
   * liveness probe after healing. Calls `done` once acknowledged; the caller bounds the wait.
   */
  probe(key: string, done: () => void): void {
    const logical: Logical = { type: 'incr', key, delta: 1, idempotencyKey: `probe-${this.nextIdem++}`, attempts: 0 };
    const slot = this.options.clients; // the probe's own leader hint
    const attempt = (): void => {
      logical.attempts++;
      this.attempt(slot, logical, (outcome) => {
        if (outcome === 'ok') return done();
        this.sim.queue.after(this.rng.float() * this.options.retryBackoffMs, attempt);
      });
    };
    attempt();
  }

  private next(client: number): void {
    if (this.stopped) return;
    const o = this.options;
    const key = this.rng.pick(o.keys);
    const logical: Logical = this.rng.chance(o.readRate)
      ? { type: 'read', key, delta: 0, idempotencyKey: undefined, attempts: 0 }
      : { type: 'incr', key, delta: this.rng.int(1, 3), idempotencyKey: `c${client}-${this.nextIdem++}`, attempts: 0 };
    this.run(client, logical);
  }

  private run(client: number, logical: Logical): void {
    logical.attempts++;
    this.attempt(client, logical, (outcome) => {
      // Retry the same logical operation after a failure or a timeout (an increment keeps its
      // idempotency key, so the retry cannot apply it twice), unless the budget is spent.
      const retry = outcome !== 'ok' && logical.attempts < this.options.maxAttempts && !this.stopped;
      const pause = this.rng.float() * (retry ? this.options.retryBackoffMs : this.options.thinkMs);
      this.sim.queue.after(pause, () => (retry ? this.run(client, logical) : this.next(client)));
    });
  }

  private attempt(client: number, logical: Logical, then: (outcome: Op['outcome']) => void): void {
    const hint = this.hints[client];
    const node = hint !== null && hint !== undefined ? hint : this.rng.pick(this.sim.ids);
    const op: Op = {
      id: this.nextOpId++,
      process: client === this.options.clients ? 'probe' : client,
      node,
      key: logical.key,
      type: logical.type,
      invokeMs: this.sim.now,
      completeMs: this.sim.now,
      outcome: 'info',
      phase: this.stopped ? 'liveness' : 'safety',
    };
    if (logical.type === 'incr') op.delta = logical.delta;
    if (logical.idempotencyKey !== undefined) op.idempotencyKey = logical.idempotencyKey;
    let settled = false;
    this.outstandingAttempts++;
    const settle = (outcome: Op['outcome']): void => {
      settled = true;
      this.outstandingAttempts--;
      op.completeMs = this.sim.now;
      op.outcome = outcome;
      this.history.push(op);
      then(outcome);
    };
    this.sim.queue.after(this.options.timeoutMs, () => {
      if (settled) return;
      op.error = 'timeout';
      this.hints[client] = null; // maybe the node is down: try another
      settle('info');
    });
    const reply = (o: ClientOutcome): void => {
      if (settled) return; // the answer came after the client gave up: its record says info
      if (o.kind === 'ok') {
        if (o.value !== undefined) op.value = o.value;
        this.hints[client] = node;
        settle('ok');
      } else {
        op.error = o.reason;
        this.hints[client] = o.leader ?? null;
        settle('fail');
      }
    };
    if (logical.type === 'incr') {
      this.sim.clientIncr(node, { key: logical.key, delta: logical.delta, idempotencyKey: logical.idempotencyKey }, reply);
    } else {
      this.sim.clientRead(node, logical.key, reply);
    }
  }
}
