import { describe, expect, it } from 'vitest';
import { INCREMENTS_PER_KEY, rotatingKeys } from './keys.js';

describe('rotatingKeys', () => {
  it('moves to a fresh key every `span` increments, and says which key comes next without taking it', () => {
    const keys = rotatingKeys('t', 3);
    const first = keys.upcoming();
    expect(keys.upcoming()).toBe(first);
    const taken = Array.from({ length: 7 }, () => keys.next());
    expect(taken.slice(0, 3)).toEqual([first, first, first]);
    expect(new Set(taken.slice(3, 6)).size).toBe(1);
    expect(taken[3]).not.toBe(first);
    expect(taken[6]).not.toBe(taken[3]);
    expect(keys.upcoming()).toBe(taken[6]);
  });

  it('keeps each key far below the leaderless default bound of 100,000 remembered Idempotency-Keys', () => {
    expect(INCREMENTS_PER_KEY).toBeLessThanOrEqual(50_000);
    const keys = rotatingKeys('t');
    const counts = new Map<string, number>();
    for (let i = 0; i < 3 * INCREMENTS_PER_KEY + 1; i++) {
      const key = keys.next();
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual([INCREMENTS_PER_KEY, INCREMENTS_PER_KEY, INCREMENTS_PER_KEY, 1]);
  });

  it('refuses a span that is not a positive integer', () => {
    expect(() => rotatingKeys('t', 0)).toThrow(/positive integer/);
    expect(() => rotatingKeys('t', 1.5)).toThrow(/positive integer/);
  });
});
