/**
 * merge mode's promise under a crash: 500 concurrent increments, each retried with its own
 * Idempotency-Key through random nodes until acknowledged, while one node is killed with
 * kill -9 and later restarted from its data dir. After the dust settles every replica holds
 * exactly 500: nothing acknowledged was lost, no retry was counted twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Rng } from '@playground/core';
import { TestCluster, waitFor } from '@playground/node/testing';

const SEED = Number(process.env.SEED ?? Date.now() % 1_000_000);

describe('leaderless chaos: kill -9 a node under load (merge mode)', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it(`500 concurrent increments with retries end exact (SEED=${SEED})`, async () => {
    const rng = new Rng(SEED);
    cluster = await TestCluster.start({ topology: 'leaderless', flags: { 'rpc-timeout-ms': 1000, 'probe-ms': 100, 'anti-entropy-ms': 200 } });
    const c = cluster;
    const victim = rng.pick(c.nodes).id;
    const total = 500;
    const killAt = rng.int(50, 200);
    const restartAt = rng.int(300, 400);
    let acked = 0;
    let chaos = Promise.resolve();
    let attempts = 0;
    let duplicates = 0;

    const increment = async (i: number): Promise<void> => {
      const key = `chaos-${SEED}-${i}`;
      for (let attempt = 1; ; attempt++) {
        attempts++;
        const target = rng.pick(c.liveNodes.length > 0 ? c.liveNodes : c.nodes).id;
        const res = await c.incr(target, { idempotencyKey: key, params: { w: 2 }, timeoutMs: 3000 });
        if (res.status === 200) {
          if (res.body.duplicate === true) duplicates++;
          break;
        }
        if (![0, 503, 504].includes(res.status)) throw new Error(`${key}: ${res.status} ${JSON.stringify(res.body)}`);
        if (attempt > 200) throw new Error(`${key}: never acknowledged`);
        await new Promise((r) => setTimeout(r, rng.int(0, Math.min(200, 5 * 2 ** Math.min(attempt, 6)))));
      }
      acked++;
      if (acked === killAt) chaos = chaos.then(() => c.kill(victim));
      if (acked === restartAt) chaos = chaos.then(() => c.startNode(victim));
    };

    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < total) await increment(next++);
      }),
    );
    await chaos;
    expect(c.liveNodes).toHaveLength(3);
    // Every replica converges on exactly 500 (read repair off the path: r=1 reads the local copy first).
    await waitFor(async () => {
      const values = await Promise.all(c.nodes.map(async (n) => (await c.count(n.id, { r: 1 })).body?.value));
      return values.every((v) => v === total);
    }, { timeoutMs: 15_000, what: 'every replica to hold exactly 500' });
    await waitFor(async () => {
      const reads = await Promise.all(c.nodes.map((n) => c.count(n.id, { r: 3 })));
      return reads.every((res) => res.status === 200 && res.body.value === total);
    }, { timeoutMs: 15_000, what: 'quorum reads (r=3) through every node to answer exactly 500' });
    expect(attempts).toBeGreaterThanOrEqual(total);
    console.log(`leaderless chaos SEED=${SEED}: ${attempts} attempts for ${total} increments, ${duplicates} acknowledged as duplicates, ${victim} killed at ${killAt} and restarted at ${restartAt}`);
  });
});
