/**
 * The acceptance test everyone knows: three real node processes, the leader killed (kill -9) at
 * random moments while 1000 concurrent increments run; the final count is exactly 1000 on every
 * survivor, and no increment was applied twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Rng } from '@playground/core';
import { checkCounterBounds, checkLinearizable, checkNoDuplicates } from '@playground/checkers';
import { TestCluster, waitFor } from '@playground/node/testing';
import { HistoryRecorder, findLeader, incrementWithRetries, runConcurrently, type Acked } from './client.js';

const SEED = Number(process.env.SEED ?? Date.now() % 1_000_000);

describe('Raft chaos: kill -9 the leader under load', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it(`applies 1000 concurrent increments exactly once while leaders die (SEED=${SEED})`, async () => {
    const rng = new Rng(SEED);
    cluster = await TestCluster.start({ topology: 'raft' });
    const c = cluster;
    await waitFor(() => findLeader(c), { timeoutMs: 10_000, what: 'a first leader' });

    const total = 1000;
    // Kill the leader at two random points of the run; restart the first victim, not the second.
    const killAt = [rng.int(100, 350), rng.int(500, 750)];
    const killed: string[] = [];
    let acked = 0;
    let chaos = Promise.resolve();
    const onAck = (): void => {
      acked++;
      const round = killAt.indexOf(acked);
      if (round === -1) return;
      chaos = chaos.then(async () => {
        const leader = await waitFor(() => findLeader(c), { timeoutMs: 10_000, what: 'a leader to kill' });
        await c.kill(leader);
        killed.push(leader);
        if (round === 0) await c.startNode(leader);
      });
    };

    const deadlineMs = Date.now() + 60_000;
    const history = new HistoryRecorder();
    let writing = true;
    // Five readers issue linearizable reads through random nodes for the whole run.
    const readers = Array.from({ length: 5 }, async (_, r) => {
      while (writing) {
        const node = rng.pick(c.liveNodes.length > 0 ? c.liveNodes : c.nodes).id;
        const invokeMs = history.now();
        const res = await c.count(node, {}, 3000);
        history.record({ process: `reader-${r}`, node, key: 'counter', type: 'read', invokeMs, completeMs: history.now() }, res);
        if (res.status !== 200) await new Promise((resolve) => setTimeout(resolve, 10));
      }
    });
    const results: Acked[] = await runConcurrently(total, 50, async (i) => {
      const result = await incrementWithRetries(c, rng, `chaos-${SEED}-${i}`, { deadlineMs, history, process: i % 50 });
      onAck();
      return result;
    });
    writing = false;
    await Promise.all(readers);
    await chaos;
    expect(killed).toHaveLength(2);

    // Every acknowledgement names the log index where its increment was applied: distinct
    // increments must have distinct indexes (a double apply would show as two).
    const indexes = new Set(results.map((r) => r.response.body.index as number));
    expect(indexes.size).toBe(total);

    // The history, judged by the same checkers the simulator and the bench use.
    const reads = history.ops.filter((o) => o.type === 'read' && o.outcome === 'ok');
    expect(reads.length, 'linearizable reads that succeeded during the run').toBeGreaterThan(50);
    const checkStartedMs = performance.now();
    for (const verdict of [
      checkLinearizable(history.ops, { timeBudgetMs: 20_000 }),
      checkCounterBounds(history.ops),
      checkNoDuplicates(history.ops),
    ]) {
      expect(verdict.valid, `${verdict.checker}: ${verdict.summary}`).toBe(true);
    }
    console.log(`checked ${history.ops.length} operations in ${(performance.now() - checkStartedMs).toFixed(0)} ms`);

    const live = c.liveNodes.map((n) => n.id);
    expect(live).toHaveLength(2);
    for (const id of live) {
      const res = await waitFor(
        async () => {
          const r = await c.count(id);
          return r.status === 200 ? r : null;
        },
        { timeoutMs: 10_000, what: `a linearizable read on ${id}` },
      );
      expect(res.body.value, `linearizable count on ${id}`).toBe(total);
    }
    // Applied state agrees on every survivor: same applied index, same local value.
    await waitFor(
      async () => {
        const statuses = await Promise.all(live.map((id) => c.status(id)));
        const applied = new Set(statuses.map((s) => s?.lastApplied));
        return applied.size === 1 && statuses.every((s) => s?.commitIndex === s?.lastApplied);
      },
      { timeoutMs: 10_000, what: 'survivors to apply the same prefix' },
    );
    for (const id of live) {
      const local = await c.count(id, { consistency: 'local' });
      expect(local.body.value, `applied state on ${id}`).toBe(total);
    }
  }, 120_000);
});
