import { describe, expect, it } from 'vitest';
import { checkNoDuplicates } from './idempotency.js';
import { history } from './test-helpers.js';

describe('checkNoDuplicates', () => {
  const ops = history()
    .incr(0, 5, { outcome: 'info', idempotencyKey: 'a' })
    .incr(6, 7, { idempotencyKey: 'a', value: 1 })
    .incr(8, 9, { idempotencyKey: 'a', value: 1 })
    .incr(10, 11, { idempotencyKey: 'b', outcome: 'info' })
    .incr(12, 13, { idempotencyKey: 'c', outcome: 'fail' }).ops;

  it('accepts retries that return the first outcome', () => {
    expect(checkNoDuplicates(ops).valid).toBe(true);
  });

  it('accepts applied counts that keep the promises', () => {
    expect(checkNoDuplicates(ops, [{ key: 'k', idempotencyKey: 'a', count: 1 }]).valid).toBe(true);
    expect(checkNoDuplicates(ops, [{ key: 'k', idempotencyKey: 'a', count: 1 }, { key: 'k', idempotencyKey: 'b', count: 1 }]).valid).toBe(true);
  });

  it('rejects retries acknowledged with different values', () => {
    const bad = [...ops, ...history().incr(20, 21, { idempotencyKey: 'a', value: 2 }).ops.map((o) => ({ ...o, id: 50 }))];
    expect(checkNoDuplicates(bad).summary).toMatch(/key a acknowledged with different values \(1, 2\)/);
  });

  it('rejects lost, duplicated and failed-yet-applied increments', () => {
    expect(checkNoDuplicates(ops, []).summary).toMatch(/acknowledged increment a on k never applied \(lost\)/);
    expect(checkNoDuplicates(ops, [{ key: 'k', idempotencyKey: 'a', count: 2 }]).summary).toMatch(/a on k applied 2 times/);
    const failed = checkNoDuplicates(ops, [
      { key: 'k', idempotencyKey: 'a', count: 1 },
      { key: 'k', idempotencyKey: 'c', count: 1 },
    ]);
    expect(failed.summary).toMatch(/c on k failed \(surely not applied\) yet was applied/);
  });
});
