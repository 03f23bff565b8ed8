import { assert } from '@playground/core';
import type { NodeId, Rng } from '@playground/core';
import type { Entry, HardState } from './types.js';

export interface RaftConfig {
  readonly id: NodeId;
  /** Every voter, this node included. */
  readonly peers: readonly NodeId[];
  /** Election timeouts are drawn from [min, max) ticks, anew on every term change (§5.2, §9.3). */
  readonly electionTimeoutMinTicks: number;
  readonly electionTimeoutMaxTicks: number;
  /** Well inside the election timeout, so that a healthy leader is never suspected. */
  readonly heartbeatTicks: number;
  /** The only randomness the core uses. */
  readonly rng: Rng;
  /** Pre-Vote (dissertation §9.6). */
  readonly preVote: boolean;
  /** CheckQuorum and leader lease (dissertation §6.2, §9.6; etcd's "in lease" rule). */
  readonly checkQuorum: boolean;
  /** Unacknowledged appends per follower in replicate state; at the bound, sending pauses. */
  readonly maxInflightAppends: number;
  /** Entries per AppendEntries message. */
  readonly maxEntriesPerAppend: number;
  /** Pending ReadIndex requests; at the bound, readIndex() answers `overloaded`. */
  readonly maxPendingReads: number;
}

/** Tick = 10 ms: elections after 150-300 ms, heartbeats every 50 ms (Raft §9.3). */
export const RAFT_DEFAULTS = {
  electionTimeoutMinTicks: 15,
  electionTimeoutMaxTicks: 30,
  heartbeatTicks: 5,
  preVote: true,
  checkQuorum: true,
  maxInflightAppends: 64,
  maxEntriesPerAppend: 512,
  maxPendingReads: 4096,
} as const satisfies Partial<RaftConfig>;

/** What the durable log held at startup (entries from index 1; no snapshots in v1). */
export interface RaftRestoreState {
  readonly hardState: HardState;
  readonly entries: readonly Entry[];
  /**
   * Added: the last index the (durable) state machine has already applied, so that a restart
   * does not hand those entries out again. Defaults to 0 (the state machine replays the log).
   */
  readonly appliedIndex?: number;
}

export function validateConfig(config: RaftConfig): void {
  const { id, peers } = config;
  assert(peers.includes(id), () => `peers ${JSON.stringify(peers)} must include this node ${id}`);
  assert(new Set(peers).size === peers.length, () => `peers ${JSON.stringify(peers)} has duplicates`);
  const positive = (name: keyof RaftConfig): void => {
    const value = config[name];
    assert(Number.isInteger(value) && (value as number) >= 1, () => `${name} must be an integer >= 1, got ${String(value)}`);
  };
  positive('electionTimeoutMinTicks');
  positive('electionTimeoutMaxTicks');
  positive('heartbeatTicks');
  positive('maxInflightAppends');
  positive('maxEntriesPerAppend');
  positive('maxPendingReads');
  assert(
    config.electionTimeoutMinTicks < config.electionTimeoutMaxTicks,
    () => `electionTimeoutMinTicks ${config.electionTimeoutMinTicks} must be < electionTimeoutMaxTicks ${config.electionTimeoutMaxTicks}`,
  );
  assert(
    config.heartbeatTicks < config.electionTimeoutMinTicks,
    () => `heartbeatTicks ${config.heartbeatTicks} must be < electionTimeoutMinTicks ${config.electionTimeoutMinTicks}`,
  );
}

export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}
