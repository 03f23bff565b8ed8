import { afterEach, describe, expect, it } from 'vitest';
import { BadRequestError } from '@playground/core';
import type { ClientReply } from '@playground/core';
import { DOT_PREFIX } from './core/messages.js';
import type { MergeObject } from './core/versioned.js';
import { FakeCluster, until } from './testing.js';

const FAST = { 'rpc-timeout-ms': 1000, 'probe-ms': 20, 'handoff-ms': 20, 'anti-entropy-ms': 0 };
let cluster: FakeCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function body(r: ClientReply): any {
  if (!('body' in r)) throw new Error(`expected 200, got ${r.status} ${r.error.message}`);
  return r.body;
}

function incr(c: FakeCluster, id: string, params: Record<string, unknown> = {}, idempotencyKey?: string, delta = 1, key = 'counter'): Promise<ClientReply> {
  return c.node(id).incr({ key, delta, idempotencyKey, params });
}

function count(c: FakeCluster, id: string, params: Record<string, unknown> = {}, key = 'counter'): Promise<ClientReply> {
  return c.node(id).count({ key, params });
}

describe('leaderless driver, merge mode', () => {
  it('W=2/R=2: every read through any node sees every acknowledged increment', async () => {
    cluster = await FakeCluster.start(3, FAST);
    let acked = 0;
    for (let i = 0; i < 30; i++) {
      const res = await incr(cluster, `n${(i % 3) + 1}`, {}, i % 2 === 0 ? `key-${i}` : undefined);
      expect(body(res)).toMatchObject({ ok: true, acks: expect.any(Number), w: 2, quorumOverlap: true, duplicate: false });
      acked++;
      for (const id of ['n1', 'n2', 'n3']) expect(body(await count(cluster, id)).value).toBe(acked);
    }
  });

  it('counts a retry with the same Idempotency-Key once, even through another coordinator', async () => {
    cluster = await FakeCluster.start(3, FAST);
    expect(body(await incr(cluster, 'n1', {}, 'once', 5)).duplicate).toBe(false);
    const again = body(await incr(cluster, 'n2', {}, 'once', 5));
    expect(again).toMatchObject({ duplicate: true, value: 5 });
    expect(body(await count(cluster, 'n3', { r: 3 })).value).toBe(5);
  });

  it('concurrent increments through every coordinator end exact, with siblings merged', async () => {
    cluster = await FakeCluster.start(3, FAST);
    const c = cluster;
    const results = await Promise.all(Array.from({ length: 150 }, (_, i) => incr(c, `n${(i % 3) + 1}`, {}, i % 3 === 0 ? undefined : `c-${i}`, (i % 5) - 1)));
    const expected = Array.from({ length: 150 }, (_, i) => (i % 5) - 1).reduce((s, d) => s + d, 0);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(body(await count(cluster, 'n1', { r: 3 })).value).toBe(expected);
  });

  it('a replica the transport reports reachable again counts as up at once, without waiting for a probe', async () => {
    cluster = await FakeCluster.start(3, { ...FAST, 'probe-ms': 60_000 });
    cluster.partition(['n3'], 'reject');
    for (let i = 0; i < 2; i++) expect(body(await incr(cluster, 'n1', { w: 2 }, `d-${i}`))).toMatchObject({ ok: true });
    expect(cluster.node('n1').health.isUp('n3')).toBe(false);
    cluster.heal();
    // Down peers are not sent to, and the next probe is a minute away: still refused.
    expect((await incr(cluster, 'n1', { w: 3 }, 'before')).status).toBe(503);
    cluster.reportReachable('n1', 'n3');
    expect(body(await incr(cluster, 'n1', { w: 3 }, 'after'))).toMatchObject({ ok: true, acks: 3 });
  });

  it('a partitioned replica: W=2 still succeeds, W=3 answers 503 at once once it is known down, never hangs', async () => {
    cluster = await FakeCluster.start(3, FAST);
    cluster.partition(['n3'], 'reject');
    expect(body(await incr(cluster, 'n1', { w: 2 }, 'a'))).toMatchObject({ ok: true, acks: 2 });
    await until(() => cluster?.node('n1').health.isUp('n3') === false, 2000, 'n1 to notice n3 is down');
    const started = Date.now();
    const res = await incr(cluster, 'n1', { w: 3 }, 'b');
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(100);
    // A W=3 write sent before the detector noticed answers 504: two replicas do hold it.
    cluster.heal();
    await until(() => cluster?.node('n1').health.isUp('n3') === true, 2000, 'n1 to see n3 again');
    cluster.partition(['n3'], 'reject');
    const unknown = await incr(cluster, 'n1', { w: 3 }, 'c');
    expect(unknown.status).toBe(504);
    expect('extra' in unknown && unknown.extra?.acks).toBe(2);
  });

  it('sloppy quorum (4 nodes, N=3): W=3 succeeds via a hint, which is handed off after heal; all replicas converge', async () => {
    cluster = await FakeCluster.start(4, { ...FAST, 'sloppy-quorum': true });
    const c = cluster;
    const owners = c.node('n1').ring.preferenceList('counter', 3);
    const victim = owners.find((o) => o !== 'n1') as string;
    const standIn = c.ids.find((id) => !owners.includes(id)) as string;
    c.partition([victim], 'reject');
    await until(() => !c.node('n1').health.isUp(victim), 2000, 'n1 to notice the owner is down');
    const res = body(await incr(c, 'n1', { w: 3 }, 'hinted', 7));
    expect(res).toMatchObject({ ok: true, acks: 3, hinted: 1 });
    expect(c.node(standIn).status().hintsQueued).toEqual({ [victim]: 1 });
    expect(await c.metric(standIn, 'leaderless_hints_stored_total')).toBe(1);
    c.heal();
    await until(() => c.node(standIn).replica.hintCount === 0, 3000, 'the hint to be handed off');
    expect(await c.metric(standIn, 'leaderless_hints_delivered_total')).toBe(1);
    for (const owner of owners) expect(c.node(owner).replica.object('counter')?.value()).toBe(7);
  });

  it('without a sloppy quorum there is no stand-in: W=3 with an owner down is a 503', async () => {
    cluster = await FakeCluster.start(4, FAST);
    const c = cluster;
    const owners = c.node('n1').ring.preferenceList('counter', 3);
    c.partition([owners[1] as string], 'reject');
    await until(() => !c.node('n1').health.isUp(owners[1] as string), 2000, 'detector');
    expect((await incr(c, 'n1', { w: 3 }, 'x')).status).toBe(503);
  });

  it('read repair sends the merged version to a stale replica', async () => {
    cluster = await FakeCluster.start(3, FAST);
    const c = cluster;
    c.partition(['n3'], 'reject');
    await until(() => !c.node('n1').health.isUp('n3'), 2000, 'detector');
    body(await incr(c, 'n1', { w: 2 }, 'r1', 3));
    c.heal();
    await until(() => c.node('n1').health.isUp('n3'), 2000, 'detector');
    expect(c.node('n3').replica.object('counter')).toBeUndefined();
    expect(body(await count(c, 'n1', { r: 3 })).value).toBe(3);
    await until(() => c.node('n3').replica.object('counter')?.value() === 3, 2000, 'read repair');
    expect(await c.metric('n1', 'leaderless_read_repairs_total')).toBeGreaterThanOrEqual(1);
  });

  it('concurrent reads of a key that disagrees share one read repair (whole objects move once, not per read)', async () => {
    cluster = await FakeCluster.start(3, FAST);
    const c = cluster;
    c.partition(['n3'], 'reject');
    await until(() => !c.node('n1').health.isUp('n3'), 2000, 'detector');
    body(await incr(c, 'n1', { w: 2 }, 'r2', 4));
    c.heal();
    await until(() => c.node('n1').health.isUp('n3'), 2000, 'detector');
    const reads = await Promise.all(Array.from({ length: 8 }, () => count(c, 'n1', { r: 3 })));
    expect(reads.map((r) => body(r).value)).toEqual(Array.from({ length: 8 }, () => 4));
    await until(() => c.node('n3').replica.object('counter')?.value() === 4, 2000, 'read repair');
    expect(await c.metric('n1', 'leaderless_read_repairs_total')).toBe(1);
  });

  it('anti-entropy converges a replica missed by the write and by read repair', async () => {
    cluster = await FakeCluster.start(3, { ...FAST, 'read-repair': false, 'anti-entropy-ms': 30 });
    const c = cluster;
    c.partition(['n3'], 'reject');
    await until(() => !c.node('n1').health.isUp('n3') && !c.node('n2').health.isUp('n3'), 2000, 'detector');
    for (let i = 0; i < 20; i++) body(await incr(c, 'n1', { w: 2 }, undefined, 1, `k${i}`));
    c.heal();
    await until(() => [...Array(20).keys()].every((i) => c.node('n3').replica.object(`k${i}`)?.value() === 1), 5000, 'anti-entropy');
    expect(await c.metric('n3', 'leaderless_anti_entropy_repairs_total') + (await c.metric('n1', 'leaderless_anti_entropy_repairs_total')) + (await c.metric('n2', 'leaderless_anti_entropy_repairs_total'))).toBeGreaterThanOrEqual(20);
  });

  it('anti-entropy leaves a key out while its writes are in flight, and still converges a replica that missed writes while the key is written on', async () => {
    cluster = await FakeCluster.start(3, { ...FAST, 'read-repair': false, 'anti-entropy-ms': 20 });
    const c = cluster;
    const repairs = async (): Promise<number> => {
      let sum = 0;
      for (const id of ['n1', 'n2', 'n3']) sum += await c.metric(id, 'leaderless_anti_entropy_repairs_total');
      return sum;
    };
    /** Increments `key` through n1 at w, 4 at a time, each with its own Idempotency-Key, until `stop()` says so. */
    let sent = 0;
    const hammer = async (key: string, w: number, stop: () => boolean): Promise<void> => {
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (!stop()) await incr(c, 'n1', { w }, `h${sent++}`, 1, key);
        }),
      );
    };
    // Written at W=1 with the copies to n2 and n3 30 ms late, the replicas' digests differ at
    // every round, but only because writes are in flight: no round in the first 150 ms (at most
    // 8 per node, under the bound) exchanges the key. (Without the rule, most rounds would.)
    c.delays.set('n1>n2', 30);
    c.delays.set('n1>n3', 30);
    const started = performance.now();
    await hammer('hot', 1, () => performance.now() - started > 150);
    expect(await repairs()).toBe(0);
    c.delays.clear();
    // n3 misses writes behind a partition, and the key is written on through the heal: read
    // repair is off and no node can hold hints for n3 (no stand-in: 3 nodes, n = 3), so only
    // anti-entropy can bring n3 the dots it missed, and it does while the key is being written.
    c.partition(['n3'], 'reject');
    await until(() => !c.node('n1').health.isUp('n3') && !c.node('n2').health.isUp('n3'), 2000, 'detector');
    let done = false;
    const writes = hammer('hot', 2, () => done);
    const missed = ['m0', 'm1', 'm2', 'm3', 'm4'];
    try {
      for (const idem of missed) body(await incr(c, 'n1', { w: 2 }, idem, 1, 'hot'));
      c.heal();
      const n3Holds = (idem: string): boolean => (c.node('n3').replica.object('hot') as MergeObject | undefined)?.hasDot(`${DOT_PREFIX}${idem}`) === true;
      await until(() => missed.every(n3Holds), 3000, 'anti-entropy of a key being written');
      expect(await repairs()).toBeGreaterThan(0);
    } finally {
      done = true;
      await writes;
    }
  });

  it('W=1/R=1 can read stale under a delayed replica; R=2 cannot', async () => {
    cluster = await FakeCluster.start(3, { ...FAST, 'rpc-timeout-ms': 1000, 'probe-ms': 5000 });
    const c = cluster;
    // n1 coordinates and holds a copy; its copies to n2, n3 are slow. A W=1 ack comes from n1 alone.
    c.delays.set('n1>n2', 300);
    c.delays.set('n1>n3', 300);
    body(await incr(c, 'n1', { w: 1 }, 'slow'));
    const stale = body(await count(c, 'n2', { r: 1 }));
    expect(stale.value).toBe(0);
    expect(body(await count(c, 'n1', { r: 1 })).value).toBe(1);
  });

  it('survives a restart: versions, hints and this node\'s counter entries come back from disk', async () => {
    cluster = await FakeCluster.start(4, { ...FAST, 'sloppy-quorum': true });
    const c = cluster;
    for (let i = 0; i < 10; i++) body(await incr(c, 'n1', {}, i % 2 ? `r${i}` : undefined));
    const owners = c.node('n1').ring.preferenceList('counter', 3);
    const victim = owners.find((o) => o !== 'n1') as string;
    const standIn = c.ids.find((id) => !owners.includes(id)) as string;
    c.partition([victim], 'reject');
    await until(() => !c.node('n1').health.isUp(victim), 2000, 'detector');
    body(await incr(c, 'n1', { w: 3 }, 'h'));
    await c.stopNode(standIn);
    await c.stopNode('n1');
    await c.startNode('n1');
    await c.startNode(standIn);
    expect(c.node(standIn).replica.hintCount).toBe(1);
    expect(c.node('n1').replica.object('counter')?.value()).toBe(11);
    body(await incr(c, 'n1', {})); // keyless again: continues from its recovered entry, never below it
    expect(body(await count(c, 'n1', { r: 2 })).value).toBe(12);
  });

  it('refuses bad input with a 400 naming the field, and changes nothing', async () => {
    cluster = await FakeCluster.start(3, FAST);
    const c = cluster;
    for (const [params, field] of [[{ w: 0 }, 'w'], [{ w: 4 }, 'w'], [{ w: 'two' }, 'w'], [{ r: 1.5 }, 'r'], [{ context: '{"n1":-1}' }, 'context'], [{ context: '{"zz":1}' }, 'context'], [{ context: 'nope' }, 'context']] as const) {
      const res = await incr(c, 'n1', params);
      expect(res.status).toBe(400);
      expect('error' in res && res.error.message.startsWith(`${field}:`)).toBe(true);
    }
    expect((await count(c, 'n1', { r: 9 })).status).toBe(400);
    const bad = [
      ['ll.put', { key: 'counter', mode: 'merge', version: { c: { n1: 'x' }, s: { n1: [1, 0] } } }],
      ['ll.put', { key: 'counter', mode: 'merge', version: { c: { evil: 1 }, s: { n1: [1, 0] } } }],
      ['ll.put', { key: 'counter', mode: 'lww', version: { c: {}, v: 1, t: 1, w: 'n1' } }],
      ['ll.put', { key: 'counter', mode: 'merge', version: { c: {}, d: [['nokprefix', 1]] } }],
      ['ll.put', { key: 'counter', mode: 'merge', version: { c: {}, s: { n1: [-1, 0] } } }],
      ['ll.state', { key: 'bad key!', mode: 'merge', versions: [] }],
      ['ll.get', { key: 'counter', extra: 1 }],
      ['ll.nope', {}],
    ] as const;
    for (const [type, msg] of bad) await expect(c.node('n1').handlePeer('n2', type, msg)).rejects.toBeInstanceOf(BadRequestError);
    expect(c.node('n1').replica.keyCount).toBe(0);
    expect(body(await count(c, 'n1', { r: 3 })).value).toBe(0);
  });
});

