/** Log agreement scenarios (Raft §5.3, §5.4), after the MIT 6.5840 Raft lab's checklist. */
import { describe, expect, it } from 'vitest';
import type { AppendRequest } from './deps.js';
import { RaftCluster } from './harness.js';

describe('Raft agreement in the simulator', () => {
  it('agrees on each increment: committed, applied at the same index on every node', () => {
    const cluster = new RaftCluster({ nodes: 3, seed: 21 });
    cluster.waitForLeader();
    for (let i = 1; i <= 3; i++) {
      const request = cluster.incrUntilAcknowledged();
      expect(request.op.value).toBe(i);
      cluster.runUntil('applied everywhere', () => cluster.values().every((v) => v === i), 500);
    }
    const log = cluster.topology.observer.appliedLog();
    expect(log.filter((e) => e.command !== null).map((e) => e.command?.delta)).toEqual([1, 1, 1]);
    expect(cluster.checkHistory().valid).toBe(true);
  });

  it('sends each command about once to each peer', () => {
    const cluster = new RaftCluster({ nodes: 3, seed: 22 });
    cluster.waitForLeader();
    cluster.run(200);
    const carried = new Map<string, number>();
    cluster.sim.network.tap = (_from, to, m) => {
      if (m.type === 'app') carried.set(to, (carried.get(to) ?? 0) + (m as AppendRequest).entries.length);
    };
    for (let i = 0; i < 10; i++) cluster.incrUntilAcknowledged();
    cluster.run(200);
    const followers = cluster.ids.filter((id) => id !== cluster.leader()?.id);
    for (const id of followers) {
      expect(carried.get(id)).toBeGreaterThanOrEqual(10);
      expect(carried.get(id)).toBeLessThanOrEqual(11);
    }
  });

  it('keeps committing when one follower fails, stops without a majority, resumes when it returns', () => {
    const cluster = new RaftCluster({ nodes: 3, seed: 23, clientTimeoutMs: 500 });
    const leader = cluster.waitForLeader();
    const [f1, f2] = cluster.ids.filter((id) => id !== leader.id) as [string, string];
    cluster.crash(f1);
    cluster.incrUntilAcknowledged(2_000);
    cluster.crash(f2);
    const stuck = cluster.incr({ node: leader.id });
    cluster.settleAll();
    expect(stuck.op.outcome).toBe('info'); // unknown, not failed: it may commit later
    const commitBefore = leader.core.commitIndex;
    cluster.run(1_000);
    expect(cluster.sim.isUp(leader.id) && leader.core.commitIndex).toBe(commitBefore);
    cluster.restart(f1);
    cluster.restart(f2);
    cluster.incrUntilAcknowledged(5_000);
    cluster.converge();
    expect(cluster.checkHistory().valid).toBe(true);
  });

  it('elects a new leader that keeps committing when the leader fails, and the old one catches up', () => {
    const cluster = new RaftCluster({ nodes: 3, seed: 24 });
    const first = cluster.waitForLeader();
    cluster.incrUntilAcknowledged();
    cluster.crash(first.id);
    const second = cluster.waitForLeader(2_000);
    expect(second.id).not.toBe(first.id);
    cluster.incrUntilAcknowledged();
    cluster.restart(first.id);
    cluster.converge();
    expect(cluster.values()).toEqual([2, 2, 2]);
    expect(cluster.checkHistory().valid).toBe(true);
  });

  it('commits nothing without a majority', () => {
    const cluster = new RaftCluster({ nodes: 5, seed: 25, clientTimeoutMs: 300 });
    const leader = cluster.waitForLeader();
    cluster.incrUntilAcknowledged();
    const commitBefore = leader.core.commitIndex;
    const followers = cluster.ids.filter((id) => id !== leader.id);
    for (const id of followers.slice(0, 3)) cluster.isolate(id);
    const lonely = cluster.incr({ node: leader.id });
    cluster.run(2_000);
    expect(lonely.op.outcome).toBe('info');
    expect(leader.core.commitIndex).toBe(commitBefore);
    expect(leader.core.lastIndex).toBeGreaterThan(commitBefore); // proposed, never committed
    cluster.converge();
    cluster.incrUntilAcknowledged();
    cluster.settleAll();
    cluster.converge();
    expect(cluster.checkHistory().valid).toBe(true);
  });

  it('commits concurrent proposals from many clients, each exactly once', () => {
    const cluster = new RaftCluster({ nodes: 3, seed: 26 });
    cluster.waitForLeader();
    const requests = Array.from({ length: 20 }, (_, i) => cluster.incr({ delta: i + 1 }));
    cluster.settleAll();
    expect(requests.every((r) => r.op.outcome === 'ok')).toBe(true);
    // Every increment saw a distinct counter value, and the last one saw them all.
    const seen = requests.map((r) => r.op.value as number).sort((a, b) => a - b);
    expect(new Set(seen).size).toBe(20);
    expect(seen[19]).toBe(210);
    cluster.converge();
    expect(cluster.values()).toEqual([210, 210, 210]);
    expect(cluster.checkHistory().valid).toBe(true);
  });
});
