/**
 * The leader-follower topology: Raft (Ongaro & Ousterhout 2014) replicating a counter.
 */
import type { KnobSpec, KnobValues, TopologyModule } from '@playground/core';
import { RaftNode, type RaftKnobs } from './driver.js';

export { RaftCore } from './core/index.js';
export type * from './core/types.js';
export { CounterStateMachine, type ApplyResult } from './statemachine.js';
export { MemoryLog, RaftLogFile, LogCorruptError } from './storage/index.js';
export { RaftNode } from './driver.js';

const knobs: readonly KnobSpec[] = [
  { name: 'tick-ms', type: 'int', default: 10, min: 1, max: 1000, help: 'one logical clock tick of the Raft core' },
  { name: 'election-min-ms', type: 'int', default: 150, min: 10, max: 60_000, help: 'shortest randomized election timeout (Raft §5.2)' },
  { name: 'election-max-ms', type: 'int', default: 300, min: 20, max: 120_000, help: 'longest randomized election timeout' },
  { name: 'heartbeat-ms', type: 'int', default: 50, min: 1, max: 60_000, help: 'leader heartbeat interval, well inside the election timeout' },
  { name: 'fsync', type: 'bool', default: true, help: 'fsync the log before acknowledging (turn off only to see what it costs)' },
  { name: 'max-inflight-appends', type: 'int', default: 64, min: 1, max: 4096, help: 'pipelined appends in flight per follower' },
  { name: 'max-batch', type: 'int', default: 512, min: 1, max: 8192, help: 'entries per append message' },
  { name: 'request-timeout-ms', type: 'int', default: 5000, min: 10, max: 600_000, help: 'client request deadline; past it the answer is 504 (unknown)' },
  { name: 'raft-rpc-timeout-ms', type: 'int', default: 300, min: 10, max: 60_000, help: 'timeout of one batch of Raft messages to a peer' },
  { name: 'forward-timeout-ms', type: 'int', default: 2000, min: 10, max: 600_000, help: 'timeout of a follower forwarding a request to the leader' },
  { name: 'dedup-max', type: 'int', default: 100_000, min: 1, max: 10_000_000, help: 'idempotency keys remembered (oldest forgotten first)' },
  { name: 'dedup-ttl-ms', type: 'int', default: 86_400_000, min: 0, max: 31 * 86_400_000, help: 'how long an idempotency key is remembered (leader clocks)' },
  { name: 'max-pending', type: 'int', default: 20_000, min: 1, max: 1_000_000, help: 'increments waiting for commit; beyond it 503' },
  {
    name: 'max-log-entries',
    type: 'int',
    default: 4_000_000,
    min: 2,
    max: 100_000_000,
    help: 'entries the log may hold: v1 keeps every entry (no snapshots), in memory and on disk; a leader whose log is full answers increments with 503',
  },
  { name: 'seed', type: 'int', default: 0, min: 0, max: 2 ** 32 - 1, help: 'seed of the election-timeout RNG (0: from the node id and the clock)' },
];

function checkKnobs(v: KnobValues): string | null {
  const [min, max, hb] = [v['election-min-ms'] as number, v['election-max-ms'] as number, v['heartbeat-ms'] as number];
  if (max <= min) return `--election-max-ms (${max}) must be greater than --election-min-ms (${min})`;
  if (hb * 2 > min) return `--heartbeat-ms (${hb}) must be at most half of --election-min-ms (${min}), or followers time out between heartbeats`;
  return null;
}

function toKnobs(v: KnobValues): RaftKnobs {
  const n = (name: string): number => v[name] as number;
  const k: RaftKnobs = {
    tickMs: n('tick-ms'),
    electionMinMs: n('election-min-ms'),
    electionMaxMs: n('election-max-ms'),
    heartbeatMs: n('heartbeat-ms'),
    fsync: v.fsync as boolean,
    maxInflightAppends: n('max-inflight-appends'),
    maxBatch: n('max-batch'),
    requestTimeoutMs: n('request-timeout-ms'),
    raftRpcTimeoutMs: n('raft-rpc-timeout-ms'),
    forwardTimeoutMs: n('forward-timeout-ms'),
    dedupMaxEntries: n('dedup-max'),
    dedupTtlMs: n('dedup-ttl-ms'),
    maxPendingProposals: n('max-pending'),
    maxLogEntries: n('max-log-entries'),
    seed: n('seed'),
  };
  const problem = checkKnobs(v);
  if (problem) throw new Error(problem);
  return k;
}

export const raftTopology: TopologyModule = {
  name: 'raft',
  knobs,
  clientParams: { incr: [], count: ['consistency'] },
  checkKnobs,
  create: (context) => new RaftNode(context, toKnobs(context.knobs)),
};
