/**
 * A Raft cluster in the simulator for scenario tests: the real core, simulated drivers, a
 * seeded network and disks, and a client that records every request in the checkers' format.
 */
import { Rng, type NodeId } from '@playground/core';
import { checkCounterBounds, checkFinalConvergence, checkLinearizable, checkNoDuplicates, combine, type Op, type Verdict } from '@playground/checkers';
import { RELIABLE, type NetworkOptions } from '../network.js';
import { Simulation } from '../simulation.js';
import type { ClientOutcome } from '../topology.js';
import type { RaftDisk, RaftDiskRecord, RaftSimNode } from './adapter.js';
import type { Message } from './deps.js';
import { leaderOf, raftTopology, type RaftTopology, type RaftTopologyOptions } from './topology.js';

export interface ClusterOptions extends RaftTopologyOptions {
  readonly nodes?: number;
  readonly seed?: number;
  readonly network?: Partial<NetworkOptions>;
  /** Client attempt timeout (virtual ms). */
  readonly clientTimeoutMs?: number;
}

/** One client request; `outcome` is set when it settles (info = timed out). */
export interface Request {
  readonly op: Op;
  settled: boolean;
}

export class RaftCluster {
  readonly topology: RaftTopology;
  readonly sim: Simulation<Message, RaftDisk, RaftDiskRecord, RaftSimNode>;
  readonly history: Op[] = [];
  private readonly rng: Rng;
  private readonly clientTimeoutMs: number;
  private nextId = 0;

  constructor(options: ClusterOptions = {}) {
    this.topology = raftTopology(options);
    const seed = options.seed ?? 1;
    this.sim = new Simulation(this.topology, {
      seed,
      nodes: options.nodes ?? 3,
      network: { ...RELIABLE, ...options.network },
      fsyncMinMs: 0.1,
      fsyncMaxMs: 1,
      clientLatencyMs: 0.5,
    });
    this.rng = new Rng(seed + 1);
    this.clientTimeoutMs = options.clientTimeoutMs ?? 1_000;
  }

  get ids(): readonly NodeId[] {
    return this.sim.ids;
  }

  get now(): number {
    return this.sim.now;
  }

  node(id: NodeId): RaftSimNode {
    return this.sim.node(id);
  }

  /** The live leader with the highest term, or null. */
  leader(): RaftSimNode | null {
    return leaderOf(this.sim.nodes);
  }

  /** Every live node that believes it leads. */
  leaders(): RaftSimNode[] {
    return [...this.sim.nodes.values()].filter((n) => n.core.role === 'leader');
  }

  run(ms: number): void {
    this.sim.runFor(ms);
  }

  /** Runs until `done` or throws after `boundMs` of virtual time, saying what was awaited. */
  runUntil(what: string, done: () => boolean, boundMs: number): number {
    const from = this.sim.now;
    if (!this.sim.runUntil(done, boundMs)) {
      throw new Error(`${what}: not within ${boundMs} ms (virtual)\n${this.sim.describeNodes()}`);
    }
    return this.sim.now - from;
  }

  waitForLeader(boundMs = 3_000): RaftSimNode {
    this.runUntil('a leader', () => this.leader() !== null, boundMs);
    return this.leader() as RaftSimNode;
  }

