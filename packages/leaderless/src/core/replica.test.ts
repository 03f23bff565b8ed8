import { describe, expect, it } from 'vitest';
import { Replica } from './replica.js';
import type { ReplicaConfig } from './replica.js';

const config: ReplicaConfig = { self: 'n1', mode: 'merge', siblingsMax: 8, dotsMax: 3, keysMax: 2, hintMax: 1, buckets: 16 };

describe('Replica', () => {
  it('reports a repeated idempotent increment as a duplicate and counts it once', () => {
    const r = new Replica(config);
    const put = { key: 'k', mode: 'merge' as const, version: { c: { n2: 1 }, d: [['k:x', 5]] as [string, number][] } };
    expect(r.applyPut(put).reply).toMatchObject({ status: 'stored', value: 5 });
    expect(r.applyPut({ ...put, version: { c: { n3: 1 }, d: [['k:x', 5]] } }).reply).toMatchObject({ status: 'duplicate', value: 5 });
  });

  it('refuses new dots at the dedup bound, new keys at the key bound, new hints at the hint bound', () => {
    const r = new Replica(config);
    for (let i = 0; i < 3; i++) r.applyPut({ key: 'k', mode: 'merge', version: { c: { n1: i + 1 }, d: [[`k:${i}`, 1]] } });
    expect(r.applyPut({ key: 'k', mode: 'merge', version: { c: { n1: 9 }, d: [['k:new', 1]] } }).reply).toEqual({ status: 'refused', reason: 'dots_full' });
    expect(r.applyPut({ key: 'k', mode: 'merge', version: { c: { n1: 9 }, s: { n1: [1, 0] } } }).reply.status).toBe('stored');
    r.applyPut({ key: 'k2', mode: 'merge', version: { c: { n1: 1 }, s: { n1: [1, 0] } } });
    expect(r.applyPut({ key: 'k3', mode: 'merge', version: { c: { n1: 1 }, s: { n1: [1, 0] } } }).reply).toEqual({ status: 'refused', reason: 'keys_full' });
    expect(r.applyPut({ key: 'h1', mode: 'merge', hintFor: 'n2', version: { c: { n1: 1 }, s: { n1: [1, 0] } } }).reply.status).toBe('stored');
    expect(r.applyPut({ key: 'h2', mode: 'merge', hintFor: 'n2', version: { c: { n1: 1 }, s: { n1: [1, 0] } } }).reply).toEqual({ status: 'refused', reason: 'hints_full' });
  });

  it('keeps a delivered hint that changed since it was sent', () => {
    const r = new Replica(config);
    r.applyPut({ key: 'h', mode: 'merge', hintFor: 'n2', version: { c: { n1: 1 }, s: { n1: [1, 0] } } });
    const [sent] = r.hintsFor('n2', 10);
    expect(r.read('h')).toHaveLength(1); // a stand-in answers reads from its hints
    r.applyPut({ key: 'h', mode: 'merge', hintFor: 'n2', version: { c: { n1: 2 }, s: { n1: [2, 0] } } });
    expect(r.dropHint('n2', 'h', sent?.digest ?? '')).toBe(false);
    const [again] = r.hintsFor('n2', 10);
    expect(r.dropHint('n2', 'h', again?.digest ?? '')).toBe(true);
    expect(r.hintCount).toBe(0);
  });

  it('rebuilds the same state from a snapshot', () => {
    const r = new Replica({ ...config, keysMax: 10 });
    r.applyPut({ key: 'a', mode: 'merge', version: { c: { n1: 1 }, d: [['k:x', 2]] } });
    r.applyPut({ key: 'b', mode: 'merge', hintFor: 'n3', version: { c: { n2: 1 }, s: { n2: [4, 1] } } });
    r.setOwnSum('a', 7, 0);
    const copy = new Replica({ ...config, keysMax: 0, hintMax: 0 }); // bounds do not apply to recovery
    copy.restore(r.snapshot());
    expect(copy.snapshot()).toEqual(r.snapshot());
    expect(copy.nextOwnSum('a', 1)).toEqual({ p: 8, n: 0 });
  });

  it('agrees on anti-entropy digests exactly when the shared objects agree', () => {
    const a = new Replica({ ...config, keysMax: 10 });
    const b = new Replica({ ...config, self: 'n2', keysMax: 10 });
    const put = { key: 'x', mode: 'merge' as const, version: { c: { n1: 1 }, s: { n1: [1, 0] as [number, number] } } };
    a.applyPut(put);
    b.applyPut(put);
    expect(a.bucketDigests(() => true)).toEqual(b.bucketDigests(() => true));
    a.applyPut({ key: 'y', mode: 'merge', version: { c: { n1: 1 }, s: { n1: [1, 0] } } });
    const differ = a.bucketDigests(() => true).map((d, i) => (d === b.bucketDigests(() => true)[i] ? -1 : i)).filter((i) => i >= 0);
    expect(differ).toEqual([a.bucketOf('y')]);
  });
});
