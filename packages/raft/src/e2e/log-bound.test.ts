/**
 * The log's bound (--max-log-entries): v1 keeps every entry, so a full log refuses new
 * increments with 503 (surely not applied), through the leader and through a follower, while a
 * retry of an increment already applied still gets its first outcome, and reads still work; a
 * retry of one that is in the log but not committed gets 504 (unknown), never 503.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from '@playground/node/testing';
import { findLeader } from './client.js';

const MAX = 8;

describe('Raft: a full log', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('refuses new increments with 503, answers retries with their first outcome, and applies nothing more', async () => {
    cluster = await TestCluster.start({ topology: 'raft', flags: { 'max-log-entries': MAX } });
    const c = cluster;
    const leader = await waitFor(() => findLeader(c), { timeoutMs: 10_000, what: 'a leader' });
    const follower = c.nodes.map((n) => n.id).find((id) => id !== leader) as string;

    // Each leader's no-op takes an entry too, so count the increments the log takes.
    let applied = 0;
    let refused: Awaited<ReturnType<TestCluster['incr']>> | undefined;
    for (let i = 0; i < MAX + 2 && refused === undefined; i++) {
      const res = await c.incr(i % 2 ? follower : leader, { idempotencyKey: `fill-${i}` });
      if (res.status === 200) applied++;
      else refused = res;
    }
    expect(applied).toBeGreaterThan(0);
    expect(applied).toBeLessThan(MAX);
    expect(refused?.status).toBe(503);
    expect(String(refused?.body?.error?.message)).toMatch(/holds \d+ entries, as many as --max-log-entries allows: not applied/);

    for (const via of [leader, follower]) {
      const fresh = await c.incr(via, { idempotencyKey: `fresh-${via}` });
      expect(fresh.status, `a new increment through ${via}`).toBe(503);
      const retry = await c.incr(via, { idempotencyKey: 'fill-0' });
      expect(retry.status, `a retry through ${via}`).toBe(200);
      expect(retry.body).toMatchObject({ duplicate: true, value: 1 });
    }
    for (const id of c.nodes.map((n) => n.id)) {
      expect((await c.count(id)).body.value, `count on ${id}`).toBe(applied);
    }
  }, 60_000);

  it('answers 504 (unknown) to a retry whose increment is in the log but not yet committed', async () => {
    // Long election timeouts: the leader cut off below keeps its role (CheckQuorum acts once an
    // election timeout has passed without a quorum) for the second this test needs.
    const flags = { 'max-log-entries': MAX, 'election-min-ms': 2000, 'election-max-ms': 4000, 'heartbeat-ms': 100, 'request-timeout-ms': 2000 };
    cluster = await TestCluster.start({ topology: 'raft', flags });
    const c = cluster;
    const leader = await waitFor(() => findLeader(c), { timeoutMs: 20_000, what: 'a leader' });
    expect((await c.incr(leader, { idempotencyKey: 'committed' })).status).toBe(200);

    // Cut the leader off: what it appends now cannot commit. Fill its log with such increments.
    await c.partition([leader]);
    const lastIndex = async (): Promise<number> => Number((await c.status(leader))?.lastLogIndex);
    const tail = Array.from({ length: MAX - (await lastIndex()) }, (_, i) => c.incr(leader, { idempotencyKey: `tail-${i}`, timeoutMs: 10_000 }));
    await waitFor(async () => (await lastIndex()) === MAX, { timeoutMs: 1500, what: 'the cut-off leader to fill its log' });

    const retry = await c.incr(leader, { idempotencyKey: 'tail-0' });
    expect(retry.status).toBe(504);
    expect(String(retry.body?.error?.message)).toMatch(/is in the log \(index \d+\) and not yet applied; retry with the same key/);
    expect((await c.incr(leader, { idempotencyKey: 'committed' })).body).toMatchObject({ duplicate: true, value: 1 });
    expect((await c.incr(leader, { idempotencyKey: 'fresh' })).status).toBe(503);
    // None of the tail was acknowledged: each ends unknown or surely not applied.
    for (const r of await Promise.all(tail)) expect([503, 504]).toContain(r.status);
  }, 60_000);
});
