import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { BadRequestError } from '@playground/core';
import { incomingOf, readBody } from './body.js';

/** The contract's bound on client bodies. */
export const MAX_CLIENT_BODY_BYTES = 64 * 1024;

/** Reads a client or admin body as text, refusing one over the bound with 413 before parsing it. */
export async function readClientText(c: Context, maxBytes: number = MAX_CLIENT_BODY_BYTES): Promise<string> {
  const bytes = await readBody(c, incomingOf(c), maxBytes);
  if (bytes === null) throw new HTTPException(413, { message: `request body over ${maxBytes} bytes` });
  return bytes.byteLength === 0 ? '' : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

/**
 * Client parameters: the query string merged with a JSON object body (the body wins).
 * Throws BadRequestError('body', ...) for malformed JSON or a body that is not an object.
 * A body over maxBytes is refused with 413 before it is parsed.
 * The result has no prototype, so a `__proto__` key is just a key.
 */
export async function readClientParams(c: Context, maxBytes: number = MAX_CLIENT_BODY_BYTES): Promise<Record<string, unknown>> {
  const params: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, c.req.query());
  const method = c.req.method;
  if (method === 'GET' || method === 'HEAD') return params;
  const text = await readClientText(c, maxBytes);
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
