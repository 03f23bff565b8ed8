/**
 * The multi-leader CRDT counter topology: every node is a leader, every write is local and
 * durable, replicas converge by merging state (delta-state by default). Available on both
 * sides of a partition; reads may be stale.
 */
import type { KnobSpec, KnobValues, TopologyModule } from '@playground/core';
import { CrdtNode, type CrdtKnobs } from './driver.js';

export { CounterCrdt, concurrent, dotBefore } from './core/counter.js';
export { LocalWriter } from './core/local.js';
export { Replicator, type ReplicationMode } from './core/replicator.js';
export { Harness, digest } from './core/harness.js';
export type { CounterMode, Dot, StateDelta } from './core/types.js';
export { CrdtNode, type CrdtKnobs } from './driver.js';
export { crdtSimTopology, CrdtSimNode, type CrdtSimMessage, type CrdtSimOptions, type CrdtSimTopology } from './sim-adapter.js';

const knobs: readonly KnobSpec[] = [
  { name: 'gossip-ms', type: 'int', default: 100, min: 5, max: 60_000, help: 'anti-entropy gossip period (ms)' },
  { name: 'fanout', type: 'int', default: 2, min: 1, max: 64, help: 'peers gossiped to per round (capped at the number of peers)' },
  { name: 'counter', type: 'enum', default: 'pn', values: ['pn', 'gcounter'], help: 'pn: increments and decrements; gcounter: increments only (a negative delta is a 400)' },
  { name: 'replication', type: 'enum', default: 'delta', values: ['delta', 'full'], help: 'delta-state (what a peer has not acknowledged) or full state every message' },
  { name: 'max-live-dots', type: 'int', default: 100_000, min: 1, help: 'keyed increments not yet folded; beyond it a keyed increment is refused with 503' },
  { name: 'max-tombstones', type: 'int', default: 100_000, min: 0, help: 'folded idempotency keys remembered; a retry after this many newer keyed increments counts again' },
  { name: 'max-change-log', type: 'int', default: 100_000, min: 16, help: 'changes remembered for delta replication; a peer further behind gets full state' },
  { name: 'wait-ms', type: 'int', default: 1000, min: 1, max: 60_000, help: 'how long w=majority|all and r=majority|all wait for replicas' },
  {
    name: 'push-ms',
    type: 'int',
    default: 10,
    min: 0,
    max: 60_000,
    help: 'a local increment is pushed to peers within this long, in one message per peer with the others meanwhile (0: after its own group commit; w=majority|all push at once)',
  },
  {
    name: 'idem-check-ms',
    type: 'int',
    default: 25,
    min: 0,
    max: 10_000,
    help: 'a keyed increment first asks reachable peers, this long at most, whether they hold its key (0: never; it still counts once)',
  },
  {
    name: 'peer-timeout-ms',
    type: 'int',
    default: 200,
    min: 1,
    max: 60_000,
    help: 'timeout of one gossip or pull message (a lost one is resent next round; short keeps convergence after a heal fast)',
  },
  {
    name: 'hedge-ms',
    type: 'int',
    default: 50,
    min: 0,
    max: 60_000,
    help: 'a gossip message unanswered this long gets a fresh one sent beside it (at most one), so a healed partition is found within a round, not after a timeout (0: never)',
  },
  { name: 'snapshot-bytes', type: 'int', default: 8 * 1024 * 1024, min: 1024, help: 'snapshot the state and truncate the log once it passes this size' },
  { name: 'heartbeat-rounds', type: 'int', default: 10, min: 1, max: 10_000, help: 'a peer with nothing new still hears from us every so many rounds' },
  { name: 'gossip-seed', type: 'int', default: 0, min: 0, help: 'seed for the gossip peer choice (0: random, logged at start)' },
];

function toKnobs(v: KnobValues): CrdtKnobs {
  const int = (name: string): number => {
    const value = v[name];
    return typeof value === 'number' ? value : Number((knobs.find((k) => k.name === name) as KnobSpec).default);
  };
  return {
    gossipMs: int('gossip-ms'),
    fanout: int('fanout'),
    mode: v.counter === 'gcounter' ? 'g' : 'pn',
    replication: v.replication === 'full' ? 'full' : 'delta',
    maxLiveDots: int('max-live-dots'),
    maxTombstones: int('max-tombstones'),
    maxChangeLog: int('max-change-log'),
    waitMs: int('wait-ms'),
    peerTimeoutMs: int('peer-timeout-ms'),
    hedgeMs: int('hedge-ms'),
    idemCheckMs: int('idem-check-ms'),
    pushMs: int('push-ms'),
    snapshotBytes: int('snapshot-bytes'),
    heartbeatRounds: int('heartbeat-rounds'),
    seed: int('gossip-seed'),
  };
}

export const crdtTopology: TopologyModule = {
  name: 'crdt',
  knobs,
  create: (context) => new CrdtNode(context, toKnobs(context.knobs)),
};
