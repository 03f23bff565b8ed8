/**
 * Loopback figures for the peer RPC path: `npx tsx packages/transport/src/rpc-bench.ts`.
 * Prints sequential latency (p50/p99) and throughput at concurrency 32 for PeerClient.call (the
 * peer stream), and the same for one signed HTTP request per message over a keep-alive agent
 * (the one-message route, POST /peer/:type), to justify the stream.
 */
import { Agent, request } from 'node:http';
import { pack, unpack } from 'msgpackr';
import { Registry } from 'prom-client';
import { PEER_HEADER_FROM, PEER_HEADER_SIG, PEER_HEADER_TO, PEER_HEADER_TS, PeerSigner } from './auth.js';
import { createNodeServer, type NodeServer } from './server.js';

const SECRET = 'bench-secret';
const SEQUENTIAL = Number(process.env['SEQUENTIAL'] ?? 3000);
const CONCURRENT_TOTAL = Number(process.env['TOTAL'] ?? 20000);
const CONCURRENCY = 32;

async function main(): Promise<void> {
  const peers = [
    { id: 'a', host: '127.0.0.1', port: 0 },
    { id: 'b', host: '127.0.0.1', port: 0 },
  ];
  const b = createNodeServer({
    id: 'b', host: '127.0.0.1', port: 0, peers, secret: SECRET, registry: new Registry(),
    onPeerMessage: async (_from, _type, body) => ({ ok: true, echo: (body as { n: number }).n }),
    mountClientRoutes: () => undefined,
  });
  const bPort = await b.listen();
  const real = [{ id: 'a', host: '127.0.0.1', port: 1 }, { id: 'b', host: '127.0.0.1', port: bPort }];
  const a: NodeServer = createNodeServer({
    id: 'a', host: '127.0.0.1', port: 0, peers: real, secret: SECRET, registry: new Registry(),
    onPeerMessage: async () => null, mountClientRoutes: () => undefined,
  });
  const body = { term: 3, leaderId: 'a', prevLogIndex: 100, prevLogTerm: 3, entries: [{ term: 3, key: 'counter', delta: 1 }], leaderCommit: 99 };

  const viaClient = async (): Promise<void> => {
    const r = await a.transport.call('b', 'append', body);
    if (!r.ok) throw new Error(r.error.message);
  };
  const signer = new PeerSigner(SECRET);
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const viaRequest = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const bytes = pack(body);
      const ts = String(Date.now());
      const req = request({
        agent, host: '127.0.0.1', port: bPort, method: 'POST', path: '/peer/append', timeout: 1000,
        headers: {
          'content-type': 'application/msgpack', 'content-length': bytes.length,
          [PEER_HEADER_FROM]: 'a', [PEER_HEADER_TO]: 'b', [PEER_HEADER_TS]: ts,
          [PEER_HEADER_SIG]: signer.sign('a', 'b', 'append', ts, bytes),
        },
      });
      req.on('error', reject);
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          unpack(Buffer.concat(chunks));
          if (res.statusCode === 200) resolve();
          else reject(new Error(`status ${res.statusCode ?? 0}`));
        });
      });
      req.end(bytes);
    });

  for (const [name, fn] of [['PeerClient (peer stream)', viaClient], ['one HTTP request per message (keep-alive agent)', viaRequest], ['PeerClient again', viaClient]] as const) {
    for (let i = 0; i < 500; i++) await fn(); // warm-up
    const lat: number[] = [];
    for (let i = 0; i < SEQUENTIAL; i++) {
      const t = performance.now();
      await fn();
      lat.push(performance.now() - t);
    }
    lat.sort((x, y) => x - y);
    const p = (q: number): string => (lat[Math.floor(q * (lat.length - 1))] as number).toFixed(3);
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < CONCURRENT_TOTAL) await fn();
      }),
    );
    const rps = CONCURRENT_TOTAL / ((performance.now() - t0) / 1000);
    console.log(`${name}: sequential p50 ${p(0.5)} ms p99 ${p(0.99)} ms; concurrency ${CONCURRENCY}: ${rps.toFixed(0)} RPC/s`);
  }
  agent.destroy();
  await a.close();
  await b.close();
}

await main();
