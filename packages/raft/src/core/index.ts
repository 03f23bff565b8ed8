/** The pure Raft core: tick / step / propose / readIndex in, Ready out (etcd-io/raft style). */
export * from './types.js';
export { RAFT_DEFAULTS, quorumOf } from './config.js';
export type { RaftConfig, RaftRestoreState } from './config.js';
export { RaftCore } from './raft.js';
export type { NotLeader, RaftStatus, ReadIndexError } from './status.js';
export type { ProgressState, ProgressView } from './progress.js';
