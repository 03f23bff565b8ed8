/**
 * The driver in one process: three CrdtNodes on a fake transport that can cut links.
 * (Real processes: e2e.test.ts.)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadRequestError, type ClientReply, type NodeId, type TopologyContext } from '@playground/core';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { crdtTopology } from './index.js';
import type { CrdtNode } from './driver.js';
import { FakeNet } from './fake-net.js';

const ids = ['n1', 'n2', 'n3'];
const quiet = { info() {}, warn() {}, error() {} };

let dirs: string[] = [];
let started: CrdtNode[] = [];

afterEach(async () => {
  await Promise.all(started.map((n) => n.stop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  started = [];
  dirs = [];
});

async function startNode(net: FakeNet, id: NodeId, dir: string, knobs: Record<string, number | string> = {}): Promise<CrdtNode> {
  const context: TopologyContext = {
    id,
    peers: ids.map((p, i) => ({ id: p, host: '127.0.0.1', port: 9000 + i })),
    dataDir: dir,
    knobs: { 'gossip-ms': 20, ...knobs },
    transport: net.transport(id),
    metrics: new Registry(),
    log: quiet,
  };
  const node = crdtTopology.create(context) as CrdtNode;
  await node.start();
  net.nodes.set(id, node);
  started.push(node);
  return node;
}

async function cluster(knobs: Record<string, number | string> = {}): Promise<{ net: FakeNet; nodes: CrdtNode[]; dirOf: Map<NodeId, string> }> {
  const net = new FakeNet(ids);
  const dirOf = new Map<NodeId, string>();
  const nodes: CrdtNode[] = [];
  for (const id of ids) {
    const dir = await mkdtemp(join(tmpdir(), `crdt-driver-${id}-`));
    dirs.push(dir);
    dirOf.set(id, dir);
    nodes.push(await startNode(net, id, dir, knobs));
  }
  return { net, nodes, dirOf };
}

async function waitFor(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 3000): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Date.now() - start;
}

const body = (r: ClientReply): Record<string, unknown> => {
  if (r.status !== 200 || !('body' in r)) throw new Error(`expected 200, got ${JSON.stringify(r)}`);
  return r.body;
};
const incr = (n: CrdtNode, delta = 1, idem?: string, params: Record<string, unknown> = {}) => n.incr({ key: 'c', delta, idempotencyKey: idem, params });
const count = async (n: CrdtNode, params: Record<string, unknown> = {}) => body(await n.count({ key: 'c', params })).value as number;
const allRead = async (nodes: CrdtNode[], v: number) => (await Promise.all(nodes.map((n) => count(n)))).every((x) => x === v);

describe('crdt driver (in-process, fake transport)', () => {
  it('acknowledges locally, spreads by push, and folds every dot once all have it', async () => {
    const { nodes } = await cluster();
    const [n1, n2] = nodes as [CrdtNode, CrdtNode, CrdtNode];
    expect(body(await incr(n1, 5)).value).toBe(5);
    expect(body(await incr(n2, 2, 'k1'))).toMatchObject({ ok: true, delta: 2, duplicate: false, node: 'n2' });
    await waitFor(() => allRead(nodes, 7), 'all nodes read 7');
    await waitFor(() => nodes.every((n) => n.status().liveDots === 0), 'dots folded');
    expect(body(await incr(n1, 2, 'k1'))).toMatchObject({ duplicate: true, valueNow: 7 });
  });

  it('answers a retry through another node as a duplicate when the first node is reachable', async () => {
    const { nodes } = await cluster({ 'gossip-ms': 60_000 });
    const [n1, n2] = nodes as [CrdtNode, CrdtNode, CrdtNode];
    expect(body(await incr(n1, 3, 'again'))).toMatchObject({ duplicate: false, value: 3 });
    expect(body(await incr(n2, 3, 'again'))).toMatchObject({ duplicate: true, node: 'n2', valueNow: 3 });
    await waitFor(() => allRead(nodes, 3), 'all read 3');
  });

  it('counts a retry through another node once, across a partition', async () => {
    const { net, nodes } = await cluster();
    const [n1, , n3] = nodes as [CrdtNode, CrdtNode, CrdtNode];
    net.partition(['n3']);
    expect(body(await incr(n1, 4, 'retry'))).toMatchObject({ duplicate: false }); // client timed out here...
    expect(body(await incr(n3, 4, 'retry'))).toMatchObject({ duplicate: false }); // ...and retried on the other side
    expect(await count(n1)).toBe(4);
    expect(await count(n3)).toBe(4);
    await incr(n3, 1);
    net.heal();
    await waitFor(() => allRead(nodes, 5), 'the retry counted once everywhere');
    await waitFor(() => nodes.every((n) => n.status().liveDots === 0), 'dots folded');
    expect(await allRead(nodes, 5)).toBe(true);
  });

  it('pushes a w=1 increment within --push-ms, several in one message per peer, and a w=majority one at once', async () => {
    // Gossip never runs here: what reaches a peer was pushed.
    const { net, nodes } = await cluster({ 'gossip-ms': 60_000, 'idem-check-ms': 0, 'push-ms': 60_000 });
    const [n1, n2, n3] = nodes as [CrdtNode, CrdtNode, CrdtNode];
    const calls = net.calls;
    for (let i = 0; i < 5; i++) expect(body(await incr(n1, 1)).value).toBe(i + 1); // five group commits
    expect(net.calls).toBe(calls); // waiting for --push-ms
    expect(await count(n2)).toBe(0);
    expect(body(await incr(n1, 1, undefined, { w: 'majority' }))).toMatchObject({ ok: true, value: 6 });
    // One message per peer carried all six, and the majority answered before the w=majority reply.
    expect(net.calls - calls).toBe(2);
    expect(Math.max(await count(n2), await count(n3))).toBe(6);
    await waitFor(() => allRead(nodes, 6), 'both peers hold all six');

    const { nodes: soon } = await cluster({ 'gossip-ms': 60_000, 'idem-check-ms': 0, 'push-ms': 20 });
    await incr(soon[0] as CrdtNode, 2);
    await waitFor(() => allRead(soon, 2), 'pushed when --push-ms ran out');
  });

  it('w=all is refused with 503 (nothing applied) once a replica is known unreachable; w=majority still works', async () => {
    const { net, nodes } = await cluster();
    const [n1] = nodes as [CrdtNode, CrdtNode, CrdtNode];
    net.partition(['n3']);
    const first = await incr(n1, 1, 'w1', { w: 'all' }); // n3 not yet known to be gone: unknown outcome
    expect([503, 504]).toContain(first.status);
    await waitFor(async () => (await incr(n1, 1, undefined, { w: 'all' })).status === 503, 'a quick 503');
    const before = await count(n1);
    const started_ = Date.now();
    expect((await incr(n1, 1, undefined, { w: 'all' })).status).toBe(503);
    expect(Date.now() - started_).toBeLessThan(100);
    expect(await count(n1)).toBe(before);
    expect(body(await incr(n1, 1, undefined, { w: 'majority' }))).toMatchObject({ ok: true, w: 'majority' });
    expect((await incr(n1, 1, undefined, { w: 'three' })).status).toBe(400);
    expect((await n1.count({ key: 'c', params: { r: 'all' } })).status).toBe(503);
  });

  it('r=majority merges from peers before answering', async () => {
    const { net, nodes } = await cluster({ 'gossip-ms': 60_000 });
    const [n1, n2, n3] = nodes as [CrdtNode, CrdtNode, CrdtNode];
    net.cut.add('n2>n3');
    await incr(n2, 9);
    await waitFor(async () => (await count(n1)) === 9, 'n1 has it');
    expect(await count(n3)).toBe(0); // stale: this node's merged state
    expect(await count(n3, { r: 'majority' })).toBe(9);
  });

  it('refuses bad peer messages with a clear error and merges nothing', async () => {
    const { nodes } = await cluster({ counter: 'gcounter' });
    const [n1] = nodes as [CrdtNode, CrdtNode, CrdtNode];
    const base = { v: 1, mode: 'g', full: false, seen: [], state: { plain: [], dots: [], compacted: [] } };
    const bad = [
      { ...base, state: { ...base.state, dots: [['n2', 1, 'k', 'c', -3, []]] } }, // negative in G mode
      { ...base, state: { ...base.state, plain: 'nope' } }, // malformed
      { ...base, state: { ...base.state, plain: [['n7', 'c', 100, 0]] } }, // unknown node id
      { ...base, state: { ...base.state, plain: [['n1', 'c', 100, 0]] } }, // claims n1 counted 100
    ];
    for (const b of bad) await expect(n1.handlePeer('n2', 'crdt.gossip', b)).rejects.toBeInstanceOf(BadRequestError);
    await expect(n1.handlePeer('n2', 'crdt.nope', base)).rejects.toBeInstanceOf(BadRequestError);
    expect(await count(n1)).toBe(0);
    expect((await incr(n1, -1)).status).toBe(400);
  });

  it('recovers its state after a restart and catches up on what it missed', async () => {
    const { net, nodes, dirOf } = await cluster();
    const [n1, n2, n3] = nodes as [CrdtNode, CrdtNode, CrdtNode];
    await incr(n3, 3, 'a');
    await waitFor(() => allRead(nodes, 3), 'all read 3');
    await n3.stop();
    net.nodes.delete('n3');
    await incr(n1, 1, 'b');
    await incr(n2, 1);
    const again = await startNode(net, 'n3', dirOf.get('n3') as string);
    expect(await count(again)).toBe(3);
    await waitFor(() => allRead([n1, n2, again], 5), 'n3 caught up');
    expect(body(await incr(again, 3, 'a')).duplicate).toBe(true);
  });
});