describe('leaderless driver, lww mode', () => {
  it('loses concurrent increments, visibly', async () => {
    cluster = await FakeCluster.start(3, { ...FAST, resolve: 'lww' });
    const c = cluster;
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => incr(c, `n${(i % 3) + 1}`)));
    const acked = results.filter((r) => r.status === 200).length;
    const final = body(await count(c, 'n1', { r: 3 })).value as number;
    expect(final).toBeLessThan(acked);
    const overwritten = (await c.metric('n1', 'leaderless_lww_overwritten_total')) + (await c.metric('n2', 'leaderless_lww_overwritten_total')) + (await c.metric('n3', 'leaderless_lww_overwritten_total'));
    expect(overwritten).toBeGreaterThan(0);
  });

  it('a retry with the same Idempotency-Key is recognised from the keys that travel with the value', async () => {
    cluster = await FakeCluster.start(3, { ...FAST, resolve: 'lww', w: 3, r: 3 });
    const c = cluster;
    expect(body(await incr(c, 'n1', {}, 'k1', 4))).toMatchObject({ duplicate: false, value: 4 });
    expect(body(await incr(c, 'n2', {}, 'k1', 4))).toMatchObject({ duplicate: true, value: 4 });
    expect(body(await incr(c, 'n3', {}, 'k2', 1))).toMatchObject({ duplicate: false, value: 5 });
    expect(body(await count(c, 'n1')).value).toBe(5);
  });

  it('sequential increments are exact when clocks agree, and a skewed clock loses causally newer writes', async () => {
    cluster = await FakeCluster.start(3, { ...FAST, resolve: 'lww', w: 3, r: 3 });
    const c = cluster;
    for (let i = 0; i < 5; i++) body(await incr(c, `n${(i % 3) + 1}`));
    expect(body(await count(c, 'n2')).value).toBe(5);
    await c.stopNode('n3');
    await c.startNode('n3', { 'clock-skew-ms': -60_000 });
    const res = body(await incr(c, 'n3'));
    expect(res.value).toBe(6); // acknowledged...
    expect(body(await count(c, 'n1')).value).toBe(5); // ...and lost to an older clock
    expect(await c.metric('n1', 'leaderless_lww_overwritten_total', { reason: 'skew' })).toBe(1);
  });
});
