/**
 * Jepsen's counter checker: each ok read must lie between what surely happened before it and
 * what could have happened before it. Per key, for a read invoked at t0 and completed at t1:
 * - surely applied: logical increments with an ok completion before t0;
 * - possibly applied: ok or info increments invoked before t1 (fail ones never applied).
 * lower = sum of positive surely-applied deltas + sum of negative possibly-applied deltas;
 * upper = sum of positive possibly-applied deltas + sum of negative surely-applied deltas.
 * A read below `lower` is stale (it misses acknowledged increments: fine for an eventually
 * consistent read, a bug for a linearizable one); above `upper` is impossible (it counts
 * increments nobody made, or one twice).
 */
import { byKey, logicalIncrements, type LogicalIncr, type Op, type Verdict } from './history.js';

export interface CounterBoundsOptions {
  /** Count stale reads in the details but do not fail the verdict for them (eventual consistency). Default false. */
  allowStale?: boolean;
  initialValue?: number;
}

export interface ReadBound {
  op: Op;
  lower: number;
  upper: number;
  /** lower - value when the read is stale, else 0. */
  staleness: number;
  /** For a stale read with only positive deltas: ms between the first acknowledgement it missed and its invocation. */
  staleMs?: number;
}

export function checkCounterBounds(ops: readonly Op[], options: CounterBoundsOptions = {}): Verdict {
  const initial = options.initialValue ?? 0;
  const stale: ReadBound[] = [];
  const impossible: ReadBound[] = [];
  let reads = 0;
  for (const keyOps of byKey(ops).values()) {
    const incrs = logicalIncrements(keyOps).filter((i) => i.outcome !== 'fail');
    const allPositive = incrs.every((i) => i.delta >= 0);
    const boundsFor = boundsIndex(incrs, initial);
    for (const read of keyOps) {
      if (read.type !== 'read' || read.outcome !== 'ok') continue;
      reads++;
      const value = read.value as number;
      const bound = boundsFor(read);
      if (value < bound.lower) {
        bound.staleness = bound.lower - value;
        if (allPositive) bound.staleMs = staleMsOf(read, value - initial, incrs);
        stale.push(bound);
      } else if (value > bound.upper) {
        impossible.push(bound);
      }
    }
  }
  const maxStaleness = stale.reduce((m, b) => Math.max(m, b.staleness), 0);
  const staleMs = stale.map((b) => b.staleMs).filter((x): x is number => x !== undefined);
  const details = {
    reads,
    staleReads: stale.length,
    staleFraction: reads === 0 ? 0 : stale.length / reads,
    maxStaleness,
    maxStaleMs: staleMs.length === 0 ? 0 : Math.max(...staleMs),
    impossibleReads: impossible.length,
    stale: stale.slice(0, 20).map(describe),
    impossible: impossible.slice(0, 20).map(describe),
  };
  if (impossible.length > 0) {
    const first = impossible[0] as ReadBound;
    return {
      checker: 'counter-bounds',
      valid: false,
      summary:
        `${impossible.length} impossible read(s): op ${first.op.id} read ${first.op.value} on key ${first.op.key}, ` +
        `above the most it could be (${first.upper})` +
        (stale.length > 0 ? `; also ${stale.length} stale read(s)` : ''),
      excerpt: impossible.slice(0, 10).map((b) => b.op),
      details,
    };
  }
  if (stale.length > 0 && options.allowStale !== true) {
    const worst = stale.reduce((a, b) => (b.staleness > a.staleness ? b : a));
    return {
      checker: 'counter-bounds',
      valid: false,
      summary:
        `${stale.length} of ${reads} read(s) stale: worst op ${worst.op.id} read ${worst.op.value} on key ${worst.op.key}, ` +
        `${worst.staleness} below the acknowledged ${worst.lower}`,
      excerpt: stale.slice(0, 10).map((b) => b.op),
      details,
    };
  }
  return {
    checker: 'counter-bounds',
    valid: true,
    summary:
      stale.length > 0
        ? `${reads} read(s) within bounds except ${stale.length} stale (allowed), max staleness ${maxStaleness}`
        : `${reads} read(s) within bounds`,
    details,
  };
}

/** Prefix sums over increments sorted by a time, answering "sum of deltas with time < t" by binary search. */
class SumBefore {
  private readonly times: number[];
  private readonly sums: number[];
  constructor(items: readonly { time: number; delta: number }[]) {
    const sorted = [...items].sort((a, b) => a.time - b.time);
    this.times = sorted.map((i) => i.time);
    this.sums = [0];
    for (const item of sorted) this.sums.push((this.sums[this.sums.length - 1] as number) + item.delta);
  }
  before(t: number): number {
    let lo = 0;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.times[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return this.sums[lo] as number;
  }
}

/** Bounds for every read of one key, in O(log n) each. */
function boundsIndex(incrs: readonly LogicalIncr[], initial: number): (read: Op) => ReadBound {
  const sure = incrs.filter((i) => i.outcome === 'ok');
  const sureUp = new SumBefore(sure.filter((i) => i.delta > 0).map((i) => ({ time: i.completeMs, delta: i.delta })));
  const sureDown = new SumBefore(sure.filter((i) => i.delta < 0).map((i) => ({ time: i.completeMs, delta: i.delta })));
  const maybeUp = new SumBefore(incrs.filter((i) => i.delta > 0).map((i) => ({ time: i.invokeMs, delta: i.delta })));
  const maybeDown = new SumBefore(incrs.filter((i) => i.delta < 0).map((i) => ({ time: i.invokeMs, delta: i.delta })));
  return (read) => ({
    op: read,
    lower: initial + sureUp.before(read.invokeMs) + maybeDown.before(read.completeMs),
    upper: initial + maybeUp.before(read.completeMs) + sureDown.before(read.invokeMs),
    staleness: 0,
  });
}

/** How long the read lags: since the acknowledgement that first pushed the counter past what it read. */
function staleMsOf(read: Op, readIncrease: number, incrs: readonly LogicalIncr[]): number {
  const acked = incrs.filter((i) => i.outcome === 'ok' && i.completeMs < read.invokeMs).sort((a, b) => a.completeMs - b.completeMs);
  let sum = 0;
  for (const incr of acked) {
    sum += incr.delta;
    if (sum > readIncrease) return read.invokeMs - incr.completeMs;
  }
  return 0;
}

function describe(b: ReadBound): Record<string, unknown> {
  return { id: b.op.id, key: b.op.key, node: b.op.node, value: b.op.value, lower: b.lower, upper: b.upper, staleness: b.staleness, staleMs: b.staleMs };
}
