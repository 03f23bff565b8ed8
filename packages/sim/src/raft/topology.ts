/** Raft as a simulator topology: the real core behind the simulated driver, plus its checkers. */
import type { NodeId } from '@playground/core';
import type { SimTopology } from '../topology.js';
import { RaftSimNode, reduceRaftDisk, type CoreFactory, type DriverFaults, type RaftDisk, type RaftDiskRecord } from './adapter.js';
import { RAFT_DEFAULTS, RaftCore, type Message, type RaftConfig } from './deps.js';
import { checkLogMatching, RaftObserver } from './observer.js';

export interface RaftTopologyOptions {
  /** Core settings beyond id, peers and rng (defaults: RAFT_DEFAULTS, 10 ms ticks). */
  readonly config?: Partial<Omit<RaftConfig, 'id' | 'peers' | 'rng'>>;
  readonly tickMs?: number;
  /** Test hook: build a deliberately broken core. */
  readonly makeCore?: CoreFactory;
  /** Test hook: break the simulated driver. */
  readonly driverFaults?: DriverFaults;
}

export interface RaftTopology extends SimTopology<Message, RaftDisk, RaftDiskRecord, RaftSimNode> {
  readonly observer: RaftObserver;
}

export function raftTopology(options: RaftTopologyOptions = {}): RaftTopology {
  const observer = new RaftObserver();
  const makeCore: CoreFactory = options.makeCore ?? ((config, restored) => new RaftCore(config, restored));
  return {
    name: 'raft',
    consistency: 'linearizable',
    observer,
    tickMs: options.tickMs ?? 10,
    emptyDisk: () => ({ hardState: { term: 0, vote: null, commit: 0 }, entries: [] }),
    reduceDisk: reduceRaftDisk,
    create(ctx) {
      const config: RaftConfig = { ...RAFT_DEFAULTS, ...options.config, id: ctx.id, peers: ctx.peers, rng: ctx.rng };
      return new RaftSimNode(ctx, config, makeCore, observer, options.driverFaults);
    },
    messageType: (m) => m.type,
    preferredNode(nodes) {
      let best: RaftSimNode | null = null;
      for (const node of nodes.values()) {
        if (node.core.role === 'leader' && (best === null || node.core.term > best.core.term)) best = node;
      }
      return best?.id ?? null;
    },
    converged(nodes) {
      const leader = leaderOf(nodes);
      if (leader === null) return false;
      const { term, commitIndex } = leader.core;
      // The leader has committed an entry of its own term (its no-op at least) and everything it
      // holds, and every node follows it and has applied exactly that far.
      if (commitIndex === 0 || leader.core.termAt(commitIndex) !== term || leader.core.lastIndex !== commitIndex) return false;
      for (const node of nodes.values()) {
        if (node.core.term !== term || node.core.leader !== leader.id) return false;
        if (node.stateMachine.appliedIndex !== commitIndex) return false;
      }
      return true;
    },
    appliedByIdempotencyKey(nodes) {
      // After convergence every node applied the same prefix; take the one that applied most.
      let best: RaftSimNode | null = null;
      for (const node of nodes.values()) {
        if (best === null || node.stateMachine.appliedIndex > best.stateMachine.appliedIndex) best = node;
      }
      return best?.appliedByIdem ?? new Map();
    },
    checkSafety(nodes) {
      return checkLogMatching(new Map([...nodes].map(([id, n]) => [id, n.core])));
    },
  };
}

/** The one leader with the highest term among live nodes, or null. */
export function leaderOf(nodes: ReadonlyMap<NodeId, RaftSimNode>): RaftSimNode | null {
  let best: RaftSimNode | null = null;
  for (const node of nodes.values()) {
    if (node.core.role === 'leader' && (best === null || node.core.term > best.core.term)) best = node;
  }
  return best;
}
