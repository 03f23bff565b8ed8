import { describe, expect, it } from 'vitest';
import { combine, fromJsonLines, logicalIncrements, toJsonLines, type Verdict } from './history.js';
import { history } from './test-helpers.js';

const verdict = (valid: Verdict['valid'], checker = 'x'): Verdict => ({ checker, valid, summary: String(valid) });

describe('history JSON lines', () => {
  it('round-trips a history', () => {
    const ops = history().incr(0, 1, { idempotencyKey: 'a', side: 'left' }).read(2, 3, 1).incr(4, 9, { outcome: 'info', error: 'timeout' }).ops;
    expect(fromJsonLines(toJsonLines(ops))).toEqual(ops);
  });

  it('names the line and the field of a bad entry', () => {
    const good = JSON.stringify(history().incr(0, 1).ops[0]);
    expect(() => fromJsonLines(`${good}\n{"id": 2}`)).toThrow(/line 2: process/);
    const noDelta = { ...history().incr(0, 1).ops[0], delta: 'x' };
    expect(() => fromJsonLines(JSON.stringify(noDelta))).toThrow(/line 1: delta must be a safe integer/);
    expect(() => fromJsonLines(`${good}\nnot json`)).toThrow(/line 2: not JSON/);
    expect(() => fromJsonLines(`${good}\n${good}`)).toThrow(/line 2: id 0 appears twice/);
    const backwards = { ...history().incr(5, 1).ops[0] };
    expect(() => fromJsonLines(JSON.stringify(backwards))).toThrow(/line 1: completeMs is before invokeMs/);
    const readWithoutValue = { ...history().read(0, 1, 0).ops[0], value: undefined };
    expect(() => fromJsonLines(JSON.stringify(readWithoutValue))).toThrow(/ok read needs value/);
  });

  it('skips blank lines', () => {
    expect(fromJsonLines('\n\n')).toEqual([]);
  });
});

describe('combine', () => {
  it('lets false dominate unknown dominate true', () => {
    expect(combine([verdict(true), verdict('unknown'), verdict(false)]).valid).toBe(false);
    expect(combine([verdict(true), verdict('unknown')]).valid).toBe('unknown');
    expect(combine([verdict(true), verdict(true)]).valid).toBe(true);
    expect(combine([verdict(true), verdict(false, 'lin')]).summary).toBe('lin: false');
  });
});

describe('logicalIncrements', () => {
  it('folds retries sharing an idempotency key into one increment', () => {
    const ops = history()
      .incr(0, 5, { outcome: 'info', idempotencyKey: 'a' })
      .incr(6, 8, { outcome: 'ok', idempotencyKey: 'a', value: 1 })
      .incr(7, 9, { outcome: 'fail', idempotencyKey: 'b' })
      .incr(8, 12, { outcome: 'info', idempotencyKey: 'b' })
      .incr(9, 10).ops;
    const incrs = logicalIncrements(ops);
    expect(incrs.map((i) => [i.idempotencyKey, i.outcome, i.invokeMs, i.completeMs, i.attempts.length])).toEqual([
      ['a', 'ok', 0, 8, 2],
      ['b', 'info', 7, Infinity, 2],
      [undefined, 'ok', 9, 10, 1],
    ]);
  });
});
