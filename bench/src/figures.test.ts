import { describe, expect, it } from 'vitest';
import { UsageError } from '@playground/node';
import { parseBenchArgs } from './args.js';
import type { ClosedLoopResult } from './closed-loop.js';
import { askingPrice, crdtTargets, type ConvergenceFigures, type MessageFigures, type ThroughputPair, type Write } from './crdt-figures.js';
import { leaderlessTargets, type QuorumFigures } from './leaderless-figures.js';
import { cpuBoundNote, cpuPerWriteUs, type SystemFigures } from './raft-figures.js';

const loop = (okPerSec: number, p50: number): ClosedLoopResult => ({
  label: 'x',
  connections: 32,
  durationS: 4,
  requests: okPerSec * 4,
  okPerSec,
  non2xx: 0,
  errors: 0,
  timeouts: 0,
  latency: { count: okPerSec * 4, p50, p90: p50, p99: p50 * 3, p999: p50 * 4, max: p50 * 5, mean: p50 },
});

const quorum = (w: number, incrP50Ms: number): QuorumFigures => ({
  label: `w=${w}`,
  nodes: w === 0 ? 1 : 3,
  w,
  r: w,
  runs: [],
  incrOkPerSec: 1,
  incrP50Ms,
  incrP99Ms: incrP50Ms * 3,
  countOkPerSec: 1,
  countP50Ms: 1,
  countP99Ms: 1,
  incrC1P50Ms: 1,
  incrC1P99Ms: 1,
  failures: 0,
});

