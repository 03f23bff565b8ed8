import { describe, expect, it } from 'vitest';
import { HistogramSet, decode, encode, newHistogram, recordMs, summarize } from './hist.js';

describe('HistogramSet', () => {
  it('merges along any dimension exactly as one histogram of all the values would', () => {
    const set = new HistogramSet();
    const all = newHistogram();
    const values: number[] = [];
    for (let i = 1; i <= 2000; i++) values.push((i % 97) * 0.37 + (i % 7 === 0 ? 250 : 0));
    values.forEach((ms, i) => {
      const key = { topology: i % 2 ? 'raft' : 'crdt', op: i % 3 ? 'incr' : 'read', phase: ['before', 'during', 'after'][i % 3] as string, side: i % 5 ? 'majority' : 'minority' };
      set.record(key, ms);
      recordMs(all, ms);
    });
    const merged = set.merged();
    expect(merged.totalCount).toBe(2000);
    expect(summarize(merged)).toEqual(summarize(all));
    const raftIncr = set.merged({ topology: 'raft', op: 'incr' });
    const expected = values.filter((_, i) => i % 2 === 1 && i % 3 !== 0).length;
    expect(raftIncr.totalCount).toBe(expected);
    // The per-phase groups add up to the whole.
    const byPhase = set.summaries(['phase']);
    expect(byPhase.map((g) => g.latency.count).reduce((a, b) => a + b, 0)).toBe(2000);
    expect(new Set(byPhase.map((g) => g.key.phase))).toEqual(new Set(['before', 'during', 'after']));
  });

  it('keeps sub-millisecond latencies to 3 significant digits and reports milliseconds', () => {
    const h = newHistogram();
    for (let i = 0; i < 99; i++) recordMs(h, 0.25);
    recordMs(h, 1234.5);
    const s = summarize(h);
    expect(s.p50).toBeCloseTo(0.25, 3);
    expect(s.max).toBeGreaterThanOrEqual(1234);
    expect(s.max).toBeLessThan(1236);
    expect(s.count).toBe(100);
  });

  it('survives the summary JSON: encode, decode, merge', () => {
    const set = new HistogramSet();
    for (let i = 0; i < 500; i++) set.record({ topology: 'raft', op: 'incr', phase: 'before', side: 'all' }, 1 + (i % 50));
    const copy = HistogramSet.fromJSON(JSON.parse(JSON.stringify(set.toJSON())));
    expect(summarize(copy.merged())).toEqual(summarize(set.merged()));
    const h = newHistogram();
    recordMs(h, 3);
    expect(decode(encode(h)).totalCount).toBe(1);
  });

  it('summarizes an empty histogram as zeros rather than NaN', () => {
    expect(summarize(newHistogram())).toEqual({ count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 });
  });
});
