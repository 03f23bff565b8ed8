/**
 * The open-loop history client: operations at a fixed rate, each timed from its SCHEDULED
 * start, so a slow answer cannot hold back the next request and hide the wait behind it
 * (coordinated omission, Tene). Every operation is recorded in the checkers' history format.
 */
import type { Op } from '@playground/checkers';
import { Rng } from '@playground/core';
import { sleep } from './http.js';
import type { Target } from './target.js';

export interface LoadOptions {
  target: Target;
  key: string;
  /** Operations per second. */
  rate: number;
  durationMs: number;
  readFraction: number;
  opTimeoutMs: number;
  seed: number;
  /** Unique per run, so idempotency keys never collide across runs on one cluster. */
  runId: string;
  /** performance.now() at the run's start: every time in the history is relative to it. */
  originMs: number;
  /** Operations in flight beyond this are not sent and counted as skipped (the harness's bound). */
  maxInFlight?: number;
  signal?: AbortSignal;
  onOp?: (op: Op) => void;
}

export interface LoadResult {
  ops: Op[];
  /** Scheduled but not sent: too many in flight (the harness fell behind or the cluster hangs). */
  skipped: number;
  /** Sent later than 10 ms after their scheduled time (the harness's own lateness). */
  late: number;
}

export async function runOpenLoop(options: LoadOptions): Promise<LoadResult> {
  const { target, rate, durationMs } = options;
  const rng = new Rng(options.seed);
  const nodes = target.nodes;
  const intervalMs = 1000 / rate;
  const total = Math.floor((durationMs * rate) / 1000);
  const maxInFlight = options.maxInFlight ?? Math.max(100, Math.ceil((rate * options.opTimeoutMs) / 1000) * 2);
  const ops: Op[] = [];
  const inFlight = new Set<Promise<void>>();
  let skipped = 0;
  let late = 0;
  const now = (): number => performance.now() - options.originMs;

  const issue = (k: number, scheduledMs: number): void => {
    const node = nodes[k % nodes.length] as string;
    const isRead = rng.nextU32() / 2 ** 32 < options.readFraction;
    if (inFlight.size >= maxInFlight) {
      skipped++;
      return;
    }
    if (now() - scheduledMs > 10) late++;
    const idempotencyKey = `${options.runId}-${k}`;
    const p = (isRead ? target.read(node, options.key, options.opTimeoutMs) : target.incr(node, options.key, idempotencyKey, options.opTimeoutMs)).then(
      (result) => {
        const op: Op = {
          id: k,
          process: k,
          node,
          key: options.key,
          type: isRead ? 'read' : 'incr',
          invokeMs: round3(scheduledMs),
          completeMs: round3(Math.max(scheduledMs, now())),
          outcome: result.outcome,
        };
        if (!isRead) {
          op.delta = 1;
          op.idempotencyKey = idempotencyKey;
        }
        if (result.value !== undefined) op.value = result.value;
        if (result.error !== undefined) op.error = result.error;
        ops.push(op);
        options.onOp?.(op);
        inFlight.delete(p);
      },
    );
    inFlight.add(p);
  };

  let k = 0;
  const start = now();
  while (k < total && options.signal?.aborted !== true) {
    const due = start + k * intervalMs;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    // Catch up on everything due (a late timer must not thin out the schedule).
    while (k < total && start + k * intervalMs <= now()) {
      issue(k, start + k * intervalMs);
      k++;
    }
  }
  await Promise.all(inFlight);
  ops.sort((a, b) => a.id - b.id);
  return { ops, skipped, late };
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
