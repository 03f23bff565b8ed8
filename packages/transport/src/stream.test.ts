import { request } from 'node:http';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { pack, unpack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { PEER_HEADER_FROM, PEER_HEADER_SIG, PEER_HEADER_TO, PEER_HEADER_TS, PeerSigner } from './auth.js';
import type { FaultSpec } from './faults.js';
import {
  FrameReader,
  FrameTooLargeError,
  PEER_HEADER_STREAM,
  STREAM_PATH,
  STREAM_PROTOCOL,
  STREAM_TYPE,
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
} from './frames.js';
import { MAX_FRAMES_HANDLING } from './stream-server.js';
import { eventually, startCluster, TEST_SECRET, type TestNode } from './test-cluster.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

const NO_FAULT: FaultSpec = { partition: [], direction: 'both', mode: 'blackhole', delayMs: 0, jitterMs: 0, dropRate: 0, duplicateRate: 0 };

async function two(extra: Parameters<typeof startCluster>[1] = {}): Promise<{ n1: TestNode; n2: TestNode }> {
  const c = await startCluster(['n1', 'n2'], extra);
  cleanup = c.close;
  return { n1: c.nodes['n1'] as TestNode, n2: c.nodes['n2'] as TestNode };
}

async function upgrades(node: TestNode, status: number): Promise<number> {
  const text = await node.registry.metrics();
  const m = new RegExp(`http_requests_total\\{method="GET",route="/peer-stream",status="${status}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

const signer = new PeerSigner(TEST_SECRET);
const STREAM_ID = '0123456789abcdef0123456789abcdef';

/** A hand-made upgrade from n1 to `node`; resolves with the raw socket, or the refusal. */
function openRaw(node: TestNode, o: { sig?: string | null } = {}): Promise<{ socket: Socket } | { status: number; body: string }> {
  const ts = String(Date.now());
  const headers: Record<string, string> = {
    connection: 'Upgrade',
    upgrade: STREAM_PROTOCOL,
    [PEER_HEADER_FROM]: 'n1',
    [PEER_HEADER_TO]: node.id,
    [PEER_HEADER_TS]: ts,
    [PEER_HEADER_STREAM]: STREAM_ID,
  };
  const sig = o.sig === undefined ? signer.sign('n1', node.id, STREAM_TYPE, ts, Buffer.from(STREAM_ID, 'hex')) : o.sig;
  if (sig !== null) headers[PEER_HEADER_SIG] = sig;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: node.port, path: STREAM_PATH, headers, agent: false });
    req.on('upgrade', (_res, socket: Socket) => resolve({ socket }));
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The reply frames that come back on `socket` until it closes. */
function repliesUntilClose(socket: Socket): Promise<{ seq: number; status: number; body: Buffer }[]> {
  const out: { seq: number; status: number; body: Buffer }[] = [];
  const reader = new FrameReader(1 << 20);
  socket.on('data', (chunk: Buffer) => reader.push(chunk, (f) => out.push(decodeReply(f) as { seq: number; status: number; body: Buffer })));
  return new Promise((resolve) => socket.on('close', () => resolve(out)));
}

function frame(seq: number, type: string, body: unknown, secret = TEST_SECRET): Buffer {
  const bytes = pack(body);
  return encodeRequest(seq, type, new PeerSigner(secret).mac('n1', 'n2', type, `${STREAM_ID}.${seq}`, bytes), bytes);
}

describe('frames', () => {
  it('a request and a reply decode to what was encoded', () => {
    const mac = Buffer.alloc(32, 7);
    const req = decodeRequest(encodeRequest(9, 'raft', mac, pack({ a: 1 })).subarray(4));
    expect(req && { ...req, mac: [...req.mac], body: unpack(req.body) }).toEqual({ seq: 9, type: 'raft', mac: [...mac], body: { a: 1 } });
    const rep = decodeReply(encodeReply(9, 413, Buffer.from('no')).subarray(4));
    expect(rep && { ...rep, body: rep.body.toString() }).toEqual({ seq: 9, status: 413, body: 'no' });
  });

  it('the reader finds the same frames however the bytes are cut into chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), fc.array(fc.nat(400), { maxLength: 30 }), (bodies, cuts) => {
        const stream = Buffer.concat(bodies.map((b, i) => encodeReply(i, 200, b)));
        const reader = new FrameReader(1000);
        const got: Buffer[] = [];
        let at = 0;
        for (const cut of [...cuts, stream.length]) {
          const end = Math.min(stream.length, at + cut);
          reader.push(stream.subarray(at, end), (f) => got.push(Buffer.from(f)));
          at = end;
        }
        expect(got.map((f) => decodeReply(f)?.body.toString('hex'))).toEqual(bodies.map((b) => Buffer.from(b).toString('hex')));
      }),
    );
  });

  it('the reader refuses a frame over its bound, even before the frame is whole', () => {
    const reader = new FrameReader(100);
    expect(() => reader.push(encodeReply(1, 200, Buffer.alloc(200)).subarray(0, 10), () => undefined)).toThrow(FrameTooLargeError);
  });
});

describe('peer stream', () => {
  it('carries every message to a peer on one connection, each reply to its own caller', async () => {
    const { n1, n2 } = await two();
    // Handlers finish in a random order, so replies come back out of order.
    n2.handler = async (_from, _type, body) => {
      await new Promise((r) => setTimeout(r, Math.random() * 20));
      return { echo: body };
    };
    const replies = await Promise.all(Array.from({ length: 200 }, (_, i) => n1.server.transport.call('n2', 'x', i)));
    expect(replies).toEqual(Array.from({ length: 200 }, (_, i) => ({ ok: true, value: { echo: i } })));
    expect(await upgrades(n2, 101)).toBe(1);
  });

  it('refuses an upgrade without a valid signature, 401 before any frame', async () => {
    const { n2 } = await two();
    for (const sig of [null, 'f'.repeat(64)]) {
      const r = await openRaw(n2, { sig });
      expect(r).toMatchObject({ status: 401 });
      expect('body' in r && JSON.parse(r.body)).toMatchObject({ error: { code: 'unauthenticated' } });
    }
    expect(await upgrades(n2, 401)).toBe(2);
  });

  it('answers a forged frame 401 and ends the stream; the topology never sees it', async () => {
    const { n2 } = await two();
    const r = await openRaw(n2);
    expect('socket' in r).toBe(true);
    const socket = (r as { socket: Socket }).socket;
    const replies = repliesUntilClose(socket);
    socket.write(Buffer.concat([frame(1, 'x', 'good'), frame(2, 'x', 'forged', 'another-secret'), frame(3, 'x', 'after')]));
    const got = await replies;
    expect(got.map((f) => [f.seq, f.status]).sort()).toEqual([[1, 200], [2, 401]]); // replies come in the order handlers finish
    expect(n2.received.map((m) => m.body)).toEqual(['good']);
  });

  it('ends a stream that replays a sequence number', async () => {
    const { n2 } = await two();
    const socket = ((await openRaw(n2)) as { socket: Socket }).socket;
    const replies = repliesUntilClose(socket);
    socket.write(Buffer.concat([frame(1, 'x', 'a'), frame(1, 'x', 'a again')]));
    expect((await replies).map((f) => f.seq)).toEqual([1]);
    expect(n2.received.map((m) => m.body)).toEqual(['a']);
  });

  it('handles at most MAX_FRAMES_HANDLING frames of a stream at once; the rest wait, then all are answered', async () => {
    const { n2 } = await two();
    let active = 0;
    let maxActive = 0;
    const releases: (() => void)[] = [];
    n2.handler = () => {
      maxActive = Math.max(maxActive, ++active);
      return new Promise((resolve) => releases.push(() => resolve((active--, 'done'))));
    };
    const socket = ((await openRaw(n2)) as { socket: Socket }).socket;
    const replies: number[] = [];
    const reader = new FrameReader(1 << 20);
    socket.on('data', (chunk: Buffer) => reader.push(chunk, (f) => replies.push(decodeReply(f)?.status ?? 0)));
    const total = MAX_FRAMES_HANDLING + 100;
    socket.write(Buffer.concat(Array.from({ length: total }, (_, i) => frame(i + 1, 'x', i))));
    await eventually(() => n2.received.length >= MAX_FRAMES_HANDLING, 5000, 'the first frames handled');
    expect(n2.received).toHaveLength(MAX_FRAMES_HANDLING);
    for (let released = 0; released < total; released++) {
      await eventually(() => releases.length > 0, 5000, 'a frame in its handler');
      (releases.shift() as () => void)();
    }
    await eventually(() => replies.length === total, 5000, 'every reply');
    expect(maxActive).toBe(MAX_FRAMES_HANDLING);
    expect(new Set(replies)).toEqual(new Set([200]));
    socket.destroy();
  });

  it('refuses to send a message over the bound: 413, nothing sent', async () => {
    const { n1, n2 } = await two({ maxPeerBodyBytes: 1024 });
    const r = await n1.server.transport.call('n2', 'x', 'y'.repeat(2000));
    expect(r.ok === false && r.error).toMatchObject({ kind: 'remote_error', status: 413 });
    expect(n2.received).toHaveLength(0);
  });

  it('replaces a stream on which nothing comes back: the first call after a heal goes through', async () => {
    const { n1, n2 } = await two();
    expect((await n1.server.transport.call('n2', 'x', 1)).ok).toBe(true);
    n2.server.faults.set({ ...NO_FAULT, partition: ['n1'], direction: 'in' });
    const lost = await n1.server.transport.call('n2', 'x', 2, { timeoutMs: 100 });
    expect(lost.ok === false && lost.error.kind).toBe('timeout');
    n2.server.faults.clear();
    const t = performance.now();
    expect(await n1.server.transport.call('n2', 'x', 3, { timeoutMs: 1000 })).toEqual({ ok: true, value: { echo: 3 } });
    expect(performance.now() - t).toBeLessThan(500);
    expect(await upgrades(n2, 101)).toBe(2);
    expect(n2.received.map((m) => m.body)).toEqual([1, 3]);
  });

  it('a closing server ends its streams: a call in flight fails at once, not at its timeout', async () => {
    const { n1, n2 } = await two();
    let arrived!: () => void;
    const inHandler = new Promise<void>((r) => (arrived = r));
    n2.handler = () => {
      arrived();
      return new Promise(() => undefined); // never answers
    };
    const t = performance.now();
    const call = n1.server.transport.call('n2', 'x', 1, { timeoutMs: 10_000 });
    await inHandler;
    await n2.server.close();
    const r = await call;
    expect(r.ok === false && r.error.kind).toBe('unreachable');
    expect(performance.now() - t).toBeLessThan(3000);
  });
});
