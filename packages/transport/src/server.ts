/**
 * createNodeServer: the one owner of a node's networking. One hono app serves the client
 * routes (mounted by the node layer), /admin/faults, /metrics and the peer route; one
 * PeerClient sends this node's peer messages.
 */
import type { Server } from 'node:http';
import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { matchedRoutes } from 'hono/route';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { serve } from '@hono/node-server';
import type { Registry } from 'prom-client';
import { assert, BadRequestError, type ErrorCode, type Logger, type NodeId, type PeerAddress } from '@playground/core';
import { bearerMatches, PeerSigner } from './auth.js';
import { FaultInjector, parseFaultSpec } from './faults.js';
import { errorResponse } from './http-errors.js';
import { stderrLogger } from './log.js';
import { createTransportMetrics, type TransportMetrics } from './metrics.js';
import { PeerClient, type BreakerOptions } from './peer-client.js';
import { readClientText } from './params.js';
import { peerRoute } from './peer-route.js';
import { StreamServer } from './stream-server.js';

export interface NodeServerOptions {
  id: NodeId;
  /** Listen address. */
  host: string;
  /** 0 = ephemeral (tests). */
  port: number;
  /** Every member, this node included. */
  peers: readonly PeerAddress[];
  /** null = --insecure: no HMAC on peer messages, no admin auth (a warning is logged once). */
  secret: string | null;
  /** Per-node prom-client registry (never the global one). */
  registry: Registry;
  /** Per attempt. Default 1000. */
  rpcTimeoutMs?: number;
  /** Default 256; beyond it call() fails at once with kind 'overloaded'. */
  maxInFlightPerPeer?: number;
  /** Default 64 KiB (contract); larger client/admin bodies get 413 before parsing. */
  maxClientBodyBytes?: number;
  /** Default 8 MiB; larger peer messages (and replies) are refused. */
  maxPeerBodyBytes?: number;
  /** Breaker tuning per peer (defaults: DEFAULT_BREAKER). */
  breaker?: Partial<BreakerOptions>;
  /** Default: JSON lines on stderr. */
  log?: Logger;
  /** Fault randomness (drop/duplicate/jitter), injectable for tests. Default Math.random. */
  random?: () => number;
  onPeerMessage: (from: NodeId, type: string, body: unknown) => Promise<unknown>;
  /** The node layer adds /incr, /count, /status here. */
  mountClientRoutes: (app: Hono) => void;
}

export interface NodeServer {
  readonly app: Hono;
  readonly transport: PeerClient;
  readonly faults: FaultInjector;
  readonly metrics: TransportMetrics;
  /** Resolves with the bound port. */
  listen(): Promise<number>;
  /** Stop accepting, let in-flight requests finish (at most CLOSE_GRACE_MS), close keep-alive sockets. */
  close(): Promise<void>;
}

export const DEFAULT_RPC_TIMEOUT_MS = 1000;
export const DEFAULT_MAX_IN_FLIGHT_PER_PEER = 256;
export const DEFAULT_MAX_CLIENT_BODY_BYTES = 64 * 1024;
export const DEFAULT_MAX_PEER_BODY_BYTES = 8 * 1024 * 1024;
/** How long close() lets in-flight requests finish before cutting their connections. */
export const CLOSE_GRACE_MS = 2000;

const CODE_OF_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'bad_request',
  401: 'unauthenticated',
  404: 'not_found',
  413: 'too_large',
  503: 'unavailable',
  504: 'timeout',
};

