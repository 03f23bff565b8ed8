import type { Context } from 'hono';
import { BadRequestError } from '@playground/core';

/**
 * Client parameters: the query string merged with a JSON object body (the body wins).
 * Throws BadRequestError('body', ...) for malformed JSON or a body that is not an object.
 * The size bound (413) is enforced by middleware before this reads anything.
 * The result has no prototype, so a `__proto__` key is just a key.
 */
export async function readClientParams(c: Context): Promise<Record<string, unknown>> {
  const params: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, c.req.query());
  const method = c.req.method;
  if (method === 'GET' || method === 'HEAD') return params;
  const text = await c.req.text();
  if (text.trim() === '') return params;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new BadRequestError('body', `malformed JSON: ${(e as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('body', 'must be a JSON object');
  }
  return Object.assign(params, body);
}
