import { describe, expect, it } from 'vitest';
import { checkFinalConvergence, subsetSumReaches } from './convergence.js';
import { history } from './test-helpers.js';

const finals = (...values: number[]) => values.map((value, i) => ({ node: `n${i + 1}`, value }));

describe('checkFinalConvergence (Maelstrom counter rule)', () => {
  const ops = history()
    .incr(0, 1)
    .incr(0, 1, { delta: 2 })
    .incr(0, 1, { outcome: 'info', delta: 10 })
    .incr(0, 1, { outcome: 'info', delta: 20 })
    .incr(0, 1, { outcome: 'fail', delta: 100 }).ops;

  it('accepts the acknowledged sum plus any subset of the indeterminate increments', () => {
    for (const v of [3, 13, 23, 33]) expect(checkFinalConvergence(finals(v, v, v), ops).valid).toBe(true);
  });

  it('reports lost increments', () => {
    const v = checkFinalConvergence(finals(1, 1, 1), ops);
    expect(v.valid).toBe(false);
    expect(v.summary).toMatch(/n1,n2,n3 read 1, 2 below the acknowledged 3 \(lost increments\)/);
    expect(v.details?.lostTotal).toBe(2);
  });

  it('reports duplicated increments', () => {
    const above = checkFinalConvergence(finals(34, 34, 34), ops);
    expect(above.summary).toMatch(/1 above the most reachable 33/);
    expect(above.details?.duplicatedTotal).toBe(1);
    // 4 lies inside [3, 33] but is not 3 plus a subset of {10, 20}.
    expect(checkFinalConvergence(finals(4, 4, 4), ops).summary).toMatch(/not the acknowledged 3 plus any subset/);
  });

  it('reports divergent replicas', () => {
    const v = checkFinalConvergence(finals(3, 13, 3), ops);
    expect(v.valid).toBe(false);
    expect(v.summary).toMatch(/final reads disagree \(n1=3, n2=13, n3=3\)/);
  });

  it('counts an acknowledged retry once', () => {
    const retried = history().incr(0, 5, { outcome: 'info', idempotencyKey: 'a' }).incr(6, 7, { idempotencyKey: 'a' }).ops;
    expect(checkFinalConvergence(finals(1), retried).valid).toBe(true);
    expect(checkFinalConvergence(finals(2), retried).valid).toBe(false);
  });

  it("says 'unknown' when the subset-sum is too large to decide", () => {
    const many = history();
    for (let i = 0; i < 40; i++) many.incr(0, 1, { outcome: 'info', delta: 1_000_003 + i * 7919 });
    const v = checkFinalConvergence(finals(5_000_000), many.ops, { maxWork: 1_000 });
    expect(v.valid).toBe('unknown');
  });
});

describe('subsetSumReaches', () => {
  it('uses a range for equal deltas and a knapsack otherwise', () => {
    expect(subsetSumReaches(new Array(100_000).fill(1), 77_777)).toBe('yes');
    expect(subsetSumReaches([3, 3, 3], 7)).toBe('no');
    expect(subsetSumReaches([5, -2, 7], 3)).toBe('yes');
    expect(subsetSumReaches([5, -2, 7], 4)).toBe('no');
    expect(subsetSumReaches([2, 2, 2, 2, 3], 11)).toBe('yes');
    expect(subsetSumReaches([2, 2, 2, 2, 3], 1)).toBe('no');
  });
});
