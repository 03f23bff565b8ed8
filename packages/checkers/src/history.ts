/**
 * The history format shared by the simulator and the bench harness (Jepsen's model): each
 * operation records its invocation and completion times and one of three outcomes.
 * - `ok`: it took effect (an increment) or returned `value` (a read);
 * - `fail`: it surely did not take effect (HTTP 503, 400...);
 * - `info`: unknown (a timeout); an increment may have taken effect once, at any time after invoke.
 */

export type OpType = 'incr' | 'read';
export type Outcome = 'ok' | 'fail' | 'info';

export interface Op {
  /** Unique within a history. */
  id: number;
  /** The client (logical thread) that issued the operation. */
  process: string | number;
  /** The node the client talked to. */
  node: string;
  /** The counter key. */
  key: string;
  type: OpType;
  /** Increments: the amount added (a safe integer, may be negative); absent means 1 (the contract's default). */
  delta?: number;
  /** Reads: the value returned. Increments: the value right after the increment, if the system told. */
  value?: number;
  /** Attempts sharing an idempotency key (and counter key) are retries of ONE logical increment. */
  idempotencyKey?: string;
  invokeMs: number;
  completeMs: number;
  outcome: Outcome;
  /** Free-form labels for reports: which side of a partition, which phase of the run, the error. */
  side?: string;
  phase?: string;
  error?: string;
}

/** A checker's answer. `excerpt` is the smallest part of the history that shows the problem. */
export interface Verdict {
  checker: string;
  valid: true | false | 'unknown';
  summary: string;
  excerpt?: Op[];
  details?: Record<string, unknown>;
}

/** false dominates 'unknown', which dominates true. */
export function combine(verdicts: readonly Verdict[], checker = 'combined'): Verdict {
  const invalid = verdicts.filter((v) => v.valid === false);
  const unknown = verdicts.filter((v) => v.valid === 'unknown');
  const valid: Verdict['valid'] = invalid.length > 0 ? false : unknown.length > 0 ? 'unknown' : true;
  const shown = invalid.length > 0 ? invalid : unknown.length > 0 ? unknown : verdicts;
  const summary =
    verdicts.length === 0 ? 'no verdicts' : shown.map((v) => `${v.checker}: ${v.summary}`).join('; ');
  const firstExcerpt = invalid.find((v) => v.excerpt !== undefined)?.excerpt;
  const verdict: Verdict = { checker, valid, summary, details: { verdicts } };
  if (firstExcerpt !== undefined) verdict.excerpt = firstExcerpt;
  return verdict;
}

/** One JSON object per line, in id order as given. */
export function toJsonLines(ops: readonly Op[]): string {
  return ops.map((op) => JSON.stringify(op)).join('\n') + (ops.length > 0 ? '\n' : '');
}

