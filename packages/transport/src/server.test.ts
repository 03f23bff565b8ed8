import { createServer } from 'node:net';
import { pack, unpack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { BadRequestError } from '@playground/core';
import { PEER_HEADER_FROM, PEER_HEADER_SIG, PEER_HEADER_TO, PEER_HEADER_TS, PeerSigner } from './auth.js';
import { startCluster, TEST_SECRET, type TestNode } from './test-cluster.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

async function two(): Promise<{ n1: TestNode; n2: TestNode }> {
  const c = await startCluster(['n1', 'n2']);
  cleanup = c.close;
  return { n1: c.nodes['n1'] as TestNode, n2: c.nodes['n2'] as TestNode };
}

/** A hand-made peer request to `node`, signed with `secret` unless overridden. */
function peerPost(
  node: TestNode,
  o: { type?: string; from?: string; to?: string; ts?: string; body?: Uint8Array; secret?: string; sig?: string | null } = {},
): Promise<Response> {
  const type = o.type ?? 'ping';
  const from = o.from ?? 'n1';
  const to = o.to ?? node.id;
  const ts = o.ts ?? String(Date.now());
  const body = o.body ?? pack({ hello: 1 });
  const headers: Record<string, string> = { 'content-type': 'application/msgpack', [PEER_HEADER_FROM]: from, [PEER_HEADER_TO]: to, [PEER_HEADER_TS]: ts };
  const sig = o.sig === undefined ? new PeerSigner(o.secret ?? TEST_SECRET).sign(from, to, type, ts, body) : o.sig;
  if (sig !== null) headers[PEER_HEADER_SIG] = sig;
  return fetch(`${node.url}/peer/${type}`, { method: 'POST', body, headers });
}

describe('peer route', () => {
  it('carries a signed message between two servers and returns the handler reply', async () => {
    const { n1, n2 } = await two();
    n2.handler = async (from, type, body) => ({ from, type, got: body });
    const r = await n1.server.transport.call('n2', 'append', { term: 7, entries: [1, 2] });
    expect(r).toEqual({ ok: true, value: { from: 'n1', type: 'append', got: { term: 7, entries: [1, 2] } } });
    expect(n2.received).toHaveLength(1);
    const text = await (await fetch(`${n2.url}/metrics`)).text();
    expect(text).toMatch(/peer_messages_received_total\{peer="n1",type="append"\} 1/);
    expect(text).toMatch(/http_requests_total\{method="GET",route="\/peer-stream",status="101"\} 1/);
  });

  it('accepts a hand-signed message (the wire format is what the docs say)', async () => {
    const { n2 } = await two();
    const res = await peerPost(n2, { body: pack([1, 'x']) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/msgpack');
    expect(unpack(new Uint8Array(await res.arrayBuffer()))).toEqual({ echo: [1, 'x'] });
  });

  it.each([
    ['no signature', { sig: null }, /HMAC/],
    ['a forged signature', { sig: 'ab'.repeat(32) }, /HMAC/],
    ['a malformed signature', { sig: 'zz' }, /HMAC/],
    ['the wrong secret', { secret: 'not-the-secret' }, /HMAC/],
    ['an unknown sender', { from: 'n9' }, /not a member/],
    ['the wrong destination', { to: 'n3' }, /addressed to "n3" but this is n2/],
    ['a stale timestamp', { ts: String(Date.now() - 6 * 60 * 1000) }, /5 minutes/],
    ['no timestamp', { ts: '' }, /5 minutes/],
  ] as const)('answers 401 for %s and never calls the handler', async (_name, o, message) => {
    const { n2 } = await two();
    const res = await peerPost(n2, o);
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('unauthenticated');
    expect(body.error.message).toMatch(message);
    expect(n2.received).toHaveLength(0);
  });

  it('rejects a body signed for another type (the type is inside the MAC)', async () => {
    const { n2 } = await two();
    const ts = String(Date.now());
    const body = pack(1);
    const sig = new PeerSigner(TEST_SECRET).sign('n1', 'n2', 'vote', ts, body);
    const res = await peerPost(n2, { type: 'append', ts, body, sig });
    expect(res.status).toBe(401);
    expect(n2.received).toHaveLength(0);
  });

  it('answers 400 for undecodable msgpack without calling the handler', async () => {
    const { n2 } = await two();
    const res = await peerPost(n2, { body: new Uint8Array([0x92, 0x01]) });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bad_request');
    expect(n2.received).toHaveLength(0);
  });

  it('maps handler errors: BadRequestError -> 400 remote_error, a crash -> 500, and the node lives on', async () => {
    const { n1, n2 } = await two();
    n2.handler = async () => {
      throw new BadRequestError('term', 'must be an integer');
    };
    const bad = await n1.server.transport.call('n2', 'append', {});
    expect(bad).toEqual({ ok: false, error: { kind: 'remote_error', status: 400, message: 'n2 answered 400: term: must be an integer' } });
    n2.handler = async () => {
      throw new Error('boom');
    };
    const crash = await n1.server.transport.call('n2', 'append', {});
    expect(crash.ok === false && crash.error.kind === 'remote_error' && crash.error.status).toBe(500);
    n2.handler = async () => 'fine';
    expect(await n1.server.transport.call('n2', 'append', {})).toEqual({ ok: true, value: 'fine' });
  });

  it('answers 413 for a peer body over the bound', async () => {
    const c = await startCluster(['n1', 'n2'], { maxPeerBodyBytes: 1024 });
    cleanup = c.close;
    const n2 = c.nodes['n2'] as TestNode;
    const res = await peerPost(n2, { body: pack('x'.repeat(2000)) });
    expect(res.status).toBe(413);
    expect(n2.received).toHaveLength(0);
  });

  it('lets a node call itself through loopback', async () => {
    const { n1 } = await two();
    expect(await n1.server.transport.call('n1', 'self', 5)).toEqual({ ok: true, value: { echo: 5 } });
  });

  it('in insecure mode accepts unsigned messages but still checks sender and destination', async () => {
    const c = await startCluster(['n1', 'n2'], { secret: null });
    cleanup = c.close;
    const n2 = c.nodes['n2'] as TestNode;
    expect((await peerPost(n2, { sig: null })).status).toBe(200);
    expect((await peerPost(n2, { sig: null, to: 'n1' })).status).toBe(401);
    expect((await fetch(`${n2.url}/admin/faults`)).status).toBe(200);
  });
});

describe('client plumbing', () => {
  it('merges query and JSON body, the body winning', async () => {
    const { n1 } = await two();
    const res = await fetch(`${n1.url}/echo?key=a&delta=1`, { method: 'POST', body: JSON.stringify({ delta: 5 }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ key: 'a', delta: 5 });
  });

  it.each([
    ['malformed JSON', '{"delta":', /malformed JSON/],
    ['a JSON array', '[1]', /must be a JSON object/],
    ['JSON null', 'null', /must be a JSON object/],
  ])('answers 400 bad_request for %s', async (_name, body, message) => {
    const { n1 } = await two();
    const res = await fetch(`${n1.url}/echo`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    const b = (await res.json()) as { error: { code: string; message: string } };
    expect(b.error.code).toBe('bad_request');
    expect(b.error.message).toMatch(message);
  });

  it('answers 413 too_large for a client body over 64 KiB, with or without content-length', async () => {
    const { n1 } = await two();
    const big = JSON.stringify({ pad: 'x'.repeat(100 * 1024) });
    const res = await fetch(`${n1.url}/echo`, { method: 'POST', body: big });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('too_large');
    const stream = new Blob([big]).stream(); // chunked: no content-length
    const res2 = await fetch(`${n1.url}/echo`, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(res2.status).toBe(413);
  });

  it('answers 404 JSON for an unknown route and counts it as unmatched', async () => {
    const { n1 } = await two();
    const res = await fetch(`${n1.url}/nowhere`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const text = await (await fetch(`${n1.url}/metrics`)).text();
    expect(text).toMatch(/http_requests_total\{method="GET",route="unmatched",status="404"\} 1/);
  });
});

describe('admin faults', () => {
  const auth = { authorization: `Bearer ${TEST_SECRET}` };

  it('needs the bearer secret', async () => {
    const { n1 } = await two();
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TEST_SECRET }] as Record<string, string>[]) {
      const res = await fetch(`${n1.url}/admin/faults`, { method: 'POST', body: JSON.stringify({ partition: ['n2'] }), headers });
      expect(res.status).toBe(401);
    }
    expect(n1.server.faults.get()).toBeNull();
  });

  it('sets, shows, replaces and heals', async () => {
    const { n1 } = await two();
    const set = await fetch(`${n1.url}/admin/faults`, { method: 'POST', headers: auth, body: JSON.stringify({ partition: ['n2'], mode: 'reject' }) });
    expect(set.status).toBe(200);
    const shown = (await (await fetch(`${n1.url}/admin/faults`, { headers: auth })).json()) as { faults: { partition: string[]; mode: string } };
    expect(shown.faults.partition).toEqual(['n2']);
    expect(shown.faults.mode).toBe('reject');
    await fetch(`${n1.url}/admin/faults`, { method: 'POST', headers: auth, body: JSON.stringify({ delayMs: 5 }) });
    expect(n1.server.faults.get()?.partition).toEqual([]); // replaced, not merged
    const healed = await fetch(`${n1.url}/admin/faults`, { method: 'DELETE', headers: auth });
    expect(healed.status).toBe(200);
    expect(n1.server.faults.get()).toBeNull();
  });

  it.each([
    ['{"dropRate": 7}', 'dropRate'],
    ['{"delayMs": -1}', 'delayMs'],
    ['{"partition": ["n9"]}', 'partition'],
    ['{"partition": ["n1"]}', 'partition'],
    ['{"mode": "explode"}', 'mode'],
    ['{"surprise": true}', 'surprise'],
    ['{"delayMs": 1', 'body'],
  ])('refuses %s with 400 naming %s and changes nothing', async (body, field) => {
    const { n1 } = await two();
    n1.server.faults.set({ partition: ['n2'], direction: 'out', mode: 'reject', delayMs: 0, jitterMs: 0, dropRate: 0, duplicateRate: 0 });
    const before = n1.server.faults.get();
    const res = await fetch(`${n1.url}/admin/faults`, { method: 'POST', headers: auth, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message.startsWith(`${field}:`)).toBe(true);
    expect(n1.server.faults.get()).toBe(before);
  });
});

describe('lifecycle', () => {
  it('close() frees the port even with a peer stream open', async () => {
    const { n1, n2 } = await two();
    expect((await n1.server.transport.call('n2', 'x', 1)).ok).toBe(true); // leaves n1's stream to n2 open
    const port = n2.port;
    const t = performance.now();
    await n2.server.close();
    expect(performance.now() - t).toBeLessThan(1500);
    await new Promise<void>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
    });
  });
});
