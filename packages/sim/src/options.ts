/**
 * Everything a random run varies, picked from its seed (TigerBeetle's VOPR style): one number
 * replays the cluster size, the network's weather, the fault schedule and the workload.
 */
import { Rng } from '@playground/core';
import { CLIENT_DEFAULTS, type ClientOptions } from './clients.js';
import type { NetworkOptions } from './network.js';

export interface RunOptions {
  readonly seed: number;
  readonly nodes: number;
  /** The faulty phase. */
  readonly safetyMs: number;
  /** After healing, the cluster must converge within this much virtual time. */
  readonly livenessBoundMs: number;
  readonly network: NetworkOptions;
  /** Mean pause between two fault actions (partition, heal, crash, restart, weather). */
  readonly faultEveryMs: number;
  /** 0 disables crashes (and with it disk loss). */
  readonly crashWeight: number;
  readonly partitionWeight: number;
  readonly fsyncMaxMs: number;
  readonly client: ClientOptions;
  /** Wall-clock budget of the linearizability check; past it the verdict is 'unknown'. */
  readonly linearizableBudgetMs: number;
}

export type RunOverrides = Partial<Omit<RunOptions, 'network' | 'client'>> & {
  readonly network?: Partial<NetworkOptions>;
  readonly client?: Partial<ClientOptions>;
};

export function optionsForSeed(seed: number, overrides: RunOverrides = {}): RunOptions {
  const rng = new Rng(seed ^ 0x51e0_0001);
  const lossy = rng.chance(0.5);
  const picked: RunOptions = {
    seed,
    nodes: rng.pick([3, 3, 4, 5, 5, 6, 7]),
    safetyMs: rng.int(2_000, 6_000),
    livenessBoundMs: 20_000,
    network: {
      delayMs: 0.5 + rng.float() * 5,
      jitterMs: rng.float() * 20,
      lossRate: lossy ? rng.float() * 0.15 : 0,
      duplicateRate: rng.chance(0.5) ? rng.float() * 0.1 : 0,
      longDelayRate: rng.chance(0.5) ? rng.float() * 0.03 : 0,
      longDelayMs: rng.int(100, 2_000),
    },
    faultEveryMs: rng.int(100, 1_500),
    crashWeight: rng.chance(0.8) ? 2 : 0,
    partitionWeight: rng.chance(0.8) ? 3 : 0,
    fsyncMaxMs: 0.2 + rng.float() * 8,
    client: {
      ...CLIENT_DEFAULTS,
      clients: rng.int(1, 5),
      keys: rng.chance(0.7) ? ['counter'] : ['counter', 'other'],
      readRate: 0.2 + rng.float() * 0.3,
      thinkMs: rng.int(1, 50),
      timeoutMs: rng.int(200, 1_500),
    },
    linearizableBudgetMs: 5_000,
  };
  return {
    ...picked,
    ...overrides,
    network: { ...picked.network, ...overrides.network },
    client: { ...picked.client, ...overrides.client },
  };
}

/** One line: `nodes=5 safetyMs=3000 loss=0.05 ...`. */
export function describeOptions(o: RunOptions): string {
  const n = o.network;
  const c = o.client;
  const f = (x: number): string => String(Math.round(x * 1000) / 1000);
  return [
    `nodes=${o.nodes}`,
    `safetyMs=${o.safetyMs}`,
    `delayMs=${f(n.delayMs)}+${f(n.jitterMs)}`,
    `loss=${f(n.lossRate)}`,
    `dup=${f(n.duplicateRate)}`,
    `longDelay=${f(n.longDelayRate)}x${n.longDelayMs}ms`,
    `faultEveryMs=${o.faultEveryMs}`,
    `crashes=${o.crashWeight > 0 ? 'on' : 'off'}`,
    `partitions=${o.partitionWeight > 0 ? 'on' : 'off'}`,
    `fsyncMaxMs=${f(o.fsyncMaxMs)}`,
    `clients=${c.clients}`,
    `keys=${c.keys.join(',')}`,
    `timeoutMs=${c.timeoutMs}`,
  ].join(' ');
}
