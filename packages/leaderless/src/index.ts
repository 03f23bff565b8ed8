/**
 * The Dynamo-style leaderless topology: consistent hashing with virtual nodes, per-request
 * N/W/R quorums, vector-clocked versions with siblings, a counter CRDT (`merge`) or
 * last-writer-wins (`lww`) resolution, read repair, sloppy quorum with hinted handoff, and
 * Merkle-style anti-entropy (DeCandia et al., "Dynamo", SOSP 2007).
 */
import type { TopologyModule } from '@playground/core';
import { checkKnobs, KNOBS, readConfig } from './config.js';
import { LeaderlessNode } from './driver.js';

export const leaderlessTopology: TopologyModule = {
  name: 'leaderless',
  knobs: KNOBS,
  clientParams: { incr: ['w', 'r', 'context'], count: ['r'] },
  checkKnobs,
  create: (context) => new LeaderlessNode(context, readConfig(context.knobs, context.peers.map((p) => p.id))),
};

export { LeaderlessNode } from './driver.js';
export { Ring } from './core/ring.js';
export { Replica } from './core/replica.js';
export { WriteRound, planTargets, mayHaveApplied, nextClock } from './core/coordinator.js';
export { ReadRound } from './core/read-round.js';
export { PeerHealth } from './core/health.js';
export { MergeObject, LwwObject } from './core/versioned.js';
export type { ResolveMode, VersionWire } from './core/versioned.js';
export { CounterCrdt } from './core/counter.js';
export { Store } from './store.js';
