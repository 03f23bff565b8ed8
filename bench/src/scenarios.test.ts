import { describe, expect, it } from 'vitest';
import { SCENARIOS, phaseAt, planScenario, scenarioApplies, schedulePhases } from './scenarios.js';

const NODES = ['n1', 'n2', 'n3'];

describe('schedulePhases', () => {
  it('splits the run into equal before / during / after windows that tile it', () => {
    const w = schedulePhases(6000);
    expect(w).toEqual([
      { phase: 'before', startMs: 0, endMs: 2000 },
      { phase: 'during', startMs: 2000, endMs: 4000 },
      { phase: 'after', startMs: 4000, endMs: 6000 },
    ]);
    expect(phaseAt(w, 0)).toBe('before');
    expect(phaseAt(w, 1999.9)).toBe('before');
    expect(phaseAt(w, 2000)).toBe('during');
    expect(phaseAt(w, 5999)).toBe('after');
    expect(phaseAt(w, 10_000)).toBe('after');
  });
});

describe('planScenario', () => {
  it('isolate-leader cuts the Raft leader off both ways, and labels it the minority', () => {
    const plan = planScenario({ scenario: 'isolate-leader', nodes: NODES, leader: 'n2', seed: 1 });
    expect(plan.fault).toEqual({ kind: 'partition', cuts: { n2: ['n1', 'n3'], n1: ['n2'], n3: ['n2'] } });
    expect(plan.sideOf).toEqual({ n1: 'majority', n2: 'minority', n3: 'majority' });
  });

  it('isolate-leader without a leader isolates the node clients favour (n1)', () => {
    const plan = planScenario({ scenario: 'isolate-leader', nodes: NODES, leader: null, seed: 1 });
    expect(plan.sideOf.n1).toBe('minority');
  });

  it('isolate-one never picks the leader, and the seed decides which follower', () => {
    const picked = new Set<string>();
    for (let seed = 0; seed < 50; seed++) {
      const plan = planScenario({ scenario: 'isolate-one', nodes: NODES, leader: 'n3', seed });
      const minority = Object.entries(plan.sideOf).filter(([, s]) => s === 'minority').map(([n]) => n);
      expect(minority).toHaveLength(1);
      expect(minority[0]).not.toBe('n3');
      picked.add(minority[0] as string);
      expect(planScenario({ scenario: 'isolate-one', nodes: NODES, leader: 'n3', seed })).toEqual(plan);
    }
    expect(picked).toEqual(new Set(['n1', 'n2']));
  });

  it('halves-with-bridge: the bridge talks to everyone, the halves not to each other, the leader is never the bridge', () => {
    for (const nodes of [NODES, ['n1', 'n2', 'n3', 'n4', 'n5']]) {
      for (let seed = 0; seed < 30; seed++) {
        const leader = nodes[seed % nodes.length] as string;
        const plan = planScenario({ scenario: 'halves-with-bridge', nodes, leader, seed });
        if (plan.fault.kind !== 'partition') throw new Error('expected a partition');
        const bridge = Object.entries(plan.sideOf).find(([, s]) => s === 'bridge')?.[0] as string;
        expect(bridge).not.toBe(leader);
        expect(plan.fault.cuts[bridge]).toEqual([]);
        const left = nodes.filter((n) => plan.sideOf[n] === 'left');
        const right = nodes.filter((n) => plan.sideOf[n] === 'right');
        expect(left.length + right.length + 1).toBe(nodes.length);
        for (const l of left) expect(new Set(plan.fault.cuts[l])).toEqual(new Set(right));
        for (const r of right) expect(new Set(plan.fault.cuts[r])).toEqual(new Set(left));
      }
    }
  });

  it('kill-leader kills the leader; flaky degrades every link; steady does nothing', () => {
    expect(planScenario({ scenario: 'kill-leader', nodes: NODES, leader: 'n2', seed: 0 }).fault).toEqual({ kind: 'kill', node: 'n2' });
    expect(planScenario({ scenario: 'kill-leader', nodes: NODES, leader: null, seed: 0 }).fault).toEqual({ kind: 'kill', node: 'n1' });
    expect(planScenario({ scenario: 'flaky', nodes: NODES, leader: null, seed: 0 }).fault).toEqual({ kind: 'links', spec: { delayMs: 20, jitterMs: 10, dropRate: 0.1 } });
    expect(planScenario({ scenario: 'steady', nodes: NODES, leader: 'n1', seed: 0 }).fault).toEqual({ kind: 'none' });
  });

  it('every scenario labels every node with a side', () => {
    for (const scenario of SCENARIOS) {
      const plan = planScenario({ scenario, nodes: NODES, leader: 'n1', seed: 3 });
      expect(Object.keys(plan.sideOf).sort()).toEqual(NODES);
    }
  });
});

describe('scenarioApplies', () => {
  it('runs only process-level scenarios against etcd, and kill only where processes are ours', () => {
    expect(scenarioApplies('steady', 'etcd', true)).toBeNull();
    expect(scenarioApplies('kill-leader', 'etcd', true)).toBeNull();
    expect(scenarioApplies('isolate-one', 'etcd', true)).toMatch(/no fault-injection API/);
    expect(scenarioApplies('kill-leader', 'raft', false)).toMatch(/process control/);
    expect(scenarioApplies('flaky', 'crdt', false)).toBeNull();
  });
});
