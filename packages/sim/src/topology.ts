/**
 * The seam between the simulator and a topology's pure core. The simulator owns time, the
 * network, the disks, crashes and the clients; a topology adapter is a simulated driver: it
 * feeds the core ticks and messages and does the core's I/O against the simulated world.
 * Raft plugs in through raft/adapter.ts; a leaderless or CRDT core plugs in the same way.
 */
import type { NodeId, Rng } from '@playground/core';
import type { SimDisk } from './disk.js';

/** What a client request came to, as the contract would answer it. */
export type ClientOutcome =
  /** value: the counter (a read) or the counter right after the increment, if known. */
  | { readonly kind: 'ok'; readonly value?: number; readonly duplicate?: boolean }
  /** Surely not applied (a 503); `leader` is a hint where to retry. */
  | { readonly kind: 'fail'; readonly reason: string; readonly leader?: NodeId | null };
// An unknown outcome is the absence of an answer: the client's timeout turns it into `info`.

export interface IncrCall {
  readonly key: string;
  readonly delta: number;
  readonly idempotencyKey: string | undefined;
}

/** Everything a node may touch. Calls from a crashed incarnation are ignored. */
export interface SimContext<Message, DiskState, DiskRecord> {
  readonly id: NodeId;
  /** Every member, this node included. */
  readonly peers: readonly NodeId[];
  /** This incarnation's random stream (for the core's election timeouts). */
  readonly rng: Rng;
  /** Virtual time, ms. */
  now(): number;
  send(to: NodeId, message: Message): void;
  /** Survives crashes; unsynced writes may not. */
  readonly disk: SimDisk<DiskState, DiskRecord>;
  /** Starts an fsync; `done` runs when it completes, unless the node crashed first. */
  sync(done: () => void): void;
  /** A line for the run's trace (shown when the run fails): role changes and the like. */
  trace(line: string): void;
}

export interface SimNode<Message> {
  /** One tick of the core's logical clock (the simulator calls it every tickMs). */
  tick(): void;
  receive(message: Message): void;
  /** A client request; `reply` is called at most once, never if the request is lost. */
  incr(call: IncrCall, reply: (outcome: ClientOutcome) => void): void;
  read(key: string, reply: (outcome: ClientOutcome) => void): void;
  /** The node's local value of a counter (no coordination): the final-convergence read. */
  localValue(key: string): number;
  /** One line for logs: role, term, indexes... */
  describe(): string;
}

export interface SimTopology<Message, DiskState, DiskRecord, Node extends SimNode<Message> = SimNode<Message>> {
  readonly name: string;
  /**
   * What reads promise: 'linearizable' (Raft) gets the linearizability check and strict counter
   * bounds; 'eventual' (CRDT, leaderless with small quorums) only the bounds with stale reads
   * allowed, plus final convergence. Default 'linearizable'.
   */
  readonly consistency?: 'linearizable' | 'eventual';
  /** Virtual ms per core tick. */
  readonly tickMs: number;
  /** A fresh node's disk contents. */
  emptyDisk(): DiskState;
  reduceDisk(state: DiskState, record: DiskRecord): DiskState;
  /** Boots a node from its disk: at the start, and again after every crash. */
  create(context: SimContext<Message, DiskState, DiskRecord>): Node;
  /** For message counts: 'app', 'vote', ... */
  messageType(message: Message): string;
  /** Who the clients should try first (a leader), if the topology has such a notion. */
  preferredNode?(nodes: ReadonlyMap<NodeId, Node>): NodeId | null;
  /**
   * After healing: has the cluster converged (elected, committed, every node applied the same)?
   * The simulator waits for it within the liveness bound.
   */
  converged(nodes: ReadonlyMap<NodeId, Node>): boolean;
  /**
   * Safety checks over the live nodes' state, run at the end of each phase (return a violation
   * or null). Checks that need every step (one leader per term...) throw SimViolation from the
   * adapter as they happen.
   */
  checkSafety?(nodes: ReadonlyMap<NodeId, Node>): string | null;
  /**
   * Which nodes hold a key (the final-convergence read asks only them): a leaderless key lives
   * on its N preference-list nodes, not everywhere. Default: every node.
   */
  holders?(key: string, ids: readonly NodeId[]): readonly NodeId[];
  /** After convergence: how many times each idempotency key was applied (not as a duplicate). */
  appliedByIdempotencyKey?(nodes: ReadonlyMap<NodeId, Node>): ReadonlyMap<string, number>;
}
