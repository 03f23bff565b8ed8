/** A random Raft run from a seed: the entry point of the CLI and of the random-seed tests. */
import { optionsForSeed, type RunOverrides } from '../options.js';
import { runSeed, type RunResult } from '../run.js';
import { raftTopology, type RaftTopologyOptions } from './topology.js';

/** The CLI flags that reproduce `overrides` (only the ones the CLI has). */
export function replayCommand(seed: number, overrides: RunOverrides = {}): string {
  const flags = [`--topology raft`, `--seed ${seed}`];
  if (overrides.nodes !== undefined) flags.push(`--nodes ${overrides.nodes}`);
  if (overrides.safetyMs !== undefined) flags.push(`--safety-ms ${overrides.safetyMs}`);
  if (overrides.client?.clients !== undefined) flags.push(`--clients ${overrides.client.clients}`);
  return `npm run sim -- ${flags.join(' ')}`;
}

export function runRaftSeed(seed: number, overrides: RunOverrides = {}, topology: RaftTopologyOptions = {}): RunResult {
  const options = optionsForSeed(seed, overrides);
  const replay =
    topology.makeCore === undefined && topology.driverFaults === undefined
      ? replayCommand(seed, overrides)
      : `${replayCommand(seed, overrides)} (with the test's broken core or driver)`;
  return runSeed({ topology: raftTopology(topology), options, replay });
}
