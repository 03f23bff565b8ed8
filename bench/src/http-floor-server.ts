/**
 * The HTTP floor: a hono server (the stack every node serves its clients with) that answers
 * POST /incr at once, with a reply of the same shape as a node's, replicating and storing
 * nothing. What it costs per request is what any write on this stack costs before replication
 * starts; the Raft figures measure it on the same load, in turns with the clusters (http-floor.ts).
 *
 *   node --import @playground/node/register bench/src/http-floor-server.ts
 *
 * Listens on a free loopback port and prints `floor ready on http://127.0.0.1:PORT`.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

let value = 0;
const app = new Hono();
app.post('/incr', async (c) => {
  await c.req.json(); // a node parses its body too
  value++;
  return c.json({ ok: true, key: 'counter', delta: 1, node: 'floor', duplicate: false, value, index: value });
});

const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  process.stdout.write(`floor ready on http://127.0.0.1:${info.port} pid ${process.pid}\n`);
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
