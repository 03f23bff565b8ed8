/**
 * Real node processes, the contract's HTTP API, the shared transport's fault injection:
 * the quorum scenarios of Dynamo (SOSP 2007) on a three- and a four-node cluster.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { checkCounterBounds } from '@playground/checkers';
import { TestCluster, waitFor } from '@playground/node/testing';
import { Ring } from '../core/ring.js';
import { History } from './history.js';

const KNOBS = { 'rpc-timeout-ms': 2000, 'probe-ms': 50, 'handoff-ms': 50, 'anti-entropy-ms': 200 };

let cluster: TestCluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/** Nodes probe each other from start-up, before their peers listen: wait until all see all. */
async function startCluster(nodes: number, flags: Record<string, string | number | boolean>): Promise<TestCluster> {
  const c = await TestCluster.start({ topology: 'leaderless', nodes, flags });
  cluster = c;
  await waitFor(async () => {
    const seen = await Promise.all(c.nodes.map((n) => unreachableFrom(c, n.id)));
    return seen.every((down) => down.length === 0);
  }, { timeoutMs: 10_000, what: 'every node to reach every peer' });
  return c;
}

async function unreachableFrom(c: TestCluster, id: string): Promise<string[]> {
  return ((await c.status(id))?.unreachable as string[] | undefined) ?? [];
}

async function metric(c: TestCluster, id: string, name: string): Promise<number> {
  const res = await c.request(id, 'GET', '/metrics');
  // Sums every series of the metric, whatever its labels (the node adds node and topology).
  return String(res.body)
    .split('\n')
    .filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('leaderless quorums, three real nodes', () => {
  it('W=2/R=2: no read misses an acknowledged increment (counter-bounds checker)', async () => {
    const c = await startCluster(3, KNOBS);
    const history = new History(c);
    await Promise.all(
      Array.from({ length: 6 }, async (_, p) => {
        for (let i = 0; i < 40; i++) {
          const node = c.nodes[(p + i) % 3]?.id as string;
          if (i % 2 === 1) {
            await history.read(p, node, { r: 2 });
            continue;
          }
          // A client retries an unknown outcome with the same key; 503 (surely not applied) too.
          for (let attempt = 0; attempt < 20; attempt++) {
            const res = await history.incr(p, c.nodes[(p + i + attempt) % 3]?.id as string, { idempotencyKey: `p${p}-${i}`, params: { w: 2 } });
            if (res.status === 200) break;
          }
        }
      }),
    );
    const verdict = checkCounterBounds(history.ops);
    expect(verdict.valid).toBe(true);
    expect(verdict.details?.reads).toBeGreaterThan(100); // a read may time out (504) on a loaded machine
    expect(new Set(history.ops.filter((o) => o.type === 'incr' && o.outcome === 'ok').map((o) => o.idempotencyKey)).size).toBe(120);
    for (const n of c.nodes) expect((await c.count(n.id, { r: 3 })).body.value).toBe(120);
  });

  it('W=1/R=1 reads stale while a replica is slow; the checker sees it', async () => {
    const c = await startCluster(3, { ...KNOBS, 'rpc-timeout-ms': 20_000, 'probe-ms': 60_000, 'anti-entropy-ms': 0 });
    const history = new History(c);
    await c.setFaults('n1', { delayMs: 15_000 }); // n1's messages to its peers crawl
    const started = Date.now();
    expect((await history.incr(0, 'n1', { idempotencyKey: 'w1', params: { w: 1 } })).status).toBe(200);
    // The checker orders by milliseconds: start the read in a later one than the ack.
    const ackedMs = Date.now();
    await waitFor(() => Date.now() > ackedMs, { intervalMs: 1 });
    const stale = await history.read(1, 'n2', { r: 1 });
    expect(stale.body.value).toBe(0);
    const verdict = checkCounterBounds(history.ops);
    expect(verdict.valid, JSON.stringify(history.ops)).toBe(false);
    expect(verdict.details?.staleReads).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000); // the copies to n2 and n3 were still in flight
  });

  it('a node partitioned away: W=2 succeeds on the majority side, W=3 answers 503 within the timeout', async () => {
    const c = await startCluster(3, KNOBS);
    await c.partition(['n3']);
    // On a loaded machine a copy may miss its deadline (504) or a slow peer be suspected for a
    // moment (503): a client retries with the same key, and the majority side must get through.
    const majority = await waitFor(async () => {
      const res = await c.incr('n1', { idempotencyKey: 'maj', params: { w: 2 } });
      return res.status === 200 ? res : undefined;
    }, { timeoutMs: 10_000, intervalMs: 100, what: 'a W=2 write on the majority side' });
    expect(majority.body).toMatchObject({ ok: true, acks: 2 });
    await waitFor(async () => (await unreachableFrom(c, 'n1')).includes('n3'), { timeoutMs: 10_000, what: 'n1 to see n3 unreachable' });
    const started = Date.now();
    const res = await c.incr('n1', { idempotencyKey: 'all', params: { w: 3 } });
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(KNOBS['rpc-timeout-ms']);
    // The minority side cannot gather two replicas either.
    await waitFor(async () => (await unreachableFrom(c, 'n3')).length === 2, { timeoutMs: 10_000, what: 'n3 to see it is alone' });
    expect((await c.incr('n3', { idempotencyKey: 'min', params: { w: 2 } })).status).toBe(503);
    await c.heal();
    await waitFor(async () => (await c.count('n3', { r: 3 })).body?.value === 1, { timeoutMs: 10_000, what: 'the cluster to heal' });
  });

  it('refuses bad input with a 400 naming the field, and changes nothing', async () => {
    const c = await startCluster(3, KNOBS);
    const cases: [Record<string, unknown>, string][] = [
      [{ w: 0 }, 'w'],
      [{ w: 4 }, 'w'],
      [{ delta: 1.5 }, 'delta'],
      [{ context: '{"n1":"x"}' }, 'context'],
      [{ wat: 1 }, 'wat'],
    ];
    for (const [params, field] of cases) {
      const res = await c.incr('n1', { params });
      expect(res.status).toBe(400);
      expect(String(res.body.error.message)).toMatch(new RegExp(`^${field}`));
    }
    expect((await c.count('n1', { r: 0 })).status).toBe(400);
    const after = await waitFor(async () => {
      const res = await c.count('n2', { r: 3 });
      return res.status === 200 ? res : undefined; // a 504 on a loaded machine is not the point here
    }, { timeoutMs: 10_000, what: 'a quorum read' });
    expect(after.body.value).toBe(0);
  });
});

