/**
 * Randomized runs under partitions, loss, reordering and crash-restarts, checking the
 * properties of Raft Figure 3 after every tick, then a liveness phase: heal, and the cluster
 * must elect a leader and commit. A failing seed replays exactly (SEED=n).
 */
import { Rng } from '@playground/core';
import { describe, expect, it } from 'vitest';
import { Network, incr } from './test-network.js';
import type { RaftCore } from './raft.js';
import type { Entry } from './types.js';

function runSeed(seed: number): void {
  const rng = new Rng(seed);
  const ids = rng.chance(0.5) ? ['a', 'b', 'c'] : ['a', 'b', 'c', 'd', 'e'];
  const net = new Network({
    ids,
    seed,
    reorderSeed: seed + 1,
    config: { preVote: rng.chance(0.7), checkQuorum: rng.chance(0.7), maxEntriesPerAppend: 4, maxInflightAppends: 3 },
  });
  let lossRate = 0.05;
  net.filters.push(() => !rng.chance(lossRate));

  const leaderOfTerm = new Map<number, string>();
  /** index -> the committed entry's term, and the lowest term in which it was seen committed. */
  const committed = new Map<number, { term: number; since: number }>();
  const appliedRef: Entry[] = [];
  // Incremental checking: what was already checked, per node (a restart replaces the objects).
  const checkedCommit = new Map<RaftCore, number>();
  const checkedApplied = new Map<Entry[], number>();

  const check = (): void => {
    for (const node of net.nodes.values()) {
      // Election Safety: at most one leader per term. Leader Completeness: a new leader of term T
      // holds every entry committed in an earlier term.
      if (node.role === 'leader' && !leaderOfTerm.has(node.term)) {
        leaderOfTerm.set(node.term, node.id);
        for (const [index, c] of committed) {
          if (c.since < node.term) expect(node.termAt(index), `leader ${node.id} lacks committed ${index}`).toBe(c.term);
        }
      }
      if (node.role === 'leader') expect(leaderOfTerm.get(node.term), `two leaders in term ${node.term}`).toBe(node.id);
      // State Machine Safety: no two nodes commit different entries at one index.
      for (let i = (checkedCommit.get(node) ?? 0) + 1; i <= node.commitIndex; i++) {
        const term = node.termAt(i) as number;
        const known = committed.get(i);
        if (known === undefined) committed.set(i, { term, since: node.term });
        else {
          expect(term, `${node.id} committed a different entry at ${i}`).toBe(known.term);
          if (node.term < known.since) committed.set(i, { term, since: node.term });
        }
      }
      checkedCommit.set(node, node.commitIndex);
      const applied = net.applied.get(node.id) as Entry[];
      for (let i = checkedApplied.get(applied) ?? 0; i < applied.length; i++) {
        const ref = appliedRef[i];
        if (ref === undefined) appliedRef.push(applied[i] as Entry);
        else expect(applied[i], `${node.id} applied a different entry at ${i + 1}`).toEqual(ref);
      }
      checkedApplied.set(applied, applied.length);
    }
  };

  for (let tick = 0; tick < 500; tick++) {
    if (tick % 40 === 0) {
      net.heal();
      const roll = rng.int(0, 3);
      if (roll === 1) net.isolate(rng.pick(ids));
      if (roll === 2) for (const id of ids.slice(0, Math.floor(ids.length / 2))) net.isolate(id);
    }
    if (rng.chance(0.01)) net.restart(rng.pick(ids));
    for (const leader of net.leaders()) if (rng.chance(0.5)) leader.propose(incr());
    net.tick();
    check();
  }

  // Liveness: heal everything; a leader must emerge and commit a fresh entry everywhere.
  net.heal();
  lossRate = 0;
  net.tickUntil(() => net.leaders().length === 1, 400);
  const leader = net.leaders()[0];
  if (leader === undefined) throw new Error('no leader');
  const proposed = leader.propose(incr(1000));
  expect(proposed.ok).toBe(true);
  net.tickUntil(() => [...net.nodes.values()].every((n) => n.commitIndex >= leader.lastIndex), 200);
  check();
  expect(leaderOfTerm.size).toBeGreaterThan(0);
}

describe('safety under partitions, loss, reordering and restarts (Raft Figure 3)', () => {
  const only = process.env.SEED;
  const seeds = only !== undefined ? [Number(only)] : Array.from({ length: 20 }, (_, i) => i + 1);
  it.each(seeds)('seed %i', (seed) => runSeed(seed));
});
