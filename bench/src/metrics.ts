/**
 * Reading nodes' /metrics (Prometheus text format) and processes' CPU time from /proc: the
 * harness's view of where the work went (messages per operation, fsync batches, CPU per op).
 */
import { readFileSync } from 'node:fs';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition format (comments skipped; NaN/Inf kept as numbers). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    if (m[3]) for (const lm of m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1] as string] = lm[2] as string;
    samples.push({ name: m[1] as string, labels, value: Number(m[4]) });
  }
  return samples;
}

/** Sum of every sample named `name` whose labels include `match`. */
export function sumOf(samples: readonly Sample[], name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** Names of counters that count peer messages sent, whatever the topology calls them. */
export function peerMessagesSent(samples: readonly Sample[]): number {
  // The transport's own counter covers every topology; fall back to a topology's if absent.
  const transport = sumOf(samples, 'peer_messages_sent_total');
  if (transport > 0) return transport;
  const names = new Set(samples.map((s) => s.name).filter((n) => /messages_sent_total$/.test(n)));
  let total = 0;
  for (const n of names) total += sumOf(samples, n);
  return total;
}

/** A process's user+system CPU time in ms (Linux /proc), or null where unavailable. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
    return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** Histogram buckets of one Prometheus histogram, summed across series: [[le, cumulative count]]. */
export function histogramBuckets(samples: readonly Sample[], name: string, match: Record<string, string> = {}): { le: number; count: number }[] {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    if (!Object.entries(match).every(([k, v]) => s.labels[k] === v)) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}
