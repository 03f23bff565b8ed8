import type { KnobSpec, KnobValues, NodeId } from '@playground/core';
import type { ResolveMode } from './core/versioned.js';

export const KNOBS: readonly KnobSpec[] = [
  { name: 'n', type: 'int', default: 3, min: 1, max: 32, help: 'replicas per key (the preference list length)' },
  { name: 'w', type: 'int', default: 2, min: 1, max: 32, help: 'default write quorum (per request: w=1..n)' },
  { name: 'r', type: 'int', default: 2, min: 1, max: 32, help: 'default read quorum (per request: r=1..n)' },
  { name: 'resolve', type: 'enum', default: 'merge', values: ['merge', 'lww'], help: 'siblings: merge = counter CRDT, lossless, exactly-once with Idempotency-Key; lww = last writer wins on wall clocks (loses concurrent increments, on purpose)' },
  { name: 'read-repair', type: 'bool', default: true, help: 'send the merged version to stale replicas after a read' },
  { name: 'sloppy-quorum', type: 'bool', default: false, help: 'write to a stand-in with a hint when an owner is unreachable (needs more nodes than n)' },
  { name: 'hint-max', type: 'int', default: 10_000, min: 0, max: 10_000_000, help: 'hinted (owner, key) pairs held; at the bound new hinted writes are refused' },
  { name: 'handoff-ms', type: 'int', default: 200, min: 10, max: 600_000, help: 'how often hints are offered to their owners' },
  { name: 'anti-entropy-ms', type: 'int', default: 1000, min: 0, max: 3_600_000, help: 'digest exchange with one peer every this often (0 = off)' },
  { name: 'probe-ms', type: 'int', default: 200, min: 10, max: 60_000, help: 'how often unreachable peers are probed' },
  { name: 'clock-skew-ms', type: 'int', default: 0, min: -86_400_000, max: 86_400_000, help: 'added to this node\'s wall clock for lww timestamps (shows the skew hazard)' },
  { name: 'vnodes', type: 'int', default: 64, min: 1, max: 4096, help: 'virtual nodes per member on the hash ring' },
  { name: 'rpc-timeout-ms', type: 'int', default: 1000, min: 10, max: 60_000, help: 'deadline of a request\'s replica round and of each peer call' },
  { name: 'siblings-max', type: 'int', default: 16, min: 1, max: 1024, help: 'siblings kept per key; at the bound merge mode merges them into one version (nothing lost)' },
  { name: 'dedup-max', type: 'int', default: 100_000, min: 1, max: 10_000_000, help: 'idempotent increments remembered per key; at the bound new ones are refused (503), never counted twice' },
  { name: 'keys-max', type: 'int', default: 100_000, min: 1, max: 10_000_000, help: 'keys stored per node; at the bound new keys are refused' },
  { name: 'wal-compact-mb', type: 'int', default: 64, min: 1, max: 65_536, help: 'rewrite the write-ahead log as a snapshot past this size' },
];

export interface LeaderlessConfig {
  readonly n: number;
  readonly w: number;
  readonly r: number;
  readonly resolve: ResolveMode;
  readonly readRepair: boolean;
  readonly sloppyQuorum: boolean;
  readonly hintMax: number;
  readonly handoffMs: number;
  readonly antiEntropyMs: number;
  readonly probeMs: number;
  readonly clockSkewMs: number;
  readonly vnodes: number;
  readonly rpcTimeoutMs: number;
  readonly siblingsMax: number;
  readonly dedupMax: number;
  readonly keysMax: number;
  readonly walCompactBytes: number;
}

function knob<T extends number | boolean | string>(knobs: KnobValues, name: string): T {
  const spec = KNOBS.find((k) => k.name === name);
  return (knobs[name] ?? spec?.default) as T;
}

/** Checks between knobs: one line saying what is wrong, or null. */
export function checkKnobs(knobs: KnobValues, members?: number): string | null {
  const n = knob<number>(knobs, 'n');
  for (const q of ['w', 'r']) {
    const v = knob<number>(knobs, q);
    if (v > n) return `--${q} ${v} must be at most --n ${n}`;
  }
  const resolve = knob<string>(knobs, 'resolve');
  if (resolve !== 'merge' && resolve !== 'lww') return `--resolve ${resolve}: expected merge or lww`;
  if (members !== undefined && n > members) return `--n ${n} needs at least ${n} members, --peers lists ${members}`;
  return null;
}

export function readConfig(knobs: KnobValues, members: readonly NodeId[]): LeaderlessConfig {
  const problem = checkKnobs(knobs, members.length);
  if (problem !== null) throw new Error(problem);
  return {
    n: knob(knobs, 'n'),
    w: knob(knobs, 'w'),
    r: knob(knobs, 'r'),
    resolve: knob(knobs, 'resolve'),
    readRepair: knob(knobs, 'read-repair'),
    sloppyQuorum: knob(knobs, 'sloppy-quorum'),
    hintMax: knob(knobs, 'hint-max'),
    handoffMs: knob(knobs, 'handoff-ms'),
    antiEntropyMs: knob(knobs, 'anti-entropy-ms'),
    probeMs: knob(knobs, 'probe-ms'),
    clockSkewMs: knob(knobs, 'clock-skew-ms'),
    vnodes: knob(knobs, 'vnodes'),
    rpcTimeoutMs: knob(knobs, 'rpc-timeout-ms'),
    siblingsMax: knob(knobs, 'siblings-max'),
    dedupMax: knob(knobs, 'dedup-max'),
    keysMax: knob(knobs, 'keys-max'),
    walCompactBytes: knob<number>(knobs, 'wal-compact-mb') * 1024 * 1024,
  };
}
