/**
 * Persistence across crashes (Raft Figure 2: term, vote and log are on stable storage before any
 * answer): every node killed with kill -9, all restarted from their data dirs, and nothing
 * acknowledged is lost, including the idempotency table that lives in the replicated state.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TestCluster, waitFor } from '@playground/node/testing';
import { findLeader } from './client.js';

describe('Raft: crash and restart of every node', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('recovers every acknowledged increment and still recognises retried keys', async () => {
    cluster = await TestCluster.start({ topology: 'raft' });
    const c = cluster;
    await waitFor(() => findLeader(c), { timeoutMs: 10_000, what: 'a leader' });
    const ids = c.nodes.map((n) => n.id);
    for (let i = 0; i < 30; i++) {
      const res = await c.incr(ids[i % 3]!, { idempotencyKey: `k-${i}`, key: i % 2 ? 'odd' : 'even', delta: 2 });
      expect(res.status).toBe(200);
    }
    const termBefore = Math.max(...(await Promise.all(ids.map(async (id) => (await c.status(id))?.term as number))));

    await Promise.all(ids.map((id) => c.kill(id)));
    await Promise.all(ids.map((id) => c.startNode(id)));
    await waitFor(() => findLeader(c), { timeoutMs: 10_000, what: 'a leader after the restart' });

    for (const id of ids) {
      expect((await c.count(id, { key: 'even' })).body.value, `even on ${id}`).toBe(30);
      expect((await c.count(id, { key: 'odd' })).body.value, `odd on ${id}`).toBe(30);
      expect((await c.status(id))?.term as number).toBeGreaterThan(termBefore - 1);
    }
    // The dedup table was rebuilt from the log: a retry of an old key is recognised, not applied.
    const retry = await c.incr('n2', { idempotencyKey: 'k-4', key: 'even', delta: 2 });
    expect(retry.body).toMatchObject({ duplicate: true, key: 'even' });
    expect((await c.count('n3', { key: 'even' })).body.value).toBe(30);
  }, 60_000);
});