describe('--figures arguments', () => {
  it('accepts raft, leaderless and crdt, and nothing else', () => {
    expect(parseBenchArgs(['--figures'], []).topologies[0]).toBe('raft');
    expect(parseBenchArgs(['--topology', 'leaderless', '--figures'], []).topologies).toEqual(['leaderless']);
    expect(parseBenchArgs(['--topology', 'crdt', '--figures'], []).topologies).toEqual(['crdt']);
    expect(() => parseBenchArgs(['--topology', 'etcd', '--figures'], [])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--topology', 'leaderless,crdt', '--figures'], [])).toThrow(/one topology/);
  });
});

describe('leaderless targets', () => {
  it('compares W=1 with the single node and W=3 with W=1, at p50', () => {
    const pass = leaderlessTargets([quorum(0, 10), quorum(1, 14), quorum(2, 20), quorum(3, 28)]);
    expect(pass.map((t) => t.met)).toEqual([true, true]);
    const miss = leaderlessTargets([quorum(0, 10), quorum(1, 16), quorum(2, 20), quorum(3, 33)]);
    expect(miss.map((t) => t.met)).toEqual([false, false]);
    expect(miss[0]?.value).toBe('1.6x');
  });
});

describe('crdt figures arguments', () => {
  it('refuse --idem-check-ms 0, which would make the row that asks peers first ask nobody', () => {
    const knobs = [{ name: 'idem-check-ms', type: 'int', default: 25, help: 'x' }] as const;
    expect(() => parseBenchArgs(['--topology', 'crdt', '--figures', '--idem-check-ms', '0'], knobs)).toThrow(/--idem-check-ms 0 with the CRDT --figures/);
    expect(parseBenchArgs(['--topology', 'crdt', '--figures', '--idem-check-ms', '50'], knobs).knobs['idem-check-ms']).toBe('50');
  });
});

describe('crdt targets', () => {
  const pair = (write: Write, single: ReturnType<typeof loop>, three: ReturnType<typeof loop>): ThroughputPair => ({
    write, single, three, singleRounds: [single.okPerSec], threeRounds: [three.okPerSec], threeIdemChecks: 0, threePeerMessages: 0, threeAcknowledged: 1, threeRpcFailures: {},
  });
  const conv = (replication: 'delta' | 'full', medianMs: number, worstMs: number): ConvergenceFigures => ({ replication, holdMs: 0, medianCutMs: 40, trialsMs: [medianMs, worstMs], medianMs, worstMs, medianHealCallMs: 1 });
  const msgs = (replication: 'delta' | 'full', entries: number): MessageFigures => ({
    replication, increments: 100, stateMessages: 20, fullStateMessages: 0, entries, allPeerMessages: 20, idemChecks: 0, rpcFailures: {}, gossipRounds: 10,
  });
  it('checks throughput against 2/3 of one node, convergence against 3 gossip intervals, entries delta < full', () => {
    const t = crdtTargets(
      [pair('plain', loop(3000, 10), loop(2100, 12))],
      [conv('delta', 150, 299), conv('full', 310, 500)],
      [msgs('delta', 300), msgs('full', 900)],
      100,
    );
    expect(t.map((x) => x.met)).toEqual([true, true, true, false, false, true]);
    const slow = crdtTargets([pair('keyed-local', loop(3000, 10), loop(1900, 40))], [], [msgs('delta', 900), msgs('full', 900)], 100);
    expect(slow.map((x) => x.met)).toEqual([false, false]);
  });
  it('holds the locally acknowledged writes to the target, and reports what asking peers first costs', () => {
    const rows = [pair('keyed', loop(3000, 10), loop(1500, 9)), pair('keyed-local', loop(3000, 10), loop(2000, 6.5))];
    const t = crdtTargets(rows, [], [], 100);
    expect(t.map((x) => [x.check.startsWith('keyed, acknowledged locally'), x.met])).toEqual([[true, true]]);
    const price = askingPrice(rows).join(' ');
    expect(price).toContain('asking first ran at 75% of the locally acknowledged throughput (1500 vs 2000 ok/s; p50 9 vs 6.5 ms)');
    expect(askingPrice([rows[0] as ThroughputPair])).toEqual([]);
  });
});

describe('raft figures: what bounds throughput', () => {
  const system = (name: string, okPerSec: number, cpuShare: Record<string, number>): SystemFigures => ({
    system: name, version: '1', c64: loop(okPerSec, 8), c1: loop(900, 1), unavailabilityMs: [200], medianUnavailabilityMs: 200, worstUnavailabilityMs: 200, cpuShare, notes: [],
  });
  it("divides every process's CPU by the writes acknowledged, and says what twice etcd would need", () => {
    const ours = system('raft', 8000, { 'n1 (leader)': 0.9, n2: 0.2, n3: 0.2, 'load generator': 0.4 });
    const etcd = system('etcd', 6000, { 'e1 (leader)': 1.1, e2: 0.2, e3: 0.2, 'load generator': 0.3 });
    expect(cpuPerWriteUs(ours)).toBe(213); // 1.7 cores / 8000 writes/s
    expect(cpuPerWriteUs(etcd)).toBe(300);
    const note = cpuBoundNote(2, ours, etcd).join('\n');
    expect(note).toContain('raft 213 us, etcd 300 us (1.41x)');
    expect(note).toContain("Twice etcd's rate (12000/s) on 2 cores needs at most 167 us per write");
    expect(note).toContain('the load generator alone spent 50 us per raft write');
    expect(cpuPerWriteUs(system('x', 0, { n1: 1 }))).toBeNull();
    expect(cpuBoundNote(2, system('raft', 8000, {}), etcd)).toEqual([]);
  });
  it('says how much of that budget the HTTP floor leaves, and what our members spend beyond it', () => {
    const ours = system('raft', 8000, { 'n1 (leader)': 0.9, n2: 0.2, n3: 0.2, 'load generator': 0.4 });
    const etcd = system('etcd', 6000, { 'e1 (leader)': 1.1, e2: 0.2, e3: 0.2, 'load generator': 0.3 });
    const note = cpuBoundNote(2, ours, etcd, { okPerSec: 20000, serverUs: 40, loadGeneratorUs: 45 }).join('\n');
    // 167 us of budget - 40 - 45 = 82 us; members 1.3 cores / 8000 = 163 us, 123 beyond the floor.
    expect(note).toContain('20000/s, 40 us of server CPU and 45 us of load generator per request');
    expect(note).toContain('that leaves 82 us per write for everything replication adds on three members');
    expect(note).toContain('the members of raft spent 123 us per write beyond the floor');
    expect(cpuBoundNote(2, ours, etcd).join('\n')).not.toContain('floor');
  });
});
