/**
 * The vocabulary of the pure Raft core (etcd-io/raft style: step, tick, ready, advance).
 * Shared by the core, the durable log, the state machine, the driver and the simulator.
 * Everything here is plain data: it crosses the wire as msgpack and lands on disk unchanged.
 */
import type { NodeId } from '@playground/core';

/** A client increment, as it is replicated. */
export interface IncrCommand {
  readonly kind: 'incr';
  readonly key: string;
  /** A safe integer; validated before it is proposed. */
  readonly delta: number;
  /** The client's Idempotency-Key, if any: the state machine applies each key at most once. */
  readonly idem?: string;
  /**
   * The leader's wall clock (ms since the epoch) when it proposed the entry. The state machine
   * uses it, never its own clock, to expire old idempotency keys, so every replica expires
   * the same keys at the same log position (determinism, Raft dissertation §6.3).
   */
  readonly proposedAtMs: number;
}

export type Command = IncrCommand;

export interface Entry {
  readonly term: number;
  readonly index: number;
  /** null: the no-op a new leader appends to commit its predecessors' entries (Raft §5.4.2, Figure 8). */
  readonly command: Command | null;
}

/** What must be on disk before any message that depends on it leaves the node (Raft Figure 2). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

export type Role = 'follower' | 'pre-candidate' | 'candidate' | 'leader';

export interface SoftState {
  readonly role: Role;
  readonly leader: NodeId | null;
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** RequestVote (Raft §5.2) and its Pre-Vote twin (dissertation §9.6): term is the term it would campaign in. */
export interface VoteRequest extends Envelope {
  readonly type: 'vote' | 'prevote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

export interface VoteResponse extends Envelope {
  readonly type: 'vote_resp' | 'prevote_resp';
  readonly granted: boolean;
}

/** AppendEntries (Raft §5.3). */
export interface AppendRequest extends Envelope {
  readonly type: 'app';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

export interface AppendResponse extends Envelope {
  readonly type: 'app_resp';
  readonly reject: boolean;
  /** Accepted: the index of the last entry now matching the leader's. Rejected: the prevIndex that failed. */
  readonly index: number;
  /** Fast backup (Raft §5.3, the "optimization" paragraph): the follower's term at `hintIndex`, or 0. */
  readonly hintTerm: number;
  /** Fast backup: the first index the leader should try next. */
  readonly hintIndex: number;
}

/**
 * Heartbeats also carry ReadIndex contexts (dissertation §6.4): a leader confirms it still
 * leads by a quorum of heartbeat responses carrying the same context.
 */
export interface Heartbeat extends Envelope {
  readonly type: 'hb';
  readonly commit: number;
  readonly context: string | null;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'hb_resp';
  readonly context: string | null;
}

export type Message = VoteRequest | VoteResponse | AppendRequest | AppendResponse | Heartbeat | HeartbeatResponse;

/** A linearizable read is safe once this node has applied up to `index`. */
export interface ReadState {
  readonly context: string;
  readonly index: number;
}

/**
 * What the driver must do, in order: persist hardState and entries (fsync), then send messages,
 * then apply committed entries, then serve readStates once applied; then call advance().
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  /** Entries to append to the durable log; an entry at an existing index overwrites it and everything after. */
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly committed: readonly Entry[];
  readonly readStates: readonly ReadState[];
}
