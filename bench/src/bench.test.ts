import { describe, expect, it } from 'vitest';
import { consistencyFailures } from './bench.js';
import type { RunSummary } from './summary.js';

function outcome(topology: string, verdict: RunSummary['consistency']['verdict']): { summary: Pick<RunSummary, 'topology' | 'scenario' | 'consistency'> } {
  const verdicts = [{ checker: 'final-convergence', valid: verdict, summary: verdict === false ? 'read 9, 1 below the acknowledged 10' : 'ok' }];
  return { summary: { topology, scenario: 'isolate-one', consistency: { verdict, verdicts } as RunSummary['consistency'] } };
}

describe('consistencyFailures (the bench exit status)', () => {
  it('lists failed verdicts only, with what failed', () => {
    const failures = consistencyFailures([outcome('raft', true), outcome('crdt', false), outcome('leaderless', 'unknown')], new Map());
    expect(failures).toEqual([{ topology: 'crdt', scenario: 'isolate-one', why: 'read 9, 1 below the acknowledged 10', byDesign: false }]);
  });

  it('marks the losses of --resolve lww as by design, and only those', () => {
    const failures = consistencyFailures([outcome('leaderless', false)], new Map([['leaderless', { resolve: 'lww' }]]));
    expect(failures.map((f) => f.byDesign)).toEqual([true]);
    expect(consistencyFailures([outcome('leaderless', false)], new Map([['leaderless', { resolve: 'merge' }]]))[0]?.byDesign).toBe(false);
    expect(consistencyFailures([outcome('crdt', false)], new Map([['leaderless', { resolve: 'lww' }]]))[0]?.byDesign).toBe(false);
  });
});