describe('leaderless sloppy quorum, four real nodes, N=3', () => {
  it('W=3 succeeds via a hinted stand-in while an owner is cut off; after heal the hint is delivered and every replica converges', async () => {
    const c = await startCluster(4, { ...KNOBS, 'sloppy-quorum': true });
    const ids = c.nodes.map((n) => n.id);
    const owners = new Ring(ids, 64).preferenceList('counter', 3);
    const coordinator = owners[0] as string;
    const victim = owners[1] as string;
    const standIn = ids.find((id) => !owners.includes(id)) as string;
    await c.partition([victim]);
    await waitFor(async () => (await unreachableFrom(c, coordinator)).includes(victim), { timeoutMs: 10_000, what: 'the coordinator to see the owner down' });
    const res = await c.incr(coordinator, { idempotencyKey: 'hinted', delta: 7, params: { w: 3 } });
    expect(res.body).toMatchObject({ ok: true, acks: 3, hinted: 1 });
    expect((await c.status(standIn))?.hintsQueued).toEqual({ [victim]: 1 });
    await c.heal();
    await waitFor(async () => (await c.status(standIn))?.hintsTotal === 0, { timeoutMs: 10_000, what: 'the hint to be handed off' });
    expect(await metric(c, standIn, 'leaderless_hints_delivered_total')).toBe(1);
    // r=1 at an owner answers from its own replica first.
    for (const owner of owners) expect((await c.count(owner, { r: 1 })).body.value).toBe(7);
  });
});
