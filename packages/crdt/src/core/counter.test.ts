import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CounterCrdt } from './counter.js';
import { digest, Harness } from './harness.js';
import type { CounterMode } from './types.js';

/** One step of a random history over 3 replicas. Retries reuse an idem with the same delta. */
type Step =
  | { readonly op: 'incr'; readonly node: number; readonly key: number; readonly delta: number; readonly idem: number | null; readonly durable: boolean }
  | { readonly op: 'finish'; readonly k: number }
  | { readonly op: 'push'; readonly node: number }
  | { readonly op: 'deliver'; readonly k: number; readonly how: 'deliver' | 'duplicate' | 'lose' }
  | { readonly op: 'compact'; readonly node: number };

const KEYS = ['a', 'b'];

function stepArb(mode: CounterMode): fc.Arbitrary<Step> {
  const delta = mode === 'g' ? fc.integer({ min: 0, max: 5 }) : fc.integer({ min: -5, max: 5 });
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('incr' as const), node: fc.nat(2), key: fc.nat(1), delta, idem: fc.option(fc.nat(7), { freq: 3 }), durable: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('finish' as const), k: fc.nat(10) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('push' as const), node: fc.nat(2) }) },
    {
      weight: 4,
      arbitrary: fc.record({ op: fc.constant('deliver' as const), k: fc.nat(50), how: fc.constantFrom('deliver' as const, 'deliver' as const, 'duplicate' as const, 'lose' as const) }),
    },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('compact' as const), node: fc.nat(2) }) },
  );
}

/** A retry carries the same request: the delta (and key) belong to the idempotency key. */
function requestOf(step: Extract<Step, { op: 'incr' }>): { key: string; delta: number; idem: string | null } {
  if (step.idem === null) return { key: KEYS[step.key] as string, delta: step.delta, idem: null };
  return { key: KEYS[step.idem % 2] as string, delta: (step.idem % 5) + 1, idem: `req-${step.idem}` };
}

/** Runs a history; returns the exact totals every replica must converge to. */
function run(h: Harness, steps: readonly Step[], onStep?: () => void): Map<string, number> {
  const expected = new Map<string, number>(KEYS.map((k) => [k, 0]));
  const counted = new Set<string>();
  for (const step of steps) {
    if (step.op === 'incr') {
      const { key, delta, idem } = requestOf(step);
      const outcome = h.incr(step.node, key, delta, idem, step.durable);
      if (outcome.applied && (idem === null || !counted.has(idem))) {
        if (idem !== null) counted.add(idem);
        expected.set(key, (expected.get(key) ?? 0) + delta);
      }
    } else if (step.op === 'finish') h.finishWrite(step.k);
    else if (step.op === 'push') h.push(step.node);
    else if (step.op === 'deliver') h.deliver(step.k, step.how);
    else h.compact(step.node);
    onStep?.();
  }
  return expected;
}

/** join(a, b) as a fresh replica holding both states (and both replicas' folded keys). */
function join(mode: CounterMode, ...parts: CounterCrdt[]): CounterCrdt {
  const first = parts[0] as CounterCrdt;
  const out = new CounterCrdt({ self: first.self, members: first.members, mode, maxTombstones: 1_000_000, maxChangeLog: 100_000 });
  for (const p of parts) {
    out.merge(p.fullState());
    out.importTombstones(p.exportTombstones());
  }
  return out;
}

const histories = (mode: CounterMode) => fc.tuple(fc.array(stepArb(mode), { maxLength: 120 }), fc.integer());

describe('counter CRDT: merge is a join', () => {
  it('is commutative, associative and idempotent on states of one history', () => {
    fc.assert(
      fc.property(histories('pn'), ([steps, seed]) => {
        const h = new Harness({ seed });
        run(h, steps);
        const [a, b, c] = h.replicas.map((r) => r.crdt) as [CounterCrdt, CounterCrdt, CounterCrdt];
        expect(digest(join('pn', a, b))).toBe(digest(join('pn', b, a)));
        expect(digest(join('pn', join('pn', a, b), c))).toBe(digest(join('pn', a, join('pn', b, c))));
        expect(digest(join('pn', a, a))).toBe(digest(join('pn', a)));
        expect(digest(join('pn', a))).toBe(digest(a));
      }),
      { numRuns: 200 },
    );
  });
});