/** Parses and validates a JSON-lines history; throws an Error naming the line and the field. */
export function fromJsonLines(text: string): Op[] {
  const ops: Op[] = [];
  const ids = new Set<number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    const where = `history line ${i + 1}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      throw new Error(`${where}: not JSON (${(e as Error).message})`);
    }
    const problem = validateOp(parsed);
    if (problem !== null) throw new Error(`${where}: ${problem}`);
    const op = parsed as Op;
    if (ids.has(op.id)) throw new Error(`${where}: id ${op.id} appears twice`);
    ids.add(op.id);
    ops.push(op);
  }
  return ops;
}

/** Why `value` is not a well-formed Op, or null. */
export function validateOp(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not an object';
  const o = value as Record<string, unknown>;
  const isInt = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x);
  const isTime = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x);
  if (!isInt(o.id)) return 'id must be a safe integer';
  if (typeof o.process !== 'string' && !isInt(o.process)) return 'process must be a string or an integer';
  if (typeof o.node !== 'string') return 'node must be a string';
  if (typeof o.key !== 'string' || o.key === '') return 'key must be a non-empty string';
  if (o.type !== 'incr' && o.type !== 'read') return `type must be "incr" or "read", got ${JSON.stringify(o.type)}`;
  if (o.outcome !== 'ok' && o.outcome !== 'fail' && o.outcome !== 'info') {
    return `outcome must be "ok", "fail" or "info", got ${JSON.stringify(o.outcome)}`;
  }
  if (o.type === 'incr' && o.delta !== undefined && !isInt(o.delta)) return 'delta must be a safe integer';
  if (o.type === 'read' && o.delta !== undefined) return 'a read has no delta';
  if (o.value !== undefined && !isInt(o.value)) return 'value must be a safe integer';
  if (o.type === 'read' && o.outcome === 'ok' && o.value === undefined) return 'an ok read needs value';
  if (!isTime(o.invokeMs)) return 'invokeMs must be a finite number';
  if (!isTime(o.completeMs)) return 'completeMs must be a finite number';
  if ((o.completeMs as number) < (o.invokeMs as number)) return 'completeMs is before invokeMs';
  if (o.idempotencyKey !== undefined && typeof o.idempotencyKey !== 'string') return 'idempotencyKey must be a string';
  for (const f of ['side', 'phase', 'error'] as const) {
    if (o[f] !== undefined && typeof o[f] !== 'string') return `${f} must be a string`;
  }
  return null;
}

/** Partitions ops by counter key, keeping their order (P-compositionality: check each key alone). */
export function byKey(ops: readonly Op[]): Map<string, Op[]> {
  const keys = new Map<string, Op[]>();
  for (const op of ops) {
    let list = keys.get(op.key);
    if (list === undefined) keys.set(op.key, (list = []));
    list.push(op);
  }
  return keys;
}

/**
 * One logical increment: every attempt that shares an idempotency key (retries through any
 * node) is ONE increment, applied at most once. It may take effect from its first invocation;
 * it surely took effect by the first ok completion; without an ok attempt but with an info one
 * its outcome is unknown; with only fail attempts it surely did not take effect.
 */
export interface LogicalIncr {
  key: string;
  delta: number;
  idempotencyKey: string | undefined;
  outcome: Outcome;
  invokeMs: number;
  /** The first ok completion; Infinity when the outcome is info or fail. */
  completeMs: number;
  /** The value after the increment, if an ok attempt reported one. */
  value: number | undefined;
  attempts: Op[];
}

/** Collapses retries into logical increments (ops without an idempotency key stand alone). */
export function logicalIncrements(ops: readonly Op[]): LogicalIncr[] {
  const result: LogicalIncr[] = [];
  const byIdem = new Map<string, LogicalIncr>();
  for (const op of ops) {
    if (op.type !== 'incr') continue;
    const delta = op.delta ?? 1;
    const group = op.idempotencyKey === undefined ? undefined : byIdem.get(`${op.key}\u0000${op.idempotencyKey}`);
    if (group === undefined) {
      const logical: LogicalIncr = {
        key: op.key,
        delta,
        idempotencyKey: op.idempotencyKey,
        outcome: op.outcome,
        invokeMs: op.invokeMs,
        completeMs: op.outcome === 'ok' ? op.completeMs : Infinity,
        value: op.outcome === 'ok' ? op.value : undefined,
        attempts: [op],
      };
      result.push(logical);
      if (op.idempotencyKey !== undefined) byIdem.set(`${op.key}\u0000${op.idempotencyKey}`, logical);
      continue;
    }
    group.attempts.push(op);
    group.invokeMs = Math.min(group.invokeMs, op.invokeMs);
    if (op.outcome === 'ok') {
      if (op.completeMs < group.completeMs) {
        group.completeMs = op.completeMs;
        if (op.value !== undefined) group.value = op.value;
      }
      group.value ??= op.value;
      group.outcome = 'ok';
    } else if (op.outcome === 'info' && group.outcome === 'fail') {
      group.outcome = 'info';
    }
  }
  return result;
}
