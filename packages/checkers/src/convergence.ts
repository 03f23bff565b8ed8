/**
 * Maelstrom's counter rule, after healing and waiting: every final read equals the sum of the
 * acknowledged increments plus some subset of the indeterminate (info) ones, each counted at
 * most once; and all final reads agree. Checked per key.
 *
 * Deciding "acknowledged + some subset" is subset-sum: easy as a range when every
 * indeterminate delta is the same, a bounded knapsack over the reachable range otherwise; past
 * the work bound the verdict is 'unknown' (never a guess).
 */
import { DEFAULT_COUNTER_KEY } from '@playground/core';
import { byKey, logicalIncrements, type Op, type Verdict } from './history.js';

export interface FinalRead {
  node: string;
  value: number;
  /** Defaults to the history's only key, or `counter`. */
  key?: string;
}

export interface ConvergenceOptions {
  initialValue?: number;
  /** Bound on knapsack cells (range × items) before giving up with 'unknown'. Default 50,000,000. */
  maxWork?: number;
}

type Reach = 'yes' | 'no' | 'unknown';

export function checkFinalConvergence(
  finalReads: readonly FinalRead[],
  ops: readonly Op[],
  options: ConvergenceOptions = {},
): Verdict {
  const initial = options.initialValue ?? 0;
  const maxWork = options.maxWork ?? 50_000_000;
  const keys = byKey(ops);
  const defaultKey = keys.size === 1 ? ([...keys.keys()][0] as string) : DEFAULT_COUNTER_KEY;
  const readsByKey = new Map<string, FinalRead[]>();
  for (const r of finalReads) {
    const key = r.key ?? defaultKey;
    let list = readsByKey.get(key);
    if (list === undefined) readsByKey.set(key, (list = []));
    list.push(r);
  }
  const problems: string[] = [];
  const unknown: string[] = [];
  const perKey: Record<string, unknown> = {};
  let lostTotal = 0;
  let duplicatedTotal = 0;
  for (const key of new Set([...keys.keys(), ...readsByKey.keys()])) {
    const reads = readsByKey.get(key) ?? [];
    const incrs = logicalIncrements(keys.get(key) ?? []);
    const acknowledged = initial + incrs.filter((i) => i.outcome === 'ok').reduce((s, i) => s + i.delta, 0);
    const indeterminate = incrs.filter((i) => i.outcome === 'info').map((i) => i.delta);
    const lowest = acknowledged + indeterminate.filter((d) => d < 0).reduce((s, d) => s + d, 0);
    const highest = acknowledged + indeterminate.filter((d) => d > 0).reduce((s, d) => s + d, 0);
    perKey[key] = { acknowledged, indeterminate: indeterminate.length, lowest, highest, finalReads: reads };
    if (reads.length === 0) {
      problems.push(`key ${key}: no final read`);
      continue;
    }
    const values = new Set(reads.map((r) => r.value));
    if (values.size > 1) {
      problems.push(`key ${key}: final reads disagree (${reads.map((r) => `${r.node}=${r.value}`).join(', ')})`);
    }
    for (const value of values) {
      const nodes = reads.filter((r) => r.value === value).map((r) => r.node).join(',');
      if (value < lowest) {
        lostTotal += lowest - value;
        problems.push(`key ${key}: ${nodes} read ${value}, ${lowest - value} below the acknowledged ${lowest} (lost increments)`);
      } else if (value > highest) {
        duplicatedTotal += value - highest;
        problems.push(
          `key ${key}: ${nodes} read ${value}, ${value - highest} above the most reachable ${highest} (duplicated or invented increments)`,
        );
      } else {
        const reach = subsetSumReaches(indeterminate, value - acknowledged, maxWork);
        if (reach === 'no') {
          problems.push(
            `key ${key}: ${nodes} read ${value}, not the acknowledged ${acknowledged} plus any subset of the ${indeterminate.length} indeterminate increments`,
          );
        } else if (reach === 'unknown') {
          unknown.push(`key ${key}: subset-sum for ${value} too large to decide`);
        }
      }
    }
  }
  const details = { perKey, lostTotal, duplicatedTotal };
  if (problems.length > 0) {
    return { checker: 'final-convergence', valid: false, summary: problems.join('; '), details };
  }
  if (unknown.length > 0) {
    return { checker: 'final-convergence', valid: 'unknown', summary: unknown.join('; '), details };
  }
  return {
    checker: 'final-convergence',
    valid: true,
    summary: `${readsByKey.size} key(s) converged to acknowledged + a subset of the indeterminate increments`,
    details,
  };
}

/** Is `target` the sum of some subset of `deltas` (each used at most once)? */
export function subsetSumReaches(deltas: readonly number[], target: number, maxWork = 50_000_000): Reach {
  const nonZero = deltas.filter((d) => d !== 0);
  if (target === 0) return 'yes';
  const counts = new Map<number, number>();
  for (const d of nonZero) counts.set(d, (counts.get(d) ?? 0) + 1);
  // One distinct delta d used c times: the reachable sums are exactly 0, d, 2d, ..., c·d.
  if (counts.size === 1) {
    const [[d, c]] = [...counts] as [[number, number]];
    return target % d === 0 && target / d >= 0 && target / d <= c ? 'yes' : 'no';
  }
  const low = nonZero.filter((d) => d < 0).reduce((s, d) => s + d, 0);
  const high = nonZero.filter((d) => d > 0).reduce((s, d) => s + d, 0);
  if (target < low || target > high) return 'no';
  // Bounded knapsack by binary splitting: c copies of d become items d, 2d, 4d, ..., rest·d.
  const items: number[] = [];
  for (const [d, c] of counts) {
    let left = c;
    for (let k = 1; left > 0; k *= 2) {
      const take = Math.min(k, left);
      items.push(d * take);
      left -= take;
    }
  }
  const range = high - low + 1;
  if (range * items.length > maxWork) return 'unknown';
  const reachable = new Uint8Array(range);
  reachable[-low] = 1;
  for (const item of items) {
    if (item > 0) {
      for (let s = range - 1; s >= item; s--) if (reachable[s - item] === 1) reachable[s] = 1;
    } else {
      for (let s = 0; s < range + item; s++) if (reachable[s - item] === 1) reachable[s] = 1;
    }
  }
  return reachable[target - low] === 1 ? 'yes' : 'no';
}
