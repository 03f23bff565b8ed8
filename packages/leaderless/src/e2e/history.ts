/**
 * Records a Jepsen-style history of client operations against a real cluster, for the shared
 * checkers: each operation's invocation and completion times and its outcome (ok, fail =
 * surely not applied, info = unknown).
 */
import type { Op, Outcome } from '@playground/checkers';
import type { ClientResponse, TestCluster } from '@playground/node/testing';

export class History {
  readonly ops: Op[] = [];
  private nextId = 0;

  constructor(private readonly cluster: TestCluster) {}

  async incr(process: number, node: string, options: { key?: string; delta?: number; idempotencyKey?: string; params?: Record<string, unknown>; timeoutMs?: number } = {}): Promise<ClientResponse> {
    const invokeMs = Date.now();
    const res = await this.cluster.incr(node, options);
    const op: Op = {
      id: this.nextId++,
      process,
      node,
      key: options.key ?? 'counter',
      type: 'incr',
      delta: options.delta ?? 1,
      invokeMs,
      completeMs: Date.now(),
      outcome: outcomeOf(res),
    };
    if (options.idempotencyKey !== undefined) op.idempotencyKey = options.idempotencyKey;
    if (res.status === 200 && typeof res.body?.value === 'number') op.value = res.body.value;
    if (res.status !== 200) op.error = `${res.status} ${JSON.stringify(res.body?.error ?? res.networkError)}`;
    this.ops.push(op);
    return res;
  }

  async read(process: number, node: string, params: Record<string, string | number> = {}, key = 'counter'): Promise<ClientResponse> {
    const invokeMs = Date.now();
    const res = await this.cluster.count(node, { ...params, key });
    const op: Op = { id: this.nextId++, process, node, key, type: 'read', invokeMs, completeMs: Date.now(), outcome: outcomeOf(res) };
    if (res.status === 200) op.value = res.body.value as number;
    this.ops.push(op);
    return res;
  }
}

/** 503 and 4xx: surely not applied; 504 and no answer: unknown. */
export function outcomeOf(res: ClientResponse): Outcome {
  if (res.status === 200) return 'ok';
  if (res.status === 0 || res.status === 504 || res.status >= 500 && res.status !== 503) return 'info';
  return 'fail';
}
