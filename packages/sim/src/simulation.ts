/**
 * The deterministic world a cluster runs in: virtual time, a seeded network, simulated disks,
 * crashes and restarts. Everything random comes from one seed, through forked streams, so that
 * a run replays exactly. Scenario tests drive it directly; run.ts adds clients and a fault
 * schedule for the random runs.
 */
import { Rng } from '@playground/core';
import type { NodeId } from '@playground/core';
import { SimDisk } from './disk.js';
import { EventQueue } from './event-queue.js';
import { SimNetwork, type NetworkOptions } from './network.js';
import type { ClientOutcome, IncrCall, SimNode, SimTopology } from './topology.js';

/** A broken invariant: the run fails with this message (and its seed). */
export class SimViolation extends Error {
  override name = 'SimViolation';
}

export interface SimulationOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly network: NetworkOptions;
  /** Simulated fsync latency, uniform in [min, max]. */
  readonly fsyncMinMs: number;
  readonly fsyncMaxMs: number;
  /** One-way client <-> node latency. */
  readonly clientLatencyMs: number;
}

export class Simulation<Message, DiskState, DiskRecord, Node extends SimNode<Message>> {
  readonly queue = new EventQueue();
  readonly ids: readonly NodeId[];
  readonly network: SimNetwork<Message>;
  /** Live nodes only: a crashed node has no in-memory state at all. */
  readonly nodes = new Map<NodeId, Node>();
  readonly disks = new Map<NodeId, SimDisk<DiskState, DiskRecord>>();
  readonly stats = { crashes: 0, restarts: 0, ticks: 0 };
  /** The last lines of the run's trace, for a failure report. */
  private readonly traceLines: string[] = [];
  /** The current incarnation of each node; a crash flips its `alive` for good. */
  private readonly incarnation = new Map<NodeId, { alive: boolean }>();
  private readonly rng: Rng;
  private readonly diskRng: Rng;
  private readonly nodeRng: Rng;
  private readonly tickRng: Rng;

  constructor(
    readonly topology: SimTopology<Message, DiskState, DiskRecord, Node>,
    readonly options: SimulationOptions,
  ) {
    this.rng = new Rng(options.seed);
    this.network = new SimNetwork(this.queue, this.rng.fork(), options.network, (m) => topology.messageType(m));
    this.diskRng = this.rng.fork();
    this.nodeRng = this.rng.fork();
    this.tickRng = this.rng.fork();
    this.ids = Array.from({ length: options.nodes }, (_, i) => `n${i + 1}`);
    for (const id of this.ids) {
      this.disks.set(id, new SimDisk(topology.emptyDisk(), (s, r) => topology.reduceDisk(s, r)));
      this.boot(id);
    }
  }

  get now(): number {
    return this.queue.now;
  }

  isUp(id: NodeId): boolean {
    return this.nodes.has(id);
  }

  node(id: NodeId): Node {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`node ${id} is down`);
    return node;
  }

  /** Power loss: volatile state gone, unsynced writes (mostly) gone, pending callbacks never run. */
  crash(id: NodeId): void {
    if (!this.nodes.has(id)) return;
    this.nodes.delete(id);
    (this.incarnation.get(id) as { alive: boolean }).alive = false;
    (this.disks.get(id) as SimDisk<DiskState, DiskRecord>).crash(this.diskRng);
    this.stats.crashes++;
    this.trace(`crash ${id}`);
  }

  /** Boots a fresh incarnation from the durable disk image. */
  restart(id: NodeId): void {
    if (this.nodes.has(id)) return;
    this.stats.restarts++;
    this.trace(`restart ${id}`);
    this.boot(id);
  }

  /** Runs the world for `ms` of virtual time. */
  runFor(ms: number): void {
    this.queue.runUntil(this.now + ms);
  }

  /** Runs until `done` holds (checked after every event) or `boundMs` passes; returns whether it held. */
  runUntil(done: () => boolean, boundMs: number): boolean {
    if (done()) return true;
    this.queue.runUntil(this.now + boundMs, done);
    return done();
  }

  /** A client request to `id` over the client network (never partitioned; lost if the node is down). */
  clientIncr(id: NodeId, call: IncrCall, reply: (o: ClientOutcome) => void): void {
    this.viaClientNetwork(id, (node, back) => node.incr(call, back), reply);
  }

  clientRead(id: NodeId, key: string, reply: (o: ClientOutcome) => void): void {
    this.viaClientNetwork(id, (node, back) => node.read(key, back), reply);
  }

  trace(line: string): void {
    this.traceLines.push(`${this.now.toFixed(1)}ms ${line}`);
    if (this.traceLines.length > 200) this.traceLines.splice(0, 100);
  }

  recentTrace(lines = 30): string[] {
    return this.traceLines.slice(-lines);
  }

  describeNodes(): string {
    return this.ids.map((id) => `${id}: ${this.nodes.get(id)?.describe() ?? 'down'}`).join('\n');
  }

  private viaClientNetwork(
    id: NodeId,
    call: (node: Node, reply: (o: ClientOutcome) => void) => void,
    reply: (o: ClientOutcome) => void,
  ): void {
    const latency = this.options.clientLatencyMs;
    this.queue.after(latency, () => {
      const node = this.nodes.get(id);
      if (node === undefined) return; // connection refused or hung: the client times out
      let answered = false;
      call(node, (outcome) => {
        if (answered) throw new SimViolation(`${id} answered one client request twice`);
        answered = true;
        this.queue.after(latency, () => reply(outcome));
      });
    });
  }

  private boot(id: NodeId): void {
    const life = { alive: true };
    this.incarnation.set(id, life);
    const alive = (): boolean => life.alive;
    const disk = this.disks.get(id) as SimDisk<DiskState, DiskRecord>;
    const { fsyncMinMs, fsyncMaxMs } = this.options;
    const fsyncRng = this.nodeRng.fork();
    const node = this.topology.create({
      id,
      peers: this.ids,
      rng: this.nodeRng.fork(),
      now: () => this.now,
      disk,
      send: (to, message) => {
        if (!alive()) return;
        this.network.send(id, to, message, (m) => this.nodes.get(to)?.receive(m));
      },
      trace: (line) => this.trace(`${id} ${line}`),
      sync: (done) => {
        if (!alive()) return;
        this.queue.after(fsyncMinMs + fsyncRng.float() * (fsyncMaxMs - fsyncMinMs), () => {
          if (!alive()) return; // crashed during the fsync: its writes are at the disk's mercy
          disk.syncAll();
          done();
        });
      },
    });
    this.nodes.set(id, node);
    const tickMs = this.topology.tickMs;
    const loop = (): void => {
      if (!alive()) return;
      this.stats.ticks++;
      node.tick();
      this.queue.after(tickMs, loop);
    };
    // Nodes' clocks tick at the same rate with random phases.
    this.queue.after(this.tickRng.float() * tickMs, loop);
  }
}
