/**
 * The topologies the executable knows. Loaded lazily: a node only pays for the one it runs.
 */
import type { TopologyModule } from '@playground/core';
import type { TopologyName } from './flags.js';

export async function loadTopology(name: TopologyName): Promise<TopologyModule> {
  switch (name) {
    case 'raft':
      return (await import('@playground/raft')).raftTopology;
    case 'leaderless':
      return (await import('@playground/leaderless')).leaderlessTopology;
    case 'crdt':
      return (await import('@playground/crdt')).crdtTopology;
  }
}
