/**
 * The scenario catalogue and its scheduler. Every run has three phases: before (healthy),
 * during (the fault), after (healed). A scenario says which fault, on which nodes, and how the
 * nodes split into sides, so that every operation can be filed under the side its node was on.
 * This file is pure: the runner asks it what to do and when, then does it.
 */
import { Rng } from '@playground/core';

export const SCENARIOS = ['steady', 'isolate-one', 'isolate-leader', 'halves-with-bridge', 'flaky', 'kill-leader'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export const PHASES = ['before', 'during', 'after'] as const;
export type PhaseName = (typeof PHASES)[number];

export const SCENARIO_HELP: Readonly<Record<ScenarioName, string>> = {
  steady: 'no faults: the baseline',
  'isolate-one': 'cut one follower (Raft) or one node (others) off from its peers; clients still reach it',
  'isolate-leader': 'cut the leader (Raft) or the node clients favour, n1 (others) off from its peers',
  'halves-with-bridge': "Jepsen's bridge: two halves that cannot talk, and one node that talks to both",
  flaky: 'every peer link loses 10% of messages and is delayed 20 ms +/- 10',
  'kill-leader': 'kill -9 the leader (Raft) or n1 (others), restart it at the heal',
};

/** What the runner must do at the start of the fault and undo at the heal. */
export type FaultPlan =
  | { kind: 'none' }
  /** Each listed node gets `cut` as its partition (both directions, blackhole). */
  | { kind: 'partition'; cuts: Record<string, string[]> }
  | { kind: 'links'; spec: { delayMs: number; jitterMs: number; dropRate: number } }
  | { kind: 'kill'; node: string };

export interface ScenarioPlan {
  scenario: ScenarioName;
  fault: FaultPlan;
  /** Which side each node is on for the whole run (the labels of the per-side measures). */
  sideOf: Record<string, string>;
  /** One line for people: what happens to whom. */
  description: string;
}

export interface PlanInput {
  scenario: ScenarioName;
  nodes: readonly string[];
  /** The Raft leader (or the etcd leader) when the fault starts; null for leaderless topologies. */
  leader: string | null;
  seed: number;
}

/**
 * Decides the fault's targets. Deterministic in (scenario, nodes, leader, seed): a seed
 * picks the follower to isolate and the bridge layout, so a run can be repeated.
 */
export function planScenario(input: PlanInput): ScenarioPlan {
  const { scenario, nodes, leader } = input;
  const rng = new Rng(input.seed);
  const all = (label: string): Record<string, string> => Object.fromEntries(nodes.map((n) => [n, label]));
  const favoured = leader ?? (nodes[0] as string);
  const isolate = (target: string, who: string): ScenarioPlan => {
    const others = nodes.filter((n) => n !== target);
    const cuts: Record<string, string[]> = { [target]: others };
    for (const o of others) cuts[o] = [target];
    const sideOf = all('majority');
    sideOf[target] = 'minority';
    return { scenario, fault: { kind: 'partition', cuts }, sideOf, description: `${target} (${who}) cut off from ${others.join(', ')}` };
  };
  switch (scenario) {
    case 'steady':
      return { scenario, fault: { kind: 'none' }, sideOf: all('all'), description: 'no faults' };
    case 'isolate-one': {
      const candidates = nodes.filter((n) => n !== leader);
      const target = candidates[rng.nextU32() % candidates.length] as string;
      return isolate(target, leader === null ? 'a node' : 'a follower');
    }
    case 'isolate-leader':
      return isolate(favoured, leader === null ? 'the node clients favour' : 'the leader');
    case 'halves-with-bridge': {
      // Shuffle, then left | bridge | right; the leader (if any) never is the bridge, so that
      // the bridge's double allegiance is what decides, as in Jepsen's nemesis.
      const order = shuffle([...nodes], rng);
      if (leader !== null && order.length >= 3) {
        const at = order.indexOf(leader);
        const mid = Math.floor((order.length - 1) / 2);
        if (at === mid) [order[0], order[mid]] = [order[mid] as string, order[0] as string];
      }
      const mid = Math.floor((order.length - 1) / 2);
      const left = order.slice(0, mid);
      const bridge = order[mid] as string;
      const right = order.slice(mid + 1);
      const cuts: Record<string, string[]> = { [bridge]: [] };
      for (const n of left) cuts[n] = [...right];
      for (const n of right) cuts[n] = [...left];
      const sideOf: Record<string, string> = {};
      for (const n of left) sideOf[n] = 'left';
      for (const n of right) sideOf[n] = 'right';
      sideOf[bridge] = 'bridge';
      return {
        scenario,
        fault: { kind: 'partition', cuts },
        sideOf,
        description: `${left.join(',')} | ${bridge} (bridge, sees both) | ${right.join(',')}`,
      };
    }
    case 'flaky':
      return {
        scenario,
        fault: { kind: 'links', spec: { delayMs: 20, jitterMs: 10, dropRate: 0.1 } },
        sideOf: all('all'),
        description: 'every peer link: 10% loss, 20 ms +/- 10 delay',
      };
    case 'kill-leader': {
      const sideOf = all('survivors');
      sideOf[favoured] = 'killed';
      return { scenario, fault: { kind: 'kill', node: favoured }, sideOf, description: `kill -9 ${favoured} (${leader === null ? 'n1, the node clients favour' : 'the leader'}), restart at the heal` };
    }
  }
}

function shuffle<T>(items: T[], rng: Rng): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.nextU32() % (i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

export interface PhaseWindow {
  phase: PhaseName;
  startMs: number;
  endMs: number;
}

/** Equal thirds of the run: before, during the fault, after the heal. */
export function schedulePhases(durationMs: number): PhaseWindow[] {
  const third = durationMs / 3;
  return PHASES.map((phase, i) => ({ phase, startMs: Math.round(i * third), endMs: Math.round((i + 1) * third) }));
}

/** The phase an instant (ms since the run's start) falls in; past the end it is 'after'. */
export function phaseAt(windows: readonly PhaseWindow[], atMs: number): PhaseName {
  for (const w of windows) if (atMs < w.endMs) return w.phase;
  return 'after';
}

/** Which scenarios apply where: etcd has no fault API, so only process-level scenarios. */
export function scenarioApplies(scenario: ScenarioName, topology: string, canKill: boolean): string | null {
  if (topology === 'etcd' && !['steady', 'kill-leader'].includes(scenario)) return 'etcd has no fault-injection API (only steady and kill-leader run against it)';
  if (scenario === 'kill-leader' && !canKill) return 'kill-leader needs process control (not available with --endpoints)';
  return null;
}
