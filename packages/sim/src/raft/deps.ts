/**
 * The Raft code under test: the pure core and the replicated counter, through the package's
 * sans-I/O entry points (not its index, which also loads the HTTP driver and the file log that
 * the simulator replaces).
 */
export { RaftCore, RAFT_DEFAULTS } from '@playground/raft/core';
export type { AppendRequest, AppendResponse, Entry, HardState, Message, Ready, RaftConfig, RaftRestoreState, Role } from '@playground/raft/core';
export { CounterStateMachine } from '@playground/raft/statemachine';