export function createNodeServer(options: NodeServerOptions): NodeServer {
  const self = options.id;
  const peerIds = new Set(options.peers.map((p) => p.id));
  assert(peerIds.has(self), () => `this node (${self}) is not in its own peer list`);
  const log = options.log ?? stderrLogger({ node: self });
  const secret = options.secret;
  const signer = secret === null ? null : new PeerSigner(secret);
  if (secret === null) {
    log.warn('insecure mode: peer messages are not authenticated and /admin is open to anyone who can reach this port');
  }
  const maxPeerBodyBytes = options.maxPeerBodyBytes ?? DEFAULT_MAX_PEER_BODY_BYTES;
  const maxClientBodyBytes = options.maxClientBodyBytes ?? DEFAULT_MAX_CLIENT_BODY_BYTES;
  const metrics = createTransportMetrics(options.registry);
  const faults = new FaultInjector(options.random);
  const transport = new PeerClient({
    self,
    peers: options.peers,
    signer,
    faults,
    metrics,
    rpcTimeoutMs: options.rpcTimeoutMs ?? DEFAULT_RPC_TIMEOUT_MS,
    maxInFlightPerPeer: options.maxInFlightPerPeer ?? DEFAULT_MAX_IN_FLIGHT_PER_PEER,
    maxBodyBytes: maxPeerBodyBytes,
    ...(options.breaker === undefined ? {} : { breaker: options.breaker }),
    log,
  });
  const held = new Set<() => void>();

  const app = new Hono();

  // Metrics first, so that it sees every answer (including 401/404/413/500).
  app.use('*', async (c, next) => {
    const startedMs = performance.now();
    await next();
    const route = routeLabel(c);
    // Label objects, not labels(): that builds two closures per call (prom-client), per request here.
    metrics.httpRequests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.httpDuration.observe({ method: c.req.method, route }, (performance.now() - startedMs) / 1000);
  });

  // Peer messages arrive on streams (an HTTP upgrade, answered outside hono: stream-server.ts),
  // or one per request on this route, which checks them the same way. It has its own (larger)
  // body bound, so it comes before the client routes.
  const peerOptions = { self, peerIds, signer, faults, metrics, maxPeerBodyBytes, log, onPeerMessage: options.onPeerMessage, held };
  const streams = new StreamServer(peerOptions);
  app.post('/peer/:type', peerRoute(peerOptions));

  app.get('/metrics', async (c) => c.text(await options.registry.metrics(), 200, { 'content-type': options.registry.contentType }));

  app.use('/admin/*', async (c, next) => {
    if (secret !== null && !bearerMatches(c.req.header('authorization'), secret)) {
      return errorResponse(c, 401, 'unauthenticated', 'admin routes need Authorization: Bearer <cluster secret>');
    }
    return next();
  });
  app.get('/admin/faults', (c) => c.json({ faults: faults.get() }));
  app.post('/admin/faults', async (c) => {
    const text = await readClientText(c, maxClientBodyBytes);
    let input: unknown;
    try {
      input = text.trim() === '' ? {} : JSON.parse(text);
    } catch (e) {
      throw new BadRequestError('body', `malformed JSON: ${(e as Error).message}`);
    }
    const spec = parseFaultSpec(input, [...peerIds], self);
    faults.set(spec); // replaces whatever was in force
    log.warn('faults injected', { faults: spec });
    return c.json({ faults: spec });
  });
  app.delete('/admin/faults', (c) => {
    faults.clear();
    log.info('faults healed');
    return c.json({ faults: null });
  });

  options.mountClientRoutes(app);

  app.notFound((c) => errorResponse(c, 404, 'not_found', `no route for ${c.req.method} ${c.req.path}`));
  app.onError((e, c) => {
    if (e instanceof BadRequestError) return errorResponse(c, 400, 'bad_request', e.message);
    if (e instanceof HTTPException) {
      const status = e.status as ContentfulStatusCode;
      return errorResponse(c, status, CODE_OF_STATUS[status] ?? 'internal', e.message);
    }
    log.error('request failed', { method: c.req.method, path: c.req.path, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    return errorResponse(c, 500, 'internal', 'internal error; see the node log');
  });

  let server: Server | undefined;
  let closing: Promise<void> | undefined;

  return {
    app,
    transport,
    faults,
    metrics,
    listen() {
      assert(server === undefined, 'listen() called twice');
      return new Promise<number>((resolve, reject) => {
        const s = serve(
          {
            fetch: app.fetch,
            hostname: options.host,
            port: options.port,
            serverOptions: { keepAlive: true, noDelay: true },
          },
          (info) => resolve(info.port),
        ) as Server;
        // Client connections are kept alive (peer streams are upgraded and leave these timeouts).
        s.keepAliveTimeout = 30_000;
        s.headersTimeout = 35_000;
        s.requestTimeout = 60_000;
        s.once('error', reject);
        s.on('upgrade', (req, socket, head) => streams.accept(req, socket, head));
        server = s;
      });
    },
    close() {
      closing ??= (async () => {
        transport.close();
        for (const release of [...held]) release();
        streams.close();
        const s = server;
        if (s === undefined || !s.listening) return;
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => s.closeAllConnections(), CLOSE_GRACE_MS);
          s.close(() => {
            clearTimeout(force);
            resolve();
          });
          s.closeIdleConnections();
        });
      })();
      return closing;
    },
  };
}

/** The route pattern that answered (bounded cardinality), or `unmatched`. */
function routeLabel(c: Context): string {
  for (const r of matchedRoutes(c)) if (r.method !== 'ALL') return r.path;
  return 'unmatched';
}
