/**
 * Every topology the simulator runs, by name: what `npm run sim -- --topology <name>` and the
 * random-seed tests use. A seed picks the run's options (options.ts) and, for leaderless, the
 * quorum knobs too, so that one number replays a run exactly.
 */
import { Rng } from '@playground/core';
import { crdtSimTopology } from '@playground/crdt';
import { leaderlessSimTopology } from './leaderless/deps.js';
import { optionsForSeed, type RunOverrides } from './options.js';
import { replayCommand as raftReplayCommand, runRaftSeed } from './raft/run.js';
import { runSeed, type RunResult } from './run.js';

export const SIM_TOPOLOGIES = ['raft', 'leaderless', 'crdt'] as const;
export type SimTopologyName = (typeof SIM_TOPOLOGIES)[number];

export function isSimTopologyName(name: string): name is SimTopologyName {
  return (SIM_TOPOLOGIES as readonly string[]).includes(name);
}

/** Knobs of a topology that are not seeded: `--resolve lww` shows leaderless losing increments. */
export interface TopologyFlags {
  readonly resolve?: 'merge' | 'lww';
}

/** Leaderless quorum knobs picked from the seed (N=3 of 3-7 nodes; any W and R; sloppy or strict). */
export function leaderlessKnobsForSeed(seed: number): { n: number; w: number; r: number; sloppyQuorum: boolean; readRepair: boolean } {
  const rng = new Rng(seed ^ 0x1ead_1e55);
  return { n: 3, w: rng.int(1, 3), r: rng.int(1, 3), sloppyQuorum: rng.chance(0.5), readRepair: rng.chance(0.8) };
}

/** One line naming the topology's seeded knobs (empty for Raft and CRDT). */
export function describeTopology(name: SimTopologyName, seed: number, flags: TopologyFlags = {}): string {
  if (name !== 'leaderless') return '';
  const k = leaderlessKnobsForSeed(seed);
  return `resolve=${flags.resolve ?? 'merge'} n=${k.n} w=${k.w} r=${k.r} sloppy=${k.sloppyQuorum ? 'on' : 'off'} readRepair=${k.readRepair ? 'on' : 'off'}`;
}

/** The CLI command that replays a run (only the flags the CLI has). */
export function replayCommandFor(name: SimTopologyName, seed: number, overrides: RunOverrides = {}, flags: TopologyFlags = {}): string {
  const raft = raftReplayCommand(seed, overrides).replace('--topology raft', `--topology ${name}`);
  return flags.resolve === undefined || flags.resolve === 'merge' ? raft : `${raft} --resolve ${flags.resolve}`;
}

export function runTopologySeed(name: SimTopologyName, seed: number, overrides: RunOverrides = {}, flags: TopologyFlags = {}): RunResult {
  if (name === 'raft') return runRaftSeed(seed, overrides);
  const options = optionsForSeed(seed, overrides);
  const replay = replayCommandFor(name, seed, overrides, flags);
  if (name === 'crdt') return runSeed({ topology: { ...crdtSimTopology(), consistency: 'eventual' as const }, options, replay });
  const topology = leaderlessSimTopology({ ...leaderlessKnobsForSeed(seed), resolve: flags.resolve ?? 'merge' });
  return runSeed({ topology, options, replay });
}
