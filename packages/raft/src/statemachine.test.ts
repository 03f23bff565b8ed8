import { describe, expect, it } from 'vitest';
import { Rng } from '@playground/core';
import type { Entry } from './core/types.js';
import { CounterStateMachine, type ApplyResult } from './statemachine.js';

const T0 = 1_700_000_000_000;

function incr(index: number, key: string, delta: number, idem?: string, proposedAtMs = T0 + index): Entry {
  return { term: 1, index, command: { kind: 'incr', key, delta, proposedAtMs, ...(idem !== undefined ? { idem } : {}) } };
}

describe('CounterStateMachine', () => {
  it('counts by key; unknown keys are 0; a no-op applies nothing but advances', () => {
    const sm = new CounterStateMachine();
    expect(sm.apply({ term: 1, index: 1, command: null })).toBeNull();
    expect(sm.apply(incr(2, 'a', 5))).toEqual({ key: 'a', delta: 5, value: 5, duplicate: false, index: 2 });
    expect(sm.apply(incr(3, 'a', -2))?.value).toBe(3);
    expect(sm.apply(incr(4, 'b', 1))?.value).toBe(1);
    expect([sm.value('a'), sm.value('b'), sm.value('zzz')]).toEqual([3, 1, 0]);
    expect(sm.snapshotForStatus()).toEqual({ keys: 2, dedupEntries: 0, appliedIndex: 4 });
  });

  it('asserts entries arrive in index order, each once', () => {
    const sm = new CounterStateMachine();
    expect(() => sm.apply(incr(2, 'a', 1))).toThrow(/applied entry 2 after 0/);
    sm.apply(incr(1, 'a', 1));
    expect(() => sm.apply(incr(1, 'a', 1))).toThrow(/applied entry 1 after 1/);
    expect(sm.value('a')).toBe(1);
  });

  it('applies an idempotency key once and returns the first outcome to every repeat (dissertation §6.3)', () => {
    const sm = new CounterStateMachine();
    sm.apply(incr(1, 'a', 10, 'k1'));
    sm.apply(incr(2, 'a', 1));
    const first = { key: 'a', delta: 10, value: 10, duplicate: true, index: 1 };
    expect(sm.apply(incr(3, 'a', 10, 'k1'))).toEqual(first);
    // The key names the operation: reuse with other arguments still gets the first outcome.
    expect(sm.apply(incr(4, 'b', 99, 'k1'))).toEqual(first);
    expect([sm.value('a'), sm.value('b')]).toEqual([11, 0]);
    expect(sm.snapshotForStatus().dedupEntries).toBe(1);
  });

  it('expires keys by the leaders clock in the log, at dedupTtlMs past their proposal', () => {
    const sm = new CounterStateMachine({ dedupTtlMs: 1000 });
    sm.apply(incr(1, 'a', 1, 'k', T0));
    expect(sm.apply(incr(2, 'a', 1, 'k', T0 + 1000))?.duplicate).toBe(true); // exactly at the TTL: kept
    expect(sm.apply(incr(3, 'a', 1, 'k', T0 + 1001))).toMatchObject({ duplicate: false, value: 2, index: 3 }); // applied again
    expect(sm.apply(incr(4, 'a', 1, 'k', T0 + 1002))?.duplicate).toBe(true); // the new outcome is remembered
  });

  it('evicts the oldest key by index beyond dedupMaxEntries (FIFO)', () => {
    const sm = new CounterStateMachine({ dedupMaxEntries: 3 });
    ['k1', 'k2', 'k3', 'k4'].forEach((idem, i) => sm.apply(incr(i + 1, 'a', 1, idem)));
    expect(sm.snapshotForStatus().dedupEntries).toBe(3);
    expect(sm.apply(incr(5, 'a', 1, 'k2'))?.duplicate).toBe(true);
    expect(sm.apply(incr(6, 'a', 1, 'k1'))).toMatchObject({ duplicate: false, value: 5 }); // forgotten: applied again
    expect(sm.apply(incr(7, 'a', 1, 'k2'))?.duplicate).toBe(false); // k1's return evicted k2
    expect(sm.apply(incr(8, 'a', 1, 'k4'))?.duplicate).toBe(true);
  });

  it.each([
    { dedupMaxEntries: 200, dedupTtlMs: 1e12 }, // the FIFO bound alone
    { dedupMaxEntries: 100_000, dedupTtlMs: 20_000 }, // the TTL alone
    { dedupMaxEntries: 200, dedupTtlMs: 20_000 },
  ])('forgets the same keys at the same index on every replica (%o)', (options) => {
    const rng = new Rng(7);
    const log: Entry[] = [];
    let clockMs = T0;
    for (let index = 1; index <= 5000; index++) {
      if (rng.chance(0.05)) {
        log.push({ term: 1, index, command: null });
        continue;
      }
      clockMs += rng.int(-50, 200); // leaders' clocks disagree and step back at leader changes
      const idem = rng.chance(0.8) ? `k${rng.int(0, 600)}` : undefined;
      log.push(incr(index, `c${rng.int(0, 5)}`, rng.int(-3, 10), idem, clockMs));
    }
    const replicas = [1, 2].map(() => new CounterStateMachine(options));
    const outcomes = replicas.map((sm) => log.map((entry) => [sm.apply(entry), sm.snapshotForStatus().dedupEntries] as const));
    expect(outcomes[0]).toEqual(outcomes[1]);
    const results = outcomes[0]!.map(([result]) => result).filter((r): r is ApplyResult => r !== null);
    // The test can fail: keys were both deduplicated and, once forgotten, applied again.
    expect(results.some((r) => r.duplicate)).toBe(true);
    const appliedIdems = log
      .filter((entry, i) => entry.command?.idem !== undefined && outcomes[0]![i]![0]?.duplicate === false)
      .map((entry) => entry.command?.idem);
    expect(new Set(appliedIdems).size).toBeLessThan(appliedIdems.length); // some key was forgotten, then applied again
    expect(Math.max(...outcomes[0]!.map(([, size]) => size))).toBeLessThanOrEqual(options.dedupMaxEntries);
  });

  it('saturates at the safe integer bounds rather than losing precision', () => {
    const sm = new CounterStateMachine();
    sm.apply(incr(1, 'a', Number.MAX_SAFE_INTEGER - 1));
    expect(sm.apply(incr(2, 'a', 5))?.value).toBe(Number.MAX_SAFE_INTEGER);
    expect(sm.apply(incr(3, 'a', -1))?.value).toBe(Number.MAX_SAFE_INTEGER - 1);
    sm.apply(incr(4, 'b', -Number.MAX_SAFE_INTEGER));
    expect(sm.apply(incr(5, 'b', -Number.MAX_SAFE_INTEGER))?.value).toBe(Number.MIN_SAFE_INTEGER);
  });

  it('rejects bad options', () => {
    expect(() => new CounterStateMachine({ dedupMaxEntries: 0 })).toThrow(/dedupMaxEntries/);
  });
});
