import type { IncomingMessage } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';

/** The node request behind a hono context, when served by @hono/node-server (not in app.request() tests). */
export function incomingOf(c: Context): IncomingMessage | undefined {
  return (c.env as Partial<HttpBindings> | undefined)?.incoming;
}

/**
 * The raw body, or null past the bound. Reads the node stream directly: touching `c.req.raw`
 * would make @hono/node-server build a full fetch Request (and an AbortSignal) for every request,
 * which costs more than the rest of a client request's handling put together.
 */
export async function readBody(c: Context, incoming: IncomingMessage | undefined, maxBytes: number): Promise<Uint8Array | null> {
  const declared = Number(c.req.header('content-length') ?? '0');
  if (declared > maxBytes) return null;
  if (incoming === undefined) {
    const buf = new Uint8Array(await c.req.arrayBuffer());
    return buf.byteLength > maxBytes ? null : buf;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of incoming as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) return null;
    chunks.push(chunk);
  }
  if (chunks.length === 0) return new Uint8Array(0);
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}
