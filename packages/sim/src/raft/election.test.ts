/** Leader election scenarios (Raft §5.2, §9.6), after the MIT 6.5840 Raft lab's checklist. */
import { Rng } from '@playground/core';
import { describe, expect, it } from 'vitest';
import { RaftCluster } from './harness.js';

describe('Raft elections in the simulator', () => {
  it('elects one leader at the start, and keeps it while nothing fails', () => {
    const cluster = new RaftCluster({ nodes: 3, seed: 11 });
    const leader = cluster.waitForLeader(1_000);
    const term = leader.core.term;
    cluster.run(2_000);
    expect(cluster.leaders().map((n) => n.id)).toEqual([leader.id]);
    expect(cluster.ids.map((id) => cluster.node(id).core.term)).toEqual([term, term, term]);
    expect(cluster.topology.observer.elections).toBe(1);
  });

  it('elects a new leader after the leader is lost, and keeps one when the old one returns', () => {
    const cluster = new RaftCluster({ nodes: 3, seed: 12 });
    const first = cluster.waitForLeader(1_000);
    cluster.isolate(first.id);
    // Election timeouts are 150-300 ms; the paper's Figure 16 settles within a few hundred ms.
    const tookMs = cluster.runUntil('a new leader', () => cluster.leaders().some((n) => n.id !== first.id && n.core.term > first.core.term), 1_500);
    expect(tookMs).toBeLessThan(1_000);
    cluster.heal();
    cluster.run(1_000);
    const leaders = cluster.leaders();
    expect(leaders).toHaveLength(1);
    expect(leaders[0]?.id).not.toBe(first.id);
  });

  it('elects no leader without a quorum, and one as soon as the quorum is back', () => {
    const cluster = new RaftCluster({ nodes: 3, seed: 13 });
    const leader = cluster.waitForLeader(1_000);
    const follower = cluster.ids.find((id) => id !== leader.id) as string;
    cluster.isolate(leader.id);
    cluster.isolate(follower);
    // CheckQuorum: the cut-off leader steps down within an election timeout; then nobody leads.
    cluster.run(1_000);
    for (let i = 0; i < 20; i++) {
      cluster.run(100);
      expect(cluster.leaders()).toEqual([]);
    }
    cluster.heal();
    cluster.waitForLeader(2_000);
  });

  it('keeps at most one leader per term through many elections with random cuts in 7 nodes', () => {
    const cluster = new RaftCluster({ nodes: 7, seed: 14 });
    const rng = new Rng(14);
    cluster.waitForLeader(1_000);
    for (let round = 0; round < 10; round++) {
      const cut = rng.shuffle([...cluster.ids]).slice(0, 3); // 4 of 7 stay connected: a quorum
      for (const id of cut) cluster.isolate(id);
      cluster.runUntil(`a leader among the connected 4 (round ${round})`, () => cluster.leaders().some((n) => !cut.includes(n.id)), 3_000);
      cluster.heal();
      cluster.run(300);
    }
    cluster.heal();
    cluster.waitForLeader(2_000);
    // The observer throws at once on two leaders in one term; it saw many elections, none doubled.
    expect(cluster.topology.observer.elections).toBeGreaterThan(5);
    expect(cluster.checkLogs()).toBeNull();
  });

  it('spends a bounded number of messages on an election and on an idle second', () => {
    const cluster = new RaftCluster({ nodes: 3, seed: 15 });
    const leader = cluster.waitForLeader(1_000);
    // Pre-vote and vote round trips to 2 peers, plus the no-op append and its answers.
    const electionMessages = cluster.sim.network.stats.sent;
    expect(electionMessages).toBeLessThanOrEqual(16);
    cluster.run(500); // the no-op append and its commit
    const before = cluster.sim.network.stats.sent;
    cluster.run(1_000);
    const idle = cluster.sim.network.stats.sent - before;
    // Heartbeats every 50 ms to 2 followers, each answered: 80 per second.
    expect(idle).toBeGreaterThanOrEqual(70);
    expect(idle).toBeLessThanOrEqual(90);
    expect(cluster.leader()?.id).toBe(leader.id);
  });
});
