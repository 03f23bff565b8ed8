import { describe, expect, it } from 'vitest';
import { BadRequestError } from '@playground/core';
import { FaultInjector, parseFaultSpec } from './faults.js';

const PEERS = ['n1', 'n2', 'n3'];

describe('parseFaultSpec', () => {
  it('fills defaults and keeps what was given', () => {
    expect(parseFaultSpec({}, PEERS, 'n1')).toEqual({
      partition: [], direction: 'both', mode: 'blackhole', delayMs: 0, jitterMs: 0, dropRate: 0, duplicateRate: 0,
    });
    const s = parseFaultSpec({ partition: ['n2', 'n3', 'n2'], direction: 'in', mode: 'reject', delayMs: 5, jitterMs: 2, dropRate: 0.5, duplicateRate: 1 }, PEERS, 'n1');
    expect(s).toEqual({ partition: ['n2', 'n3'], direction: 'in', mode: 'reject', delayMs: 5, jitterMs: 2, dropRate: 0.5, duplicateRate: 1 });
  });

  it.each([
    [[], 'body'],
    [null, 'body'],
    [{ partition: 'n2' }, 'partition'],
    [{ partition: ['n4'] }, 'partition'],
    [{ partition: ['n1'] }, 'partition'],
    [{ direction: 'sideways' }, 'direction'],
    [{ mode: 1 }, 'mode'],
    [{ delayMs: -1 }, 'delayMs'],
    [{ jitterMs: '5' }, 'jitterMs'],
    [{ dropRate: 1.01 }, 'dropRate'],
    [{ duplicateRate: -0.1 }, 'duplicateRate'],
    [{ delayMs: Number.NaN }, 'delayMs'],
    [{ typo: 1 }, 'typo'],
  ])('refuses %j naming %s', (input, field) => {
    let thrown: unknown;
    try {
      parseFaultSpec(input, PEERS, 'n1');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(BadRequestError);
    expect((thrown as BadRequestError).field).toBe(field);
  });
});

describe('FaultInjector', () => {
  const base = parseFaultSpec({}, PEERS, 'n1');

  it('partitions by direction', () => {
    const f = new FaultInjector();
    f.set({ ...base, partition: ['n2'], direction: 'out', mode: 'reject' });
    expect(f.outbound('n2', 'n1').kind).toBe('reject');
    expect(f.outbound('n3', 'n1').kind).toBe('send');
    expect(f.inbound('n2')).toBeNull();
    f.set({ ...base, partition: ['n2'], direction: 'in' });
    expect(f.outbound('n2', 'n1').kind).toBe('send');
    expect(f.inbound('n2')).toBe('blackhole');
    f.clear();
    expect(f.inbound('n2')).toBeNull();
    expect(f.get()).toBeNull();
  });

  it('draws drop, delay and duplicate from its random source', () => {
    const draws = [0.4, 0.6, 0.2, 0.9, 0.1, 0.3];
    const f = new FaultInjector(() => draws.shift() ?? 0.5);
    f.set({ ...base, dropRate: 0.5, delayMs: 100, jitterMs: 50, duplicateRate: 0.5 });
    expect(f.outbound('n2', 'n1')).toEqual({ kind: 'drop' }); // 0.4 < 0.5
    // 0.6: kept; delay 100 + (0.2*2-1)*50 = 70; duplicate 0.9 >= 0.5: no
    expect(f.outbound('n2', 'n1')).toEqual({ kind: 'send', delayMs: 70, duplicate: false });
    expect(f.outbound('n1', 'n1')).toEqual({ kind: 'send', delayMs: 0, duplicate: false }); // self: never
  });
});