describe('counter CRDT: convergence and exactly-once', () => {
  it('delivers in any order, with losses and duplicates, and converges to the exact total', () => {
    fc.assert(
      fc.property(histories('pn'), fc.constantFrom('delta' as const, 'full' as const), ([steps, seed], replication) => {
        const h = new Harness({ seed, replication });
        const expected = run(h, steps);
        h.settle();
        for (const key of KEYS) expect(h.values(key)).toEqual(h.replicas.map(() => expected.get(key)));
        // Once everyone has seen everything, every dot is folded: live memory goes back to zero.
        for (const r of h.replicas) expect(r.crdt.liveDotCount).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('never decreases a G-counter, at any replica, at any step', () => {
    fc.assert(
      fc.property(histories('g'), ([steps, seed]) => {
        const h = new Harness({ seed, mode: 'g' });
        let last = KEYS.map(() => h.values('a').map(() => 0));
        run(h, steps, () => {
          const now = KEYS.map((k) => h.values(k));
          now.forEach((vs, i) => vs.forEach((v, j) => expect(v).toBeGreaterThanOrEqual(last[i]?.[j] ?? 0)));
          last = now;
        });
      }),
      { numRuns: 200 },
    );
  });

  it('counts a retry through another node once, before and after folding', () => {
    const h = new Harness();
    h.incr(0, 'a', 5, 'retry-1'); // n1 applied it, the client timed out
    h.incr(1, 'a', 5, 'retry-1'); // and retried through n2, which had not heard of it
    expect(h.values('a')).toEqual([5, 5, 0]);
    h.push(0);
    h.push(1);
    while (h.bag.length > 0) h.deliver(0);
    expect(h.values('a')).toEqual([5, 5, 5]);
    expect(h.incr(2, 'a', 5, 'retry-1')).toEqual({ applied: false, duplicate: true });
    h.settle();
    expect(h.values('a')).toEqual([5, 5, 5]);
    expect(h.replicas.map((r) => r.crdt.liveDotCount)).toEqual([0, 0, 0]);
    expect(h.incr(2, 'a', 5, 'retry-1')).toEqual({ applied: false, duplicate: true });
  });

  it('forgets folded keys beyond maxTombstones: a retry after that counts again (the bound)', () => {
    const h = new Harness({ maxTombstones: 2 });
    for (const idem of ['k1', 'k2', 'k3']) h.incr(0, 'a', 1, idem);
    h.settle();
    expect(h.values('a')).toEqual([3, 3, 3]);
    expect(h.replicas.map((r) => r.crdt.tombstoneCount)).toEqual([2, 2, 2]);
    expect(h.incr(0, 'a', 1, 'k3').duplicate).toBe(true);
    expect(h.incr(0, 'a', 1, 'k1').applied).toBe(true); // forgotten: counted a second time
    h.settle();
    expect(h.values('a')).toEqual([4, 4, 4]);
  });

  it('does not fold while a member has not reported, and folds once it has', () => {
    const h = new Harness();
    h.incr(0, 'a', 1, 'x');
    h.push(0);
    // n2 gets it; the message to n3 is lost: nothing may fold.
    const toN3 = h.bag.findIndex((m) => m.to === 'n3');
    h.deliver(toN3, 'lose');
    while (h.bag.length > 0) h.deliver(0);
    h.push(1);
    while (h.bag.length > 0) h.deliver(h.bag.findIndex((m) => m.to !== 'n3') === -1 ? 0 : h.bag.findIndex((m) => m.to !== 'n3'));
    h.compact(0);
    h.compact(1);
    expect(h.replica(0).crdt.compactedUpTo('n1')).toBe(0);
    h.settle();
    expect(h.replica(0).crdt.compactedUpTo('n1')).toBe(1);
  });

  it('folds a dot only once every concurrent retry of it is here (stability waits for the reporter\'s own dots)', () => {
    const h = new Harness();
    h.incr(0, 'a', 5, 'I'); // Y = (n1, 1): the smaller dot, it counts
    h.incr(1, 'a', 5, 'I'); // X = (n2, 1): a concurrent retry through n2, it must not count
    h.push(1); // n2 -> n1, n2 -> n3: everyone holds X
    while (h.bag.length > 0) h.deliver(0);
    h.push(2); // n3 -> n1, n3 -> n2: their replies say they hold X; n1's reply does not carry Y
    while (h.bag.length > 0) h.deliver(0);
    h.compact(2); // n3 must not fold X yet: n1 reported holding X, but n1's own Y is not here
    expect(h.replica(2).crdt.compactedUpTo('n2')).toBe(0);
    h.settle();
    expect(h.values('a')).toEqual([5, 5, 5]);
  });

  it('does not fold a dot while a concurrent retry of it is still being written at a reporter', () => {
    const h = new Harness();
    h.incr(0, 'a', 5, 'I', false); // D = (n1, 1): n1 prepared it and waits for its fsync
    h.incr(1, 'a', 5, 'I'); // X = (n2, 1): a concurrent retry through n2 (D wins: n1 < n2)
    h.push(1); // n1 and n3 merge X while D is still on its way to n1's disk
    while (h.bag.length > 0) h.deliver(0);
    h.push(0); // n1's report says it holds X; it must not let anyone fold X before D is here
    while (h.bag.length > 0) h.deliver(0);
    for (let i = 0; i < 3; i++) h.compact(i);
    expect(h.replicas.map((r) => r.crdt.compactedUpTo('n2'))).toEqual([0, 0, 0]);
    h.finishWrite(0);
    h.settle();
    expect(h.values('a')).toEqual([5, 5, 5]);
    expect(h.replicas.map((r) => r.crdt.liveDotCount)).toEqual([0, 0, 0]);
  });
});
