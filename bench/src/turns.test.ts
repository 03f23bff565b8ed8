import { describe, expect, it } from 'vitest';
import { inTurns, medianBy } from './turns.js';

describe('inTurns', () => {
  it('takes turns, the order reversed every other round, and returns each item its rounds in order', async () => {
    const calls: string[] = [];
    const out = await inTurns(['A', 'B'], 3, async (item, round) => {
      calls.push(`${item}${round}`);
      return `${item}${round}`;
    });
    expect(calls).toEqual(['A0', 'B0', 'B1', 'A1', 'A2', 'B2']);
    expect(out).toEqual([['A0', 'A1', 'A2'], ['B0', 'B1', 'B2']]);
  });

  it('stops before the next round once aborted', async () => {
    const controller = new AbortController();
    const out = await inTurns([1, 2], 3, async (item) => {
      if (item === 2) controller.abort();
      return item;
    }, controller.signal);
    expect(out).toEqual([[1], [2]]);
  });
});

describe('medianBy', () => {
  it('picks the measurement with the median rate, the lower middle for an even count', () => {
    const runs = [{ r: 30 }, { r: 10 }, { r: 20 }];
    expect(medianBy(runs, (x) => x.r)).toBe(runs[2]);
    expect(medianBy([{ r: 4 }, { r: 1 }, { r: 3 }, { r: 2 }], (x) => x.r)).toEqual({ r: 2 });
  });
});
