import { describe, expect, it } from 'vitest';
import { readmeTable, runReport } from './report.js';
import type { RunSummary } from './summary.js';

function summary(over: Partial<RunSummary> & { topology: string; scenario: string; startedAt: string }): RunSummary {
  const { startedAt, ...rest } = over;
  const base: RunSummary = {
    schema: 1,
    topology: over.topology,
    scenario: over.scenario,
    description: 'n1 (the leader) cut off from n2, n3',
    provenance: { commit: 'abc123', host: 'box', cpu: 'cpu', cores: 2, memoryGiB: 8, os: 'linux', node: 'v20', startedAt, loadAverage: 0.5 },
    knobs: { w: '2' },
    settings: { durationS: 6, rate: 100, connections: 16, nodes: 3, seed: 7, readFraction: 0.5, opTimeoutMs: 2000, key: 'k', endpoints: false },
    phases: [
      { phase: 'before', startMs: 0, endMs: 2000 },
      { phase: 'during', startMs: 2000, endMs: 4000 },
      { phase: 'after', startMs: 4000, endMs: 6000 },
    ],
    faultWindow: { fromMs: 2000, toMs: 4000 },
    events: [{ atMs: 2000, what: 'partition' }],
    sideOf: { n1: 'minority', n2: 'majority', n3: 'majority' },
    operations: { total: 600, ok: 500, fail: 80, info: 20, skipped: 0, late: 3 },
    latency: [
      { key: { op: 'incr' }, latency: { count: 250, p50: 1.5, p90: 3, p99: 9, p999: 12, max: 20, mean: 2 } },
      { key: { op: 'incr', phase: 'before' }, latency: { count: 90, p50: 1.25, p90: 2, p99: 7.5, p999: 8, max: 9, mean: 1.5 } },
    ],
    throughput: { openLoop: [{ phase: 'before', okPerSec: 100, attemptedPerSec: 100 }], closedLoop: { incr: null, read: null } },
    availability: [
      { phase: 'during', side: 'minority', op: 'incr', total: 40, ok: 0, late: 2, fail: 28, info: 10, fraction: 0 },
      { phase: 'during', side: 'majority', op: 'incr', total: 60, ok: 57, late: 0, fail: 0, info: 3, fraction: 0.95 },
      { phase: 'during', side: 'minority', op: 'read', total: 40, ok: 10, late: 0, fail: 30, info: 0, fraction: 0.25 },
      { phase: 'during', side: 'majority', op: 'read', total: 60, ok: 60, late: 0, fail: 0, info: 0, fraction: 1 },
    ],
    unavailability: { clusterWide: { fromMs: 2000, toMs: 2400, lengthMs: 400 }, perSide: { minority: { fromMs: 1990, toMs: 6000, lengthMs: 4010 } }, newLeaderMs: 310 },
    consistency: {
      verdict: true,
      verdicts: [{ checker: 'linearizable', valid: true, summary: '500 ops | linearizable' }],
      staleReads: 0,
      reads: 250,
      staleFraction: 0,
      maxStaleness: 0,
      maxStaleMs: 0,
      lostIncrements: 0,
      duplicatedIncrements: 0,
      convergenceMs: 35,
      finalValues: { n1: 240, n2: 240, n3: 240 },
    },
    messagesPerOp: 2.5,
    harness: { cpuMsPer1000Ops: 300, cpuShareOfOneCore: 0.03 },
    notes: ['a note'],
    files: { history: 'history.jsonl', report: 'report.md', latencyChart: 'latency.svg', availabilityChart: null },
    histograms: [],
  };
  return { ...base, ...rest };
}

describe('runReport', () => {
  it('states the verdict, the provenance, the sides, the measures and links the files', () => {
    const md = runReport(summary({ topology: 'raft', scenario: 'isolate-leader', startedAt: '2026-01-01T00:00:00.000Z' }));
    expect(md).toMatch(/^# raft \/ isolate-leader/);
    expect(md).toContain('Consistency verdict: **pass**');
    expect(md).toContain('commit abc123');
    expect(md).toContain('seed 7');
    expect(md).toContain('`--w 2`');
    expect(md).toContain('n1=minority');
    expect(md).toContain('![latency over time, fault shaded](latency.svg)');
    expect(md).not.toContain('availability.svg');
    expect(md).toContain('| during | minority | incr | 0 | 2 | 28 | 10 | 0% |');
    expect(md).toContain('a new leader 310 ms after the fault');
    expect(md).toContain('| incr | before | all | 90 | 1.25 | 2 | 7.5 | 8 | 9 |');
    // A pipe inside a checker's summary must not break the table.
    expect(md).toContain('500 ops \\| linearizable');
    expect(md).toContain('300 ms CPU per 1000 operations');
  });

  it('shouts a failed verdict', () => {
    const s = summary({ topology: 'leaderless', scenario: 'flaky', startedAt: '2026-01-01T00:00:00.000Z' });
    s.consistency.verdict = false;
    expect(runReport(s)).toContain('Consistency verdict: **FAIL**');
  });
});

describe('readmeTable', () => {
  it('keeps the latest run per topology x scenario, groups topologies side by side, links each report', () => {
    const old = summary({ topology: 'raft', scenario: 'isolate-leader', startedAt: '2026-01-01T00:00:00.000Z' });
    old.messagesPerOp = 99;
    const md = readmeTable([
      { summary: old, dir: 'old-raft' },
      { summary: summary({ topology: 'crdt', scenario: 'isolate-leader', startedAt: '2026-01-02T00:00:00.000Z' }), dir: 'new-crdt' },
      { summary: summary({ topology: 'raft', scenario: 'isolate-leader', startedAt: '2026-01-02T00:00:00.000Z' }), dir: 'new-raft' },
      { summary: summary({ topology: 'raft', scenario: 'flaky', startedAt: '2026-01-02T00:00:00.000Z' }), dir: 'flaky-raft' },
    ]);
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| scenario') && !l.startsWith('| ---'));
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^\| flaky \| raft /);
    expect(rows[1]).toMatch(/^\| isolate-leader \| raft .*\[report\]\(new-raft\/report.md\)/);
    expect(rows[2]).toMatch(/^\| isolate-leader \| crdt /);
    expect(md).not.toContain('old-raft');
    // Writes during the fault: 0% on the side cut off, 95% on the rest.
    expect(rows[1]).toContain('| 0% / 95.0% |');
    expect(rows[1]).toContain('| 1.25 / 7.5 |');
    expect(md).toContain('commit abc123');
  });
});
