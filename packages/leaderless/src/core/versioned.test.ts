import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CounterCrdt } from './counter.js';
import { LwwObject, MergeObject } from './versioned.js';
import type { MergeVersion } from './versioned.js';

function dotVersion(clock: Record<string, number>, id: string, delta: number): MergeVersion {
  const crdt = new CounterCrdt();
  crdt.addDot(`k:${id}`, delta);
  return { clock, crdt };
}

describe('MergeObject (merge mode)', () => {
  it('keeps concurrent versions as siblings and their join as the value', () => {
    const obj = new MergeObject();
    obj.join(dotVersion({ a: 1 }, 'x', 1), 8);
    obj.join(dotVersion({ b: 1 }, 'y', 2), 8);
    expect(obj.siblingCount()).toBe(2);
    expect(obj.value()).toBe(3);
    expect(obj.clock()).toEqual({ a: 1, b: 1 });
  });

  it('drops a dominated version but folds its payload into the dominator (no loss)', () => {
    const obj = new MergeObject();
    obj.join(dotVersion({ a: 1 }, 'x', 1), 8);
    obj.join(dotVersion({ b: 1 }, 'y', 2), 8);
    obj.join(dotVersion({ a: 2, b: 1 }, 'z', 4), 8); // a write whose context saw both
    expect(obj.siblingCount()).toBe(1);
    expect(obj.value()).toBe(7);
    obj.join(dotVersion({ a: 1 }, 'late', 8), 8); // a late copy of an old write
    expect(obj.siblingCount()).toBe(1);
    expect(obj.value()).toBe(15);
  });

  it('counts a retried idempotent increment once, whichever coordinator carries it', () => {
    const obj = new MergeObject();
    obj.join(dotVersion({ a: 1 }, 'retry-me', 5), 8);
    obj.join(dotVersion({ b: 1 }, 'retry-me', 5), 8);
    expect(obj.value()).toBe(5);
  });

  it('collapses siblings at the bound without losing any increment', () => {
    const obj = new MergeObject();
    for (let i = 0; i < 5; i++) obj.join(dotVersion({ [`n${i}`]: 1 }, `d${i}`, 1), 3);
    expect(obj.siblingCount()).toBeLessThanOrEqual(3);
    expect(obj.value()).toBe(5);
    const before = obj.digest();
    obj.collapse();
    expect(obj.siblingCount()).toBe(1);
    expect(obj.digest()).not.toBe(before);
    expect(obj.digest()).toBe(MergeObject.fromWire(obj.toWire(), 3).digest());
  });

  it('has the same value whatever order versions arrive in, and converges after one exchange (property)', () => {
    const version = fc.record({
      node: fc.constantFrom('a', 'b', 'c'),
      tick: fc.integer({ min: 1, max: 4 }),
      other: fc.constantFrom('a', 'b', 'c'),
      otherTick: fc.integer({ min: 0, max: 4 }),
      id: fc.integer({ min: 0, max: 20 }),
      delta: fc.integer({ min: -3, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(version, { minLength: 1, maxLength: 20 }), fc.integer({ min: 0, max: 1000 }), (vs, seed) => {
        const make = (): MergeVersion[] =>
          vs.map((v) => dotVersion({ [v.other]: v.otherTick, [v.node]: v.tick }, `${v.id}`, v.delta));
        const a = new MergeObject();
        for (const v of [...make(), ...make()]) {
          const [digest, revision] = [a.digest(), a.revision];
          a.join(v, 16);
          // The digest it keeps is the digest of what it holds now (as rebuilt from the wire),
          // and the revision moves exactly when that digest does (a replay changes nothing).
          expect(a.digest()).toBe(MergeObject.fromWire(a.toWire(), 16).digest());
          expect(a.revision !== revision).toBe(a.digest() !== digest);
        }
        const shuffled = make();
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = (seed * (i + 7)) % (i + 1);
          [shuffled[i], shuffled[j]] = [shuffled[j] as MergeVersion, shuffled[i] as MergeVersion];
        }
        const b = new MergeObject();
        for (const v of shuffled) b.join(v, 16);
        for (const v of make()) b.join(v, 16); // duplicates change nothing
        const expected = new Map<number, number>();
        for (const v of vs) if (!expected.has(v.id)) expected.set(v.id, Math.min(...vs.filter((x) => x.id === v.id).map((x) => x.delta)));
        const sum = [...expected.values()].reduce((s, d) => s + d, 0);
        expect(a.value()).toBe(sum);
        expect(b.value()).toBe(sum);
        // Siblings may be shaped by arrival order; one exchange of state makes them identical.
        a.joinObject(b, 16);
        b.joinObject(a, 16);
        expect(b.digest()).toBe(a.digest());
        expect(a.value()).toBe(sum);
      }),
    );
  });

  it('joins PN-counter entries by maximum per coordinator', () => {
    const crdt = new CounterCrdt();
    crdt.raiseSum('a', 5, 1);
    crdt.raiseSum('a', 3, 2);
    crdt.raiseSum('b', 1, 0);
    expect(crdt.value()).toBe(5 - 2 + 1);
    expect(CounterCrdt.fromWire(crdt.toWire()).digest()).toBe(crdt.digest());
  });
});

describe('LwwObject (lww mode)', () => {
  it('keeps the highest timestamp and reports a concurrent write as lost', () => {
    const obj = new LwwObject();
    expect(obj.join({ clock: { a: 1 }, reg: { value: 1, tsUs: 100, writer: 'a' } })).toBeUndefined();
    expect(obj.join({ clock: { b: 1 }, reg: { value: 1, tsUs: 90, writer: 'b' } })).toBe('concurrent');
    expect(obj.value()).toBe(1);
    expect(obj.clock()).toEqual({ a: 1, b: 1 });
  });

  it('an overwrite the winner had seen is not a loss', () => {
    const obj = new LwwObject();
    obj.join({ clock: { a: 1 }, reg: { value: 1, tsUs: 100, writer: 'a' } });
    expect(obj.join({ clock: { a: 2 }, reg: { value: 2, tsUs: 200, writer: 'a' } })).toBeUndefined();
    expect(obj.value()).toBe(2);
  });

  it('moves its revision exactly when a join changes its state (property)', () => {
    const version = fc.record({
      node: fc.constantFrom('a', 'b', 'c'),
      tick: fc.integer({ min: 1, max: 3 }),
      value: fc.integer({ min: 0, max: 2 }),
      tsUs: fc.integer({ min: 1, max: 4 }),
    });
    fc.assert(
      fc.property(fc.array(version, { minLength: 1, maxLength: 12 }), (vs) => {
        const obj = new LwwObject();
        for (const v of [...vs, ...vs]) {
          const [digest, revision] = [obj.digest(), obj.revision];
          obj.join({ clock: { [v.node]: v.tick }, reg: { value: v.value, tsUs: v.tsUs, writer: v.node } });
          expect(obj.revision !== revision).toBe(obj.digest() !== digest);
        }
      }),
    );
  });

  it('a causally newer write with a clock behind loses: the skew hazard', () => {
    const obj = new LwwObject();
    obj.join({ clock: { a: 1 }, reg: { value: 1, tsUs: 1000, writer: 'a' } });
    // b read {a:1} and wrote 2, but b's wall clock is 500 ms behind.
    expect(obj.join({ clock: { a: 1, b: 1 }, reg: { value: 2, tsUs: 600, writer: 'b' } })).toBe('skew');
    expect(obj.value()).toBe(1);
  });
});
