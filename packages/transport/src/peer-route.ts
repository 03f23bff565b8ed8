/**
 * POST /peer/:type — the one-message form of the inbound peer protocol (nodes themselves send on
 * streams, stream-server.ts; both end in deliver() below).
 *
 * Order matters: injected inbound faults first (a cut link delivers nothing), then the header
 * checks, then the body is read (bounded), then its HMAC is verified, and only then is it
 * decoded and handed to the topology (a PING_TYPE probe is answered here instead). Errors are
 * JSON `{"error": {"code", "message"}}`:
 * 401 `unauthenticated` (missing/forged signature, stale timestamp, unknown sender, wrong
 * destination), 400 `bad_request` (bad type, undecodable msgpack, handler's BadRequestError),
 * 413 `too_large`, 500 `internal`. A successful reply is msgpack of the handler's return value.
 */
import type { Context } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { readBody } from './body.js';
import type { Socket } from 'node:net';
import { pack, unpack } from 'msgpackr';
import { BadRequestError, type Logger, type NodeId } from '@playground/core';
import { PEER_HEADER_FROM, PEER_HEADER_SIG, PEER_HEADER_TO, PEER_HEADER_TS, isFreshTimestamp, type PeerSigner } from './auth.js';
import type { FaultInjector } from './faults.js';
import { errorResponse } from './http-errors.js';
import type { TransportMetrics } from './metrics.js';
import { PING_TYPE } from './peer-client.js';

const PONG: Uint8Array = pack('pong');

/** A blackholed inbound request is held at most this long, then its socket is destroyed. */
export const INBOUND_BLACKHOLE_MAX_MS = 30_000;

export const TYPE_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

export interface PeerRouteOptions {
  readonly self: NodeId;
  readonly peerIds: ReadonlySet<NodeId>;
  readonly signer: PeerSigner | null;
  readonly faults: FaultInjector;
  readonly metrics: TransportMetrics;
  readonly maxPeerBodyBytes: number;
  readonly log: Logger;
  readonly onPeerMessage: (from: NodeId, type: string, body: unknown) => Promise<unknown>;
  /** Held (blackholed) requests, released on close. */
  readonly held: Set<() => void>;
}

export function peerRoute(o: PeerRouteOptions): (c: Context) => Promise<Response> {
  return async (c) => {
    const type = c.req.param('type') ?? '';
    const from = c.req.header(PEER_HEADER_FROM) ?? '';
    const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;

    const label = TYPE_PATTERN.test(type) ? type : 'invalid';
    if (incoming !== undefined && (await cutIfPartitioned(o, from, label, incoming.socket))) return c.body(null, 503);

    if (!TYPE_PATTERN.test(type)) return errorResponse(c, 400, 'bad_request', `type: must match ${TYPE_PATTERN.source}`);
    const to = c.req.header(PEER_HEADER_TO) ?? '';
    const ts = c.req.header(PEER_HEADER_TS) ?? '';
    const refusal = envelopeRefusal(o, from, to, ts);
    if (refusal !== null) return errorResponse(c, 401, 'unauthenticated', refusal);

    const bytes = await readBody(c, incoming, o.maxPeerBodyBytes);
    if (bytes === null) return errorResponse(c, 413, 'too_large', `peer message over ${o.maxPeerBodyBytes} bytes`);

    if (o.signer !== null) {
      const sig = c.req.header(PEER_HEADER_SIG) ?? '';
      if (!o.signer.verify(from, to, type, ts, bytes, sig)) {
        return errorResponse(c, 401, 'unauthenticated', BAD_SIGNATURE);
      }
    }

    const d = await deliver(o, from, type, bytes);
    if (d.ok) return c.body(d.body as Uint8Array<ArrayBuffer>, 200, { 'content-type': 'application/msgpack' });
    return errorResponse(c, d.status, d.code, d.message);
  };
}

/**
 * An inbound cut (injected fault) from `from`, applied to its connection: true if it was cut,
 * after holding it (blackhole: until the sender gives up) or at once (reject: a dead process).
 */
export async function cutIfPartitioned(o: Pick<PeerRouteOptions, 'peerIds' | 'faults' | 'metrics' | 'held'>, from: string, label: string, socket: Socket): Promise<boolean> {
  const fault = o.peerIds.has(from) ? o.faults.inbound(from) : null;
  if (fault === null) return false;
  o.metrics.peerDropped.labels(from, label, 'in', fault).inc();
  if (fault === 'blackhole') await hold(socket, o.held);
  socket.destroy();
  return true;
}

export const BAD_SIGNATURE = `${PEER_HEADER_SIG}: missing or invalid HMAC`;

/** Why a message's (or stream's) sender, destination or timestamp is refused (401), or null. */
export function envelopeRefusal(o: Pick<PeerRouteOptions, 'self' | 'peerIds' | 'signer'>, from: string, to: string, ts: string): string | null {
  if (!o.peerIds.has(from)) return `${PEER_HEADER_FROM}: ${JSON.stringify(from)} is not a member`;
  if (to !== o.self) return `message addressed to ${JSON.stringify(to)} but this is ${o.self}; check the peer lists`;
  if (o.signer !== null && !isFreshTimestamp(ts, Date.now())) return `${PEER_HEADER_TS}: missing or more than 5 minutes from this node's clock`;
  return null;
}

export type Delivery =
  | { readonly ok: true; readonly body: Uint8Array }
  | { readonly ok: false; readonly status: 400 | 500; readonly code: 'bad_request' | 'internal'; readonly message: string };

/**
 * An authenticated message, from either route (this one or a stream frame): decoded, answered
 * here if it is the transport's PING_TYPE probe, otherwise handed to the topology. The reply
 * body is msgpack of the handler's return value.
 */
export async function deliver(
  o: Pick<PeerRouteOptions, 'metrics' | 'log' | 'onPeerMessage'>,
  from: NodeId,
  type: string,
  bytes: Uint8Array,
): Promise<Delivery> {
  let body: unknown;
  try {
    body = unpack(bytes);
  } catch (e) {
    return { ok: false, status: 400, code: 'bad_request', message: `body: not valid msgpack: ${(e as Error).message}` };
  }
  o.metrics.peerReceived.inc({ peer: from, type });
  // The sender's breaker probe (peer-client.ts): answered here, the topology never sees it.
  if (type === PING_TYPE) return { ok: true, body: PONG };
  let result: unknown;
  try {
    result = await o.onPeerMessage(from, type, body);
  } catch (e) {
    if (e instanceof BadRequestError) return { ok: false, status: 400, code: 'bad_request', message: e.message };
    o.log.error('peer handler failed', { from, type, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    return { ok: false, status: 500, code: 'internal', message: `handler for ${type} failed` };
  }
  return { ok: true, body: pack(result) };
}

/** Holds a blackholed connection until its sender gives up, the bound passes or the server closes. */
function hold(socket: Socket, held: Set<() => void>): Promise<void> {
  return new Promise((resolve) => {
    const release = (): void => {
      clearTimeout(timer);
      socket.off('close', release);
      held.delete(release);
      resolve();
    };
    const timer = setTimeout(release, INBOUND_BLACKHOLE_MAX_MS);
    timer.unref();
    socket.once('close', release);
    held.add(release);
  });
}
