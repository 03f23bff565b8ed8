/**
 * The contract's client API, the same for every topology: POST /incr, GET /count, GET /status.
 * Common validation happens here (key, delta, Idempotency-Key, unknown parameters), so that a
 * topology only ever sees well-formed requests plus its own parameters to check.
 */
import type { Context, Hono } from 'hono';
import {
  BadRequestError,
  DEFAULT_COUNTER_KEY,
  isCounterKey,
  isIdempotencyKey,
  type ClientReply,
  type TopologyModule,
  type TopologyNode,
} from '@playground/core';
import { readClientParams } from '@playground/transport';

/** |delta| bound: keeps every counter a safe integer for any realistic run. */
export const MAX_ABS_DELTA = 1_000_000_000;

export interface ClientApiOptions {
  readonly id: string;
  readonly module: TopologyModule;
  /** The node, once started (routes are mounted before it exists, and only called after). */
  readonly node: () => TopologyNode;
  /** The /status fields every topology shares (id, topology, pid, uptimeMs, peers, faults). */
  readonly commonStatus: () => Record<string, unknown>;
}

export function mountClientApi(app: Hono, options: ClientApiOptions): void {
  const { module, node } = options;

  const allowedIncr = module.clientParams ? new Set(['key', 'delta', ...module.clientParams.incr]) : null;
  const allowedCount = module.clientParams ? new Set(['key', ...module.clientParams.count]) : null;

  app.post('/incr', async (c) => {
    const params = await readClientParams(c);
    rejectUnknown(params, allowedIncr);
    const key = readKey(params);
    const delta = readDelta(params.delta);
    const idemHeader = c.req.header('idempotency-key');
    if (idemHeader !== undefined && !isIdempotencyKey(idemHeader)) {
      throw new BadRequestError('Idempotency-Key', 'must be 1-128 printable ASCII characters');
    }
    return send(c, await node().incr({ key, delta, idempotencyKey: idemHeader, params }));
  });

  app.get('/count', async (c) => {
    const params = await readClientParams(c);
    rejectUnknown(params, allowedCount);
    const key = readKey(params);
    return send(c, await node().count({ key, params }));
  });

  app.get('/status', (c) => c.json({ ...options.commonStatus(), ...node().status() }));

  app.get('/', (c) =>
    c.json({
      node: options.id,
      topology: module.name,
      endpoints: {
        'POST /incr': 'add delta (default 1) to key (default "counter"); header Idempotency-Key makes retries safe',
        'GET /count': 'read key (default "counter")',
        'GET /status': 'this node\'s view of the cluster',
        'GET /metrics': 'Prometheus metrics',
        'POST|GET|DELETE /admin/faults': 'fault injection (Authorization: Bearer <secret>)',
      },
    }),
  );
}

function rejectUnknown(params: Record<string, unknown>, allowed: Set<string> | null): void {
  if (!allowed) return;
  for (const name of Object.keys(params)) {
    if (!allowed.has(name)) {
      throw new BadRequestError(name, `unknown parameter (allowed: ${[...allowed].join(', ')})`);
    }
  }
}

function readKey(params: Record<string, unknown>): string {
  const key = params.key ?? DEFAULT_COUNTER_KEY;
  if (!isCounterKey(key)) throw new BadRequestError('key', 'must match [A-Za-z0-9_.:-]{1,128}');
  return key;
}

/** delta: an integer, from JSON (a number) or the query string (digits). */
export function readDelta(raw: unknown): number {
  if (raw === undefined) return 1;
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string' && /^[+-]?\d{1,16}$/.test(raw.trim())) n = Number(raw);
  else throw new BadRequestError('delta', `must be an integer, got ${JSON.stringify(raw)}`);
  if (!Number.isInteger(n) || Math.abs(n) > MAX_ABS_DELTA) {
    throw new BadRequestError('delta', `must be an integer between -${MAX_ABS_DELTA} and ${MAX_ABS_DELTA}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export function send(c: Context, reply: ClientReply): Response {
  if ('body' in reply) return c.json(reply.body, 200);
  if (reply.retryAfterS !== undefined) c.header('Retry-After', String(reply.retryAfterS));
  return c.json({ error: reply.error, ...reply.extra }, reply.status as 400);
}
