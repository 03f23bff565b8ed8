import type { NodeId } from '@playground/core';
import type { ProgressView } from './progress.js';
import type { Role } from './types.js';

/** Expected refusals are values (the driver maps them to 503 / a forward to the leader). */
export type NotLeader = { readonly kind: 'not_leader'; readonly leader: NodeId | null };
export type ReadIndexError = NotLeader | { readonly kind: 'not_ready' } | { readonly kind: 'overloaded' };

/** A snapshot for /status, the simulator's checkers and tests. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly vote: NodeId | null;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly persistedIndex: number;
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly pendingReads: number;
  /** Leader only: the leader's view of each voter (its own row: match = its persisted index). */
  readonly progress: Record<NodeId, ProgressView> | null;
}

