/**
 * Measures of one run from its history: availability per phase and side, the longest
 * unavailability window, throughput, latency summaries (via the HDR set). Pure functions.
 */
import type { Op } from '@playground/checkers';
import { HistogramSet } from './hist.js';
import { PHASES, phaseAt, type PhaseWindow } from './scenarios.js';

/** Files each op under its phase (by invocation) and its node's side. Returns new objects. */
export function labelOps(ops: readonly Op[], windows: readonly PhaseWindow[], sideOf: Readonly<Record<string, string>>): Op[] {
  return ops.map((op) => ({ ...op, phase: phaseAt(windows, op.invokeMs), side: sideOf[op.node] ?? 'all' }));
}

/** Latency of the operations that succeeded, per topology x op x phase x side. */
export function histogramsOf(topology: string, ops: readonly Op[]): HistogramSet {
  const set = new HistogramSet();
  for (const op of ops) {
    if (op.outcome !== 'ok') continue;
    set.record({ topology, op: op.type, phase: op.phase ?? 'all', side: op.side ?? 'all' }, op.completeMs - op.invokeMs);
  }
  return set;
}

export interface AvailabilityCell {
  phase: string;
  side: string;
  op: string;
  total: number;
  /** Succeeded before its phase ended. */
  ok: number;
  /**
   * Succeeded, but only after its phase ended: a write sent to a cut-off Raft node that waits out
   * the partition and commits after the heal was not available DURING the partition.
   */
  late: number;
  fail: number;
  info: number;
  /** ok / total (late ones are not counted as available); 1 when nothing was attempted. */
  fraction: number;
}

/** Per phase (by invocation) and side; with `windows`, a success that came after its phase ended counts as late. */
export function availability(ops: readonly Op[], windows: readonly PhaseWindow[] = []): AvailabilityCell[] {
  const endOf = new Map<string, number>(windows.map((w) => [w.phase, w.endMs]));
  const cells = new Map<string, AvailabilityCell>();
  for (const op of ops) {
    const late = op.outcome === 'ok' && op.completeMs > (endOf.get(op.phase ?? '') ?? Number.POSITIVE_INFINITY);
    for (const opName of [op.type, 'all']) {
      const key = `${op.phase}|${op.side}|${opName}`;
      let cell = cells.get(key);
      if (!cell) cells.set(key, (cell = { phase: op.phase ?? 'all', side: op.side ?? 'all', op: opName, total: 0, ok: 0, late: 0, fail: 0, info: 0, fraction: 1 }));
      cell.total++;
      if (late) cell.late++;
      else cell[op.outcome]++;
    }
  }
  const order = (p: string): number => (PHASES as readonly string[]).indexOf(p);
  return [...cells.values()]
    .map((c) => ({ ...c, fraction: c.total === 0 ? 1 : round4(c.ok / c.total) }))
    .sort((a, b) => order(a.phase) - order(b.phase) || a.side.localeCompare(b.side) || a.op.localeCompare(b.op));
}

export interface Window {
  fromMs: number;
  toMs: number;
  lengthMs: number;
}

/**
 * The longest stretch of [startMs, endMs] with no successful increment completing on the
 * given nodes (all of them by default). A topology that refuses writes on one side shows that
 * side's whole fault period here; a Raft election shows as the gap around it.
 */
export function longestWriteGap(ops: readonly Op[], startMs: number, endMs: number, side?: string): Window {
  const times = ops
    .filter((op) => op.type === 'incr' && op.outcome === 'ok' && (side === undefined || op.side === side))
    .map((op) => op.completeMs)
    .filter((t) => t >= startMs && t <= endMs)
    .sort((a, b) => a - b);
  let best: Window = { fromMs: startMs, toMs: endMs, lengthMs: endMs - startMs };
  if (times.length === 0) return best;
  best = { fromMs: startMs, toMs: times[0] as number, lengthMs: (times[0] as number) - startMs };
  for (let i = 1; i <= times.length; i++) {
    const from = times[i - 1] as number;
    const to = i < times.length ? (times[i] as number) : endMs;
    if (to - from > best.lengthMs) best = { fromMs: from, toMs: to, lengthMs: to - from };
  }
  return { fromMs: round1(best.fromMs), toMs: round1(best.toMs), lengthMs: round1(best.lengthMs) };
}

export interface Throughput {
  phase: string;
  /** Successful operations per second. */
  okPerSec: number;
  attemptedPerSec: number;
}

export function throughputByPhase(ops: readonly Op[], windows: readonly PhaseWindow[]): Throughput[] {
  return windows.map((w) => {
    const inPhase = ops.filter((op) => op.phase === w.phase);
    const seconds = Math.max(0.001, (w.endMs - w.startMs) / 1000);
    return { phase: w.phase, okPerSec: round1(inPhase.filter((o) => o.outcome === 'ok').length / seconds), attemptedPerSec: round1(inPhase.length / seconds) };
  });
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
const round4 = (x: number): number => Math.round(x * 10_000) / 10_000;

/**
 * How long every node must keep reading the same value before the run counts as converged.
 * Equal values are not equal states: when the last increments are still spreading, three nodes
 * that each miss a different one read the same number (n1 has a+b, n2 b+c, n3 c+a), and a
 * checker fed that number reports an increment lost that is only late. Five gossip rounds (and
 * many Raft heartbeats) pass in this window, so agreement that lasts through it is the end state.
 */
export const CONVERGENCE_SETTLE_MS = 500;