  isolate(id: NodeId): void {
    this.sim.network.separate([id], this.ids);
  }

  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    this.sim.network.separate(a, b);
  }

  heal(): void {
    this.sim.network.heal();
  }

  crash(id: NodeId): void {
    this.sim.crash(id);
  }

  restart(id: NodeId): void {
    this.sim.restart(id);
  }

  /** Sends an increment to `node` (default: the current leader, else a random node). */
  incr(options: { node?: NodeId; delta?: number; idempotencyKey?: string; key?: string } = {}): Request {
    const node = options.node ?? this.leader()?.id ?? this.rng.pick(this.ids);
    const idempotencyKey = options.idempotencyKey ?? `r${this.nextId}`;
    const op: Op = {
      id: this.nextId++,
      process: `c${this.nextId}`,
      node,
      key: options.key ?? 'counter',
      type: 'incr',
      delta: options.delta ?? 1,
      idempotencyKey,
      invokeMs: this.now,
      completeMs: this.now,
      outcome: 'info',
    };
    const request = this.track(op);
    this.sim.clientIncr(node, { key: op.key, delta: op.delta as number, idempotencyKey }, (o) => this.settle(request, o));
    return request;
  }

  read(options: { node?: NodeId; key?: string } = {}): Request {
    const node = options.node ?? this.leader()?.id ?? this.rng.pick(this.ids);
    const op: Op = {
      id: this.nextId++,
      process: `c${this.nextId}`,
      node,
      key: options.key ?? 'counter',
      type: 'read',
      invokeMs: this.now,
      completeMs: this.now,
      outcome: 'info',
    };
    const request = this.track(op);
    this.sim.clientRead(node, op.key, (o) => this.settle(request, o));
    return request;
  }

  /** Increments until one is acknowledged, retrying the same idempotency key through the leader. */
  incrUntilAcknowledged(boundMs = 5_000, delta = 1): Request {
    const idempotencyKey = `sure${this.nextId}`;
    const deadline = this.now + boundMs;
    for (;;) {
      const request = this.incr({ idempotencyKey, delta });
      this.runUntil('a settled increment', () => request.settled, this.clientTimeoutMs + 10);
      if (request.op.outcome === 'ok') return request;
      if (this.now >= deadline) throw new Error(`no acknowledged increment within ${boundMs} ms\n${this.sim.describeNodes()}`);
      this.run(20);
    }
  }

  settleAll(): void {
    this.runUntil('every request settled', () => this.history.length === this.nextId, this.clientTimeoutMs + 10);
  }

  /** Heals, restarts every crashed node and waits until the cluster converged (elected, committed, applied everywhere). */
  converge(boundMs = 10_000): number {
    this.heal();
    for (const id of this.ids) this.restart(id);
    return this.runUntil('convergence', () => this.topology.converged(this.sim.nodes), boundMs);
  }

  /** Sum of the applied counters on each node. */
  values(key = 'counter'): number[] {
    return this.ids.map((id) => this.node(id).localValue(key));
  }

  /** The history checkers, after converge(): linearizable, within bounds, converged, nothing lost or doubled. */
  checkHistory(): Verdict {
    const finalReads = this.ids.map((id) => ({ node: id, value: this.node(id).localValue('counter'), key: 'counter' }));
    const applied = this.topology.appliedByIdempotencyKey?.(this.sim.nodes) ?? new Map<string, number>();
    const counts = [...new Set(this.history.filter((o) => o.idempotencyKey !== undefined).map((o) => `${o.key}\u0000${o.idempotencyKey}`))].map((k) => {
      const [key, idempotencyKey] = k.split('\u0000') as [string, string];
      return { key, idempotencyKey, count: applied.get(idempotencyKey) ?? 0 };
    });
    return combine([
      checkLinearizable(this.history, { timeBudgetMs: 10_000 }),
      checkCounterBounds(this.history),
      checkFinalConvergence(finalReads, this.history),
      checkNoDuplicates(this.history, counts),
    ]);
  }

  /** Log Matching over the live nodes, or null. */
  checkLogs(): string | null {
    return this.topology.checkSafety?.(this.sim.nodes) ?? null;
  }

  private track(op: Op): Request {
    const request: Request = { op, settled: false };
    this.sim.queue.after(this.clientTimeoutMs, () => {
      if (request.settled) return;
      op.error = 'timeout';
      this.finish(request, 'info');
    });
    return request;
  }

  private settle(request: Request, outcome: ClientOutcome): void {
    if (request.settled) return;
    if (outcome.kind === 'ok') {
      if (outcome.value !== undefined) request.op.value = outcome.value;
      this.finish(request, 'ok');
    } else {
      request.op.error = outcome.reason;
      this.finish(request, 'fail');
    }
  }

  private finish(request: Request, outcome: Op['outcome']): void {
    request.settled = true;
    request.op.outcome = outcome;
    request.op.completeMs = this.now;
    this.history.push(request.op);
  }
}
