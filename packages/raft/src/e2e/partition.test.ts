/**
 * The leader cut off by a partition (blackhole) rather than killed: the minority side must not
 * acknowledge anything, the majority elects a new leader and goes on, and after healing the old
 * leader steps down, its uncommitted entries are overwritten (Raft §5.3) and it catches up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from '@playground/node/testing';
import { findLeader } from './client.js';

describe('Raft: the leader partitioned away', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('acknowledges nothing on the minority side, and the old leader steps down and catches up after heal', async () => {
    cluster = await TestCluster.start({ topology: 'raft', flags: { 'request-timeout-ms': 1500 } });
    const c = cluster;
    const oldLeader = await waitFor(() => findLeader(c), { timeoutMs: 10_000, what: 'a first leader' });
    const majority = c.nodes.map((n) => n.id).filter((id) => id !== oldLeader);
    for (let i = 0; i < 5; i++) expect((await c.incr(majority[0]!, { idempotencyKey: `before-${i}` })).status).toBe(200);
    const oldTerm = (await c.status(oldLeader))?.term as number;

    await c.partition([oldLeader], 'blackhole');

    // The minority: every increment sent to the old leader fails or is unknown, never 200.
    const minority = await Promise.all(
      Array.from({ length: 10 }, (_, i) => c.incr(oldLeader, { idempotencyKey: `minority-${i}`, timeoutMs: 4000 })),
    );
    for (const res of minority) expect([503, 504]).toContain(res.status);
    // CheckQuorum: the isolated leader notices it has lost its quorum and steps down.
    await waitFor(async () => (await c.status(oldLeader))?.role !== 'leader', { timeoutMs: 5000, what: 'the isolated leader to step down' });

    // The majority elects a new leader in a higher term and keeps accepting increments.
    const newLeader = await waitFor(
      async () => {
        for (const id of majority) {
          const s = await c.status(id);
          if (s?.role === 'leader' && (s.term as number) > oldTerm) return id;
        }
        return null;
      },
      { timeoutMs: 10_000, what: 'a new leader on the majority side' },
    );
    let acked = 5;
    for (let i = 0; i < 20; i++) {
      const res = await c.incr(majority[i % 2]!, { idempotencyKey: `majority-${i}` });
      expect(res.status).toBe(200);
      acked++;
    }

    await c.heal();
    // The old leader rejoins as a follower of the new leader, and its log catches up.
    await waitFor(
      async () => {
        const [s, l] = [await c.status(oldLeader), await c.status(newLeader)];
        return s?.role === 'follower' && s.leader === newLeader && s.lastApplied === l?.lastApplied;
      },
      { timeoutMs: 10_000, what: 'the old leader to follow and catch up' },
    );
    for (const node of c.nodes) {
      const res = await c.count(node.id);
      expect(res.status, `count on ${node.id}: ${JSON.stringify(res.body)}`).toBe(200);
      // Exact: the minority's entries were never committed, so they were overwritten, not applied.
      expect(res.body.value, `count on ${node.id}`).toBe(acked);
    }
    // Retrying one of the minority's increments now applies it, once.
    const retry = await c.incr(oldLeader, { idempotencyKey: 'minority-0' });
    expect(retry.status).toBe(200);
    expect(retry.body.duplicate).toBe(false);
    const again = await c.incr(majority[0]!, { idempotencyKey: 'minority-0' });
    expect(again.body).toMatchObject({ duplicate: true, value: acked + 1 });
  }, 60_000);
});
