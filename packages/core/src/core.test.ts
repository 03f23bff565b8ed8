import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { crc32 } from './crc32.js';
import { parsePeers, isCounterKey, isIdempotencyKey } from './ids.js';
import { Rng } from './rng.js';
import { compare, increment, merge, parseClock, type VClock } from './vclock.js';

describe('Rng', () => {
  it('replays the same stream from the same seed, and another from another seed', () => {
    const draw = (seed: number) => {
      const r = new Rng(seed);
      return Array.from({ length: 8 }, () => r.nextU32());
    };
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
  });

  it('keeps int() within its bounds and reaches both ends', () => {
    const r = new Rng(7);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const n = r.int(3, 6);
      expect(n).toBeGreaterThanOrEqual(3);
      expect(n).toBeLessThanOrEqual(6);
      seen.add(n);
    }
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
  });
});

describe('vector clocks', () => {
  const clock = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), fc.nat(5)) as fc.Arbitrary<VClock>;

  it('orders clocks as happened-before, after, equal or concurrent', () => {
    expect(compare({ a: 1 }, { a: 2 })).toBe('before');
    expect(compare({ a: 2, b: 1 }, { a: 2 })).toBe('after');
    expect(compare({ a: 1, b: 0 }, { a: 1 })).toBe('equal');
    expect(compare({ a: 1 }, { b: 1 })).toBe('concurrent');
    expect(compare(increment({ a: 1 }, 'a'), { a: 1 })).toBe('after');
  });

  it('merges to the least upper bound: commutative, associative, idempotent, dominating both', () => {
    fc.assert(
      fc.property(clock, clock, clock, (x, y, z) => {
        expect(compare(merge(x, y), merge(y, x))).toBe('equal');
        expect(compare(merge(merge(x, y), z), merge(x, merge(y, z)))).toBe('equal');
        expect(compare(merge(x, x), x)).toBe('equal');
        expect(['after', 'equal']).toContain(compare(merge(x, y), x));
        expect(['after', 'equal']).toContain(compare(merge(x, y), y));
      }),
    );
  });

  it('refuses malformed clocks from outside with a reason', () => {
    expect(parseClock({ a: -1 }, 8)).toMatch(/non-negative integer/);
    expect(parseClock({ a: 1.5 }, 8)).toMatch(/non-negative integer/);
    expect(parseClock([1], 8)).toMatch(/must be an object/);
    expect(parseClock({ a: 1, b: 2, c: 3 }, 2)).toMatch(/at most 2/);
    expect(parseClock({ a: 1 }, 8)).toEqual({ a: 1 });
  });
});

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});

describe('ids', () => {
  it('parses a peer list and says what is wrong with a bad one', () => {
    expect(parsePeers('n1=127.0.0.1:8001, n2=[::1]:8002')).toEqual([
      { id: 'n1', host: '127.0.0.1', port: 8001 },
      { id: 'n2', host: '::1', port: 8002 },
    ]);
    expect(parsePeers('n1=127.0.0.1')).toMatch(/id=host:port/);
    expect(parsePeers('n1=h:99999')).toMatch(/outside 1..65535/);
    expect(parsePeers('')).toMatch(/empty/);
  });

  it('validates counter and idempotency keys as the contract says', () => {
    expect(isCounterKey('orders:eu-1.total_2')).toBe(true);
    expect(isCounterKey('a b')).toBe(false);
    expect(isCounterKey('x'.repeat(129))).toBe(false);
    expect(isIdempotencyKey('retry me #1')).toBe(true);
    expect(isIdempotencyKey('tab\there')).toBe(false);
    expect(isIdempotencyKey('')).toBe(false);
  });
});
