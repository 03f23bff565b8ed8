/**
 * Partition shapes (Jepsen's nemesis vocabulary) as sets of cut links, and the random fault
 * schedule of a safety phase: partitions, heals, crashes, restarts, network weather.
 */
import type { NodeId, Rng } from '@playground/core';
import type { SimNetwork } from './network.js';

export type PartitionShape = 'isolate-one' | 'isolate-leader' | 'halves' | 'bridge' | 'majorities-ring' | 'one-way' | 'random-links';
export const PARTITION_SHAPES: readonly PartitionShape[] = [
  'isolate-one',
  'isolate-leader',
  'halves',
  'bridge',
  'majorities-ring',
  'one-way',
  'random-links',
];

/**
 * Cuts links in `network` to make `shape` (on top of what is cut already). Returns a
 * description for the trace. `leader` is who 'isolate-leader' isolates (a random node if null).
 */
export function applyPartition<M>(network: SimNetwork<M>, ids: readonly NodeId[], shape: PartitionShape, rng: Rng, leader: NodeId | null): string {
  const shuffled = rng.shuffle([...ids]);
  switch (shape) {
    case 'isolate-one':
    case 'isolate-leader': {
      const victim = shape === 'isolate-leader' && leader !== null ? leader : (shuffled[0] as NodeId);
      network.separate([victim], ids);
      return `${shape} ${victim}`;
    }
    case 'halves': {
      const cut = Math.floor(ids.length / 2);
      const a = shuffled.slice(0, cut);
      const b = shuffled.slice(cut);
      network.separate(a, b);
      return `halves ${a.join(',')} | ${b.join(',')}`;
    }
    case 'bridge': {
      // Two halves that cannot talk, and one node that talks to both (Jepsen's bridge).
      const bridge = shuffled[0] as NodeId;
      const rest = shuffled.slice(1);
      const a = rest.slice(0, Math.floor(rest.length / 2));
      const b = rest.slice(Math.floor(rest.length / 2));
      network.separate(a, b);
      return `bridge ${bridge} between ${a.join(',')} | ${b.join(',')}`;
    }
    case 'majorities-ring': {
      // Each node sees its neighbours on a ring: every node sees a majority (or nearly), no two the same one.
      const reach = Math.max(1, Math.ceil(Math.floor(ids.length / 2) / 2));
      for (let i = 0; i < shuffled.length; i++) {
        for (let j = 0; j < shuffled.length; j++) {
          const distance = Math.min(Math.abs(i - j), shuffled.length - Math.abs(i - j));
          if (distance > reach) network.cutLink(shuffled[i] as NodeId, shuffled[j] as NodeId);
        }
      }
      return `majorities-ring ${shuffled.join('-')} (reach ${reach})`;
    }
    case 'one-way': {
      // A node that can send but not receive (or the reverse): asymmetric faults.
      const victim = shuffled[0] as NodeId;
      const inbound = rng.chance(0.5);
      for (const other of ids) if (other !== victim) inbound ? network.cutLink(other, victim) : network.cutLink(victim, other);
      return `one-way ${victim} ${inbound ? 'deaf' : 'mute'}`;
    }
    case 'random-links': {
      const cut: string[] = [];
      for (const a of ids) {
        for (const b of ids) {
          if (a !== b && rng.chance(0.3)) {
            network.cutLink(a, b);
            cut.push(`${a}>${b}`);
          }
        }
      }
      return `random-links ${cut.join(' ') || 'none'}`;
    }
  }
}
