import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Op } from './history.js';
import { checkLinearizable } from './linearizable.js';
import { history } from './test-helpers.js';

const lin = (ops: Op[]) => checkLinearizable(ops, { timeBudgetMs: 5_000 });

describe('checkLinearizable: linearizable histories', () => {
  it('accepts a sequential history', () => {
    const ops = history().incr(0, 1).read(2, 3, 1).incr(4, 5, { delta: 2 }).read(6, 7, 3).incr(8, 9, { delta: -4 }).read(10, 11, -1).ops;
    expect(lin(ops).valid).toBe(true);
  });

  it('accepts reads on either side of a concurrent increment', () => {
    const ops = history().incr(0, 10).read(1, 2, 0).read(3, 4, 1).read(11, 12, 1).ops;
    expect(lin(ops).valid).toBe(true);
  });

  it('accepts overlapping increments reporting the values after them in either order', () => {
    const ops = history().incr(0, 10, { value: 2 }).incr(1, 9, { value: 1 }).read(11, 12, 2).ops;
    expect(lin(ops).valid).toBe(true);
  });

  it('accepts an info increment that took effect, and one that did not', () => {
    const happened = history().incr(0, 5, { outcome: 'info' }).read(10, 11, 1).ops;
    const didNot = history().incr(0, 5, { outcome: 'info' }).read(10, 11, 0).ops;
    const later = history().incr(0, 5, { outcome: 'info' }).read(10, 11, 0).read(20, 21, 1).ops;
    expect(lin(happened).valid).toBe(true);
    expect(lin(didNot).valid).toBe(true);
    expect(lin(later).valid).toBe(true);
  });

  it('drops failed increments and reads without a result', () => {
    const ops = history().incr(0, 1, { outcome: 'fail' }).read(2, 3, 0).read(4, 5, 99, { outcome: 'info' }).ops;
    expect(lin(ops).valid).toBe(true);
  });

  it('treats retries of one idempotency key as one increment', () => {
    const ops = history()
      .incr(0, 5, { outcome: 'info', idempotencyKey: 'a' })
      .incr(6, 8, { idempotencyKey: 'a' })
      .read(9, 10, 1).ops;
    expect(lin(ops).valid).toBe(true);
    const twice = [...ops, ...history().read(11, 12, 2).ops.map((o) => ({ ...o, id: 99 }))];
    expect(lin(twice).valid).toBe(false);
  });

  it('checks each key on its own', () => {
    const ops = [...history('a').incr(0, 1).read(2, 3, 1).ops, ...history('b').read(0, 3, 0).ops.map((o) => ({ ...o, id: 10 }))];
    expect(lin(ops).valid).toBe(true);
  });
});

describe('checkLinearizable: violations', () => {
  it('rejects a stale read', () => {
    const v = lin(history().incr(0, 1).read(2, 3, 0).ops);
    expect(v.valid).toBe(false);
    expect(v.summary).toMatch(/op 1 \(read of 0\)/);
    expect(v.excerpt?.map((o) => o.id)).toEqual([0, 1]);
  });

  it('rejects a lost increment', () => {
    expect(lin(history().incr(0, 1).incr(2, 3).read(4, 5, 1).ops).valid).toBe(false);
  });

  it('rejects a double increment', () => {
    expect(lin(history().incr(0, 1).read(2, 3, 2).ops).valid).toBe(false);
    expect(lin(history().incr(0, 1, { value: 1 }).incr(0, 1, { value: 1 }).ops).valid).toBe(false);
  });

  it('rejects a read from the future', () => {
    expect(lin(history().read(0, 1, 1).incr(2, 3).ops).valid).toBe(false);
  });

  it('rejects reads that see an increment and then un-see it', () => {
    expect(lin(history().incr(0, 10).read(1, 2, 1).read(3, 4, 0).ops).valid).toBe(false);
  });

  it('rejects an info increment taking effect twice', () => {
    expect(lin(history().incr(0, 5, { outcome: 'info' }).read(10, 11, 1).read(12, 13, 2).ops).valid).toBe(false);
  });
});

/** A random linearizable history of one atomic counter: each op takes effect at a point inside its interval. */
function atomicCounterHistory(seed: number, count: number, clients: number, infoRate: number): Op[] {
  let s = seed >>> 0 || 1;
  const rand = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const events: { at: number; op: Op }[] = [];
  const clock = new Array<number>(clients).fill(0);
  for (let id = 0; id < count; id++) {
    const c = id % clients;
    const invokeMs = (clock[c] as number) + Math.floor(rand() * 3);
    const at = invokeMs + rand() * 10;
    const completeMs = Math.ceil(at + rand() * 10);
    clock[c] = completeMs + 1;
    const isRead = rand() < 0.4;
    const info = !isRead && rand() < infoRate;
    const op: Op = isRead
      ? { id, process: c, node: 'n1', key: 'k', type: 'read', invokeMs, completeMs, outcome: 'ok' }
      : { id, process: c, node: 'n1', key: 'k', type: 'incr', delta: 1 + Math.floor(rand() * 3), invokeMs, completeMs, outcome: info ? 'info' : 'ok' };
    // An info increment that was never applied is simply left out of the effects.
    if (!(info && rand() < 0.5)) events.push({ at, op });
  }
  events.sort((a, b) => a.at - b.at);
  let counter = 0;
  for (const { op } of events) {
    if (op.type === 'incr') counter += op.delta as number;
    else op.value = counter;
  }
  const ops = new Map<number, Op>();
  for (const { op } of events) ops.set(op.id, op);
  return [...ops.values()].sort((a, b) => a.id - b.id);
}

