/** Log repair and durability scenarios (Raft §5.3, §5.4.2 Figure 8, Figure 2's persistence). */
import { Rng } from '@playground/core';
import { describe, expect, it } from 'vitest';
import type { AppendResponse } from './deps.js';
import { RaftCluster } from './harness.js';

describe('Raft log repair and durability in the simulator', () => {
  it("overwrites a rejoining partitioned old leader's uncommitted entries", () => {
    const cluster = new RaftCluster({ nodes: 3, seed: 31, clientTimeoutMs: 300 });
    const old = cluster.waitForLeader();
    cluster.incrUntilAcknowledged();
    cluster.isolate(old.id);
    const orphans = [1, 2, 3].map(() => cluster.incr({ node: old.id, delta: 100 }));
    cluster.run(50);
    expect(old.core.lastIndex).toBeGreaterThan(old.core.commitIndex); // appended, not committed
    const rest = cluster.ids.filter((id) => id !== old.id);
    cluster.runUntil('a new leader', () => cluster.leaders().some((n) => rest.includes(n.id)), 2_000);
    for (let i = 0; i < 3; i++) cluster.incrUntilAcknowledged();
    cluster.settleAll();
    expect(orphans.map((r) => r.op.outcome)).toEqual(['info', 'info', 'info']);
    cluster.converge();
    expect(cluster.checkLogs()).toBeNull();
    expect(cluster.values()).toEqual([4, 4, 4]); // none of the orphaned +100s
    expect(cluster.checkHistory().valid).toBe(true);
  });

  it('backs up fast over long conflicting logs: one rejection per conflicting term, not per entry', () => {
    const cluster = new RaftCluster({ nodes: 5, seed: 32, clientTimeoutMs: 200 });
    const old = cluster.waitForLeader();
    cluster.incrUntilAcknowledged();
    const buddy = cluster.ids.find((id) => id !== old.id) as string;
    const majority = cluster.ids.filter((id) => id !== old.id && id !== buddy);
    cluster.partition([old.id, buddy], majority);
    for (let i = 0; i < 50; i++) cluster.incr({ node: old.id }); // 50 entries the minority will never commit
    cluster.run(100);
    cluster.runUntil('a majority leader', () => cluster.leaders().some((n) => majority.includes(n.id)), 2_000);
    for (let i = 0; i < 50; i++) cluster.incr(); // 50 conflicting committed entries
    cluster.settleAll();
    expect(cluster.history.filter((o) => o.outcome === 'ok').length).toBeGreaterThanOrEqual(50);
    // A fresh election on the majority side, so that its leader starts probing the stale nodes
    // from the end of its long log, far past where they diverge.
    const second = cluster.leader()?.id as string;
    cluster.crash(second);
    cluster.restart(second);
    cluster.runUntil('a third leader', () => cluster.leaders().some((n) => majority.includes(n.id) && n.core.lastIndex > 50), 3_000);
    let rejections = 0;
    cluster.sim.network.tap = (_from, _to, m) => {
      if (m.type === 'app_resp' && (m as AppendResponse).reject) rejections++;
    };
    cluster.converge();
    expect(rejections).toBeGreaterThanOrEqual(2); // the scenario did make them back up
    // Without fast backup the two stale nodes would each reject ~50 times.
    expect(rejections).toBeLessThanOrEqual(6);
    expect(cluster.checkLogs()).toBeNull();
    expect(cluster.checkHistory().valid).toBe(true);
  });

  it('keeps every acknowledged increment across a crash of all nodes at once', () => {
    const cluster = new RaftCluster({ nodes: 3, seed: 33 });
    cluster.waitForLeader();
    for (let i = 0; i < 5; i++) cluster.incrUntilAcknowledged();
    for (let i = 0; i < 3; i++) cluster.incr();
    cluster.run(1);
    // Some writes are mid-fsync: those may be lost, never acknowledged ones.
    const unsynced = cluster.ids.reduce((sum, id) => sum + (cluster.sim.disks.get(id)?.unsynced ?? 0), 0);
    expect(unsynced).toBeGreaterThan(0);
    for (const id of cluster.ids) cluster.crash(id);
    cluster.run(500);
    for (const id of cluster.ids) cluster.restart(id);
    cluster.waitForLeader(2_000);
    cluster.incrUntilAcknowledged();
    cluster.settleAll();
    cluster.converge();
    expect(Math.min(...cluster.values())).toBeGreaterThanOrEqual(6);
    expect(cluster.checkHistory().valid).toBe(true);
  });

  it.each([
    ['a reliable network', {}],
    ['an unreliable network (10% loss, long reordering)', { lossRate: 0.1, jitterMs: 20, longDelayRate: 0.05, longDelayMs: 1_000 }],
  ])('survives Figure 8 on %s: 1000 rounds of leader crashes, old-term entries never committed by counting', (_name, network) => {
    const cluster = new RaftCluster({ nodes: 5, seed: 34, clientTimeoutMs: 300, network });
    const rng = new Rng(34);
    let up = 5;
    cluster.waitForLeader();
    for (let round = 0; round < 1_000; round++) {
      const leader = cluster.leader();
      if (leader !== null) cluster.incr({ node: leader.id });
      // Mostly short pauses (the leader crashes before replicating), sometimes long ones.
      cluster.run(rng.chance(0.1) ? rng.int(0, 500) : rng.int(0, 13));
      if (leader !== null && cluster.sim.isUp(leader.id) && rng.chance(0.5)) {
        cluster.crash(leader.id);
        up--;
      }
      if (up < 3) {
        const down = cluster.ids.filter((id) => !cluster.sim.isUp(id));
        cluster.restart(rng.pick(down));
        up++;
      }
    }
    cluster.settleAll();
    cluster.converge(20_000);
    cluster.incrUntilAcknowledged();
    cluster.settleAll();
    cluster.converge();
    expect(cluster.topology.observer.elections).toBeGreaterThan(25);
    expect(cluster.checkLogs()).toBeNull();
    const verdict = cluster.checkHistory();
    expect(verdict.summary).not.toMatch(/false/);
    expect(verdict.valid).toBe(true);
  });
});
