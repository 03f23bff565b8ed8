import { describe, expect, it } from 'vitest';
import { checkCounterBounds } from './counter-bounds.js';
import { history } from './test-helpers.js';

describe('checkCounterBounds (Jepsen counter)', () => {
  it('accepts reads between what surely and what possibly happened', () => {
    const ops = history()
      .incr(0, 1)
      .incr(2, 10) // concurrent with the reads below
      .incr(3, 4, { outcome: 'info' })
      .read(5, 6, 1)
      .read(5, 6, 2)
      .read(5, 6, 3)
      .incr(20, 21, { outcome: 'fail', delta: 100 })
      .read(30, 31, 2).ops;
    const v = checkCounterBounds(ops);
    expect(v.valid).toBe(true);
    expect(v.details?.reads).toBe(4);
  });

  it('reports a stale read, by how much and for how long', () => {
    const ops = history().incr(0, 1).incr(2, 3, { delta: 2 }).incr(4, 5, { delta: 3 }).read(10, 11, 1).ops;
    const v = checkCounterBounds(ops);
    expect(v.valid).toBe(false);
    expect(v.summary).toMatch(/1 of 1 read\(s\) stale: worst op 3 read 1 on key k, 5 below the acknowledged 6/);
    expect(v.details).toMatchObject({ staleReads: 1, staleFraction: 1, maxStaleness: 5, maxStaleMs: 7 });
    expect(checkCounterBounds(ops, { allowStale: true }).valid).toBe(true);
  });

  it('reports an impossible read above every increment made', () => {
    const ops = history().incr(0, 1).incr(2, 3, { outcome: 'info' }).read(4, 5, 3).incr(6, 7).ops;
    const v = checkCounterBounds(ops, { allowStale: true });
    expect(v.valid).toBe(false);
    expect(v.summary).toMatch(/impossible read\(s\): op 2 read 3 on key k, above the most it could be \(2\)/);
  });

  it('swaps the bounds for negative deltas', () => {
    const base = history().incr(0, 1, { delta: 5 }).incr(2, 3, { delta: -2 }).incr(4, 20, { delta: -1 });
    expect(checkCounterBounds([...base.ops, ...history().read(10, 11, 2).ops.map((o) => ({ ...o, id: 9 }))]).valid).toBe(true);
    expect(checkCounterBounds([...base.ops, ...history().read(10, 11, 3).ops.map((o) => ({ ...o, id: 9 }))]).valid).toBe(true);
    const below = checkCounterBounds([...base.ops, ...history().read(10, 11, 1).ops.map((o) => ({ ...o, id: 9 }))]);
    expect(below.valid).toBe(false);
    const above = checkCounterBounds([...base.ops, ...history().read(10, 11, 4).ops.map((o) => ({ ...o, id: 9 }))]);
    expect(above.summary).toMatch(/impossible/);
  });

  it('counts retries of one idempotency key once', () => {
    const ops = history().incr(0, 1, { idempotencyKey: 'a' }).incr(2, 3, { idempotencyKey: 'a' }).read(4, 5, 2).ops;
    expect(checkCounterBounds(ops).valid).toBe(false);
  });
});