describe('checkLinearizable: scale and budget', () => {
  it('checks 2,000 ops on one key with 6 concurrent clients and some timeouts quickly', () => {
    const ops = atomicCounterHistory(7, 2_000, 6, 0.05);
    const started = performance.now();
    const v = checkLinearizable(ops, { timeBudgetMs: 20_000 });
    const elapsedMs = performance.now() - started;
    expect(v.valid).toBe(true);
    expect(elapsedMs).toBeLessThan(3_000);
  });

  it('finds a single wrong read among 2,000 ops', () => {
    const ops = atomicCounterHistory(11, 2_000, 4, 0);
    const reads = ops.filter((o) => o.type === 'read' && o.id > 1_000);
    const victim = reads[0] as Op;
    victim.value = (victim.value as number) + 1_000;
    const v = checkLinearizable(ops, { timeBudgetMs: 20_000 });
    expect(v.valid).toBe(false);
    expect(v.excerpt?.some((o) => o.id === victim.id)).toBe(true);
  });

  it("answers 'unknown', not a hang, when the budget runs out", () => {
    // Wide concurrency, and an impossible last read that forces the whole space to be explored.
    const ops = atomicCounterHistory(3, 1_500, 12, 0.2);
    ops.push({ id: 99_999, process: 'x', node: 'n1', key: 'k', type: 'read', value: -1, invokeMs: 1e9, completeMs: 1e9 + 1, outcome: 'ok' });
    const started = performance.now();
    const v = checkLinearizable(ops, { timeBudgetMs: 20 }); // deciding it takes ~0.8 s here
    expect(v.valid).toBe('unknown');
    expect(v.summary).toMatch(/budget/);
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

/** Brute force for tiny histories: every subset of info increments, every order respecting real time. */
function bruteForce(ops: Op[]): boolean {
  const incrOutcome = (o: Op): boolean => o.type === 'incr' && o.outcome !== 'fail';
  const mandatory = ops.filter((o) => (o.type === 'read' && o.outcome === 'ok') || (o.type === 'incr' && o.outcome === 'ok'));
  const optional = ops.filter((o) => incrOutcome(o) && o.outcome === 'info');
  const end = (o: Op): number => (o.outcome === 'ok' ? o.completeMs : Infinity);
  const search = (left: Op[], value: number): boolean => {
    if (left.length === 0) return true;
    return left.some((o, i) => {
      const rest = left.filter((_, j) => j !== i);
      // o may go first only if no remaining op finished before o started.
      if (rest.some((r) => end(r) < o.invokeMs)) return false;
      const next = o.type === 'incr' ? value + (o.delta as number) : value;
      if (o.outcome === 'ok' && o.value !== undefined && o.value !== next) return false;
      return search(rest, next);
    });
  };
  for (let mask = 0; mask < 1 << optional.length; mask++) {
    const chosen = optional.filter((_, i) => (mask >> i) & 1);
    if (search([...mandatory, ...chosen], 0)) return true;
  }
  return false;
}

describe('checkLinearizable agrees with brute force on small random histories', () => {
  it('for 400 random histories', () => {
    const opArb = fc.record({
      type: fc.constantFrom<'incr' | 'read'>('incr', 'read'),
      start: fc.integer({ min: 0, max: 6 }),
      length: fc.integer({ min: 0, max: 4 }),
      delta: fc.integer({ min: -1, max: 2 }),
      value: fc.integer({ min: -1, max: 3 }),
      outcome: fc.constantFrom<'ok' | 'info' | 'fail'>('ok', 'ok', 'ok', 'info', 'fail'),
      reportsValue: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 7 }), (specs) => {
        const ops: Op[] = specs.map((s, id) => {
          const base = { id, process: id, node: 'n1', key: 'k', invokeMs: s.start, completeMs: s.start + s.length, outcome: s.outcome };
          return s.type === 'read'
            ? { ...base, type: 'read', value: s.value }
            : { ...base, type: 'incr', delta: s.delta, ...(s.reportsValue ? { value: s.value } : {}) };
        });
        expect(checkLinearizable(ops).valid).toBe(bruteForce(ops));
      }),
      { numRuns: 400, seed: 42 },
    );
  });
});
