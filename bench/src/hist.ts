/**
 * Latency histograms (HdrHistogram, Gil Tene's design, via hdr-histogram-js): values are
 * recorded in microseconds with 3 significant digits, so 0.1 ms and 10 s are both kept to 0.1%.
 * A set of histograms is keyed by topology x operation x phase x side and can be merged along
 * any of those dimensions (a merge is exact: HDR buckets add).
 */
import * as hdr from 'hdr-histogram-js';

/** One hour: a latency beyond it is clamped (and counted) rather than lost. */
const HIGHEST_US = 3_600_000_000;

export interface LatencySummary {
  count: number;
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3, bitBucketSize: 32 });
}

export function recordMs(h: hdr.Histogram, ms: number): void {
  h.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000))));
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function summarize(h: hdr.Histogram): LatencySummary {
  if (h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  // Percentiles and max alike are bucket values (3 significant digits), so merged and decoded copies agree.
  const at = (p: number): number => round3(h.getValueAtPercentile(p) / 1000);
  return { count: h.totalCount, p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: at(100), mean: round3(h.mean / 1000) };
}

export function encode(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decode(text: string): hdr.Histogram {
  const decoded = hdr.decodeFromCompressedBase64(text, 32, false);
  const h = newHistogram();
  h.add(decoded);
  return h;
}

/** The dimensions a latency is filed under. `side` is 'all' when no partition is in force. */
export interface HistKey {
  topology: string;
  op: string;
  phase: string;
  side: string;
}

const FIELDS = ['topology', 'op', 'phase', 'side'] as const;
const keyText = (k: HistKey): string => FIELDS.map((f) => k[f]).join('|');

/** Histograms per topology x operation x phase x side. */
export class HistogramSet {
  private readonly entries = new Map<string, { key: HistKey; hist: hdr.Histogram }>();

  record(key: HistKey, ms: number): void {
    const text = keyText(key);
    let entry = this.entries.get(text);
    if (entry === undefined) this.entries.set(text, (entry = { key: { ...key }, hist: newHistogram() }));
    recordMs(entry.hist, ms);
  }

  keys(): HistKey[] {
    return [...this.entries.values()].map((e) => e.key);
  }

  /**
   * Merges every histogram whose key matches `filter` (fields left out match anything):
   * merged({ topology: 'raft', op: 'incr' }) is raft's incr latency over all phases and sides.
   */
  merged(filter: Partial<HistKey> = {}): hdr.Histogram {
    const out = newHistogram();
    for (const { key, hist } of this.entries.values()) {
      if (FIELDS.every((f) => filter[f] === undefined || filter[f] === key[f])) out.add(hist);
    }
    return out;
  }

  /** Summaries grouped by the given dimensions, e.g. ['op', 'phase']. */
  summaries(by: readonly (keyof HistKey)[], filter: Partial<HistKey> = {}): { key: Partial<HistKey>; latency: LatencySummary }[] {
    const groups = new Map<string, Partial<HistKey>>();
    for (const key of this.keys()) {
      if (!FIELDS.every((f) => filter[f] === undefined || filter[f] === key[f])) continue;
      const group: Partial<HistKey> = {};
      for (const f of by) group[f] = key[f];
      groups.set(by.map((f) => key[f]).join('|'), group);
    }
    return [...groups.values()].map((group) => ({ key: group, latency: summarize(this.merged({ ...filter, ...group })) }));
  }

  /** Every histogram, compressed (HdrHistogram's base64 format), for the summary JSON. */
  toJSON(): { key: HistKey; hdr: string }[] {
    return [...this.entries.values()].map(({ key, hist }) => ({ key, hdr: encode(hist) }));
  }

  static fromJSON(items: readonly { key: HistKey; hdr: string }[]): HistogramSet {
    const set = new HistogramSet();
    for (const item of items) set.entries.set(keyText(item.key), { key: { ...item.key }, hist: decode(item.hdr) });
    return set;
  }
}
