/**
 * Real node processes (npm run node -- --topology crdt), real HTTP, real faults.
 */
import { TestCluster, waitFor } from '@playground/node/testing';
import { createTransportMetrics, FaultInjector, PeerClient, PeerSigner } from '@playground/transport';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';

let cluster: TestCluster | null = null;

afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

async function values(c: TestCluster, ids: readonly string[]): Promise<(number | null)[]> {
  return Promise.all(
    ids.map(async (id) => {
      const res = await c.count(id, {}, 1000);
      return res.status === 200 ? (res.body.value as number) : null;
    }),
  );
}

describe('crdt topology, 3 real processes', () => {
  it('stays available on both sides of a partition, reads differ, and converges within 1 s of healing', async () => {
    cluster = await TestCluster.start({ topology: 'crdt' });
    const c = cluster;
    await c.partition(['n3']);
    const acked = await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => c.incr(i % 2 ? 'n1' : 'n2', { idempotencyKey: `major-${i}` })),
      ...Array.from({ length: 7 }, (_, i) => c.incr('n3', { delta: 2, idempotencyKey: `minor-${i}` })),
    ]);
    expect(acked.map((r) => r.status)).toEqual(acked.map(() => 200));
    // The majority side converges among itself; n3 sees only its own.
    await waitFor(async () => (await values(c, ['n1', 'n2'])).every((v) => v === 20), { what: 'n1 and n2 read 20' });
    expect((await values(c, ['n3']))[0]).toBe(14);
    expect((await values(c, ['n1']))[0]).not.toBe((await values(c, ['n3']))[0]);

    const healStartedAt = Date.now();
    await c.heal(); // one DELETE /admin/faults per node, in turn
    const healedAt = Date.now();
    await waitFor(async () => (await values(c, ['n1', 'n2', 'n3'])).every((v) => v === 34), { what: 'every node reads 34', timeoutMs: 5000, intervalMs: 5 });
    const convergenceMs = Date.now() - healedAt;
    console.log(`crdt e2e: every node exact ${convergenceMs} ms after the heal (${healedAt - healStartedAt} ms to heal 3 nodes)`);
    expect(convergenceMs).toBeLessThan(1000);

    // A member (signed with the cluster secret) sending bad state: 400 naming the field, nothing merged.
    const asN2 = new PeerClient({
      self: 'n2',
      peers: [{ id: 'n1', host: '127.0.0.1', port: c.node('n1').port }],
      signer: new PeerSigner(c.secret),
      faults: new FaultInjector(),
      metrics: createTransportMetrics(new Registry()),
      rpcTimeoutMs: 2000,
      maxInFlightPerPeer: 4,
      maxBodyBytes: 1 << 20,
    });
    const gossip = (state: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      asN2.call('n1', 'crdt.gossip', { v: 1, mode: 'pn', full: false, seen: [], state: { plain: [], dots: [], compacted: [], ...state }, ...extra });
    const refused = [
      await gossip({ plain: [['n9', 'counter', 1000, 0]] }), // a node id that is not a member
      await gossip({ dots: 'lots' }), // malformed
      await gossip({ dots: [['n2', 1, 'k', 'counter', 1000, []]] }, { mode: 'g' }), // a G-counter peer
    ];
    asN2.close();
    for (const r of refused) expect(r.ok ? r : r.error).toMatchObject({ kind: 'remote_error', status: 400 });
    expect(refused.map((r) => (r.ok ? '' : r.error.message)).join(' | ')).toMatch(/state\.plain\[0\]\[0\].*not a member.*state\.dots.*mode/s);
    expect(await values(c, ['n1'])).toEqual([34]);

    const bad = await c.incr('n1', { params: { w: 'most' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^w:/);
    const status = await c.status('n1');
    expect(status).toMatchObject({ topology: 'crdt', counter: 'pn', replication: 'delta' });
    expect(Object.keys(status?.replicationLag as object).sort()).toEqual(['n2', 'n3']);
    const metrics = await c.request('n1', 'GET', '/metrics');
    expect(String(metrics.body)).toMatch(/crdt_messages_per_increment/);
  });

  it('counts 1000 concurrent increments exactly, with retries through random nodes, under kill -9 and restart of one node', async () => {
    cluster = await TestCluster.start({ topology: 'crdt' });
    const c = cluster;
    const total = 1000;
    let next = 0;
    let done = 0;
    let retries = 0;
    let duplicates = 0;
    const pick = (): string => {
      const live = c.liveNodes.map((n) => n.id);
      return live[Math.floor(Math.random() * live.length)] ?? 'n1';
    };
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        for (let attempt = 0; ; attempt++) {
          if (attempt > 50) throw new Error(`increment ${i} never acknowledged`);
          // Every 10th increment also goes, at once, through a second node: a client whose first
          // try timed out although it was applied, retrying elsewhere (concurrent dots, same key).
          const ghost = attempt === 0 && i % 10 === 0 ? c.incr(pick(), { idempotencyKey: `op-${i}`, timeoutMs: 1500 }) : null;
          const res = await c.incr(pick(), { idempotencyKey: `op-${i}`, timeoutMs: 1500 });
          if ((await ghost)?.body?.duplicate) duplicates++;
          if (res.status === 200) {
            if (res.body.duplicate) duplicates++;
            break;
          }
          // Unknown outcome (timeout, connection reset by the kill) or 503: retry, same key, another node.
          retries++;
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
        }
        done++;
      }
    };
    const chaos = (async () => {
      await waitFor(() => done >= 300, { what: '300 increments done', timeoutMs: 30_000, intervalMs: 5 });
      await c.kill('n2');
      await waitFor(() => done >= 500, { what: '500 increments done', timeoutMs: 30_000, intervalMs: 5 });
      await c.startNode('n2');
    })();
    await Promise.all([...Array.from({ length: 32 }, worker), chaos]);
    let last: (number | null)[] = [];
    await waitFor(async () => (last = await values(c, ['n1', 'n2', 'n3'])).every((v) => v === total), { what: `every node reads ${total}`, timeoutMs: 10_000 }).catch(
      async (e: Error) => {
        const statuses = await Promise.all(['n1', 'n2', 'n3'].map((id) => c.status(id)));
        throw new Error(`${e.message}: last read ${JSON.stringify(last)}; status ${JSON.stringify(statuses)}`);
      },
    );
    console.log(`crdt e2e: ${total} increments, ${retries} retries, ${duplicates} answered duplicate`);
    expect(await values(c, ['n1', 'n2', 'n3'])).toEqual([total, total, total]);
    // Folding empties the dot tables once every node has everything.
    await waitFor(async () => {
      const s = await Promise.all(['n1', 'n2', 'n3'].map((id) => c.status(id)));
      return s.every((x) => x?.liveDots === 0);
    }, { what: 'dots folded', timeoutMs: 5000 });
  });
});
