/**
 * A retrying test client for real clusters: each increment keeps its Idempotency-Key across
 * retries (503, 504, connection errors), sent each time to a random node, with jittered backoff.
 */
import { Rng } from '@playground/core';
import type { Op } from '@playground/checkers';
import type { ClientResponse, TestCluster } from '@playground/node/testing';

/** Records every attempt as a history operation (Jepsen's model), for the checkers. */
export class HistoryRecorder {
  readonly ops: Op[] = [];
  private readonly startMs = performance.now();

  now(): number {
    return performance.now() - this.startMs;
  }

  record(op: Omit<Op, 'id' | 'outcome'>, response: ClientResponse): void {
    const outcome = response.status === 200 ? 'ok' : response.status === 0 || response.status === 504 ? 'info' : 'fail';
    const value = response.status === 200 && typeof response.body?.value === 'number' ? (response.body.value as number) : undefined;
    this.ops.push({ ...op, id: this.ops.length, outcome, ...(value === undefined ? {} : { value }) });
  }
}

export interface Acked {
  readonly idempotencyKey: string;
  readonly response: ClientResponse;
  readonly attempts: number;
}

export async function incrementWithRetries(
  cluster: TestCluster,
  rng: Rng,
  idempotencyKey: string,
  options: { deadlineMs: number; timeoutMs?: number; history?: HistoryRecorder; process?: number },
): Promise<Acked> {
  for (let attempt = 1; ; attempt++) {
    const live = cluster.liveNodes;
    const target = live.length > 0 ? rng.pick(live).id : rng.pick(cluster.nodes).id;
    const invokeMs = options.history?.now() ?? 0;
    const response = await cluster.incr(target, { idempotencyKey, timeoutMs: options.timeoutMs ?? 3000 });
    options.history?.record(
      { process: options.process ?? 0, node: target, key: 'counter', type: 'incr', delta: 1, idempotencyKey, invokeMs, completeMs: options.history.now() },
      response,
    );
    if (response.status === 200) return { idempotencyKey, response, attempts: attempt };
    const retryable = response.status === 0 || response.status === 503 || response.status === 504;
    if (!retryable) throw new Error(`increment ${idempotencyKey} got ${response.status}: ${JSON.stringify(response.body)}`);
    if (Date.now() > options.deadlineMs) {
      throw new Error(`increment ${idempotencyKey} not acknowledged after ${attempt} attempts; last: ${response.status} ${JSON.stringify(response.body ?? response.networkError)}`);
    }
    // Exponential backoff with full jitter, capped: 5 ms .. 200 ms.
    await new Promise((r) => setTimeout(r, rng.int(0, Math.min(200, 5 * 2 ** Math.min(attempt, 6)))));
  }
}

/** Runs `total` tasks with at most `concurrency` at once. */
export async function runConcurrently<T>(total: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(total);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

export async function findLeader(cluster: TestCluster): Promise<string | null> {
  for (const node of cluster.liveNodes) {
    const status = await cluster.status(node.id);
    if (status?.role === 'leader') return node.id;
  }
  return null;
}
