/**
 * The durable append-only log that the three topologies share: record framing (record.ts),
 * recovery that cuts a torn tail and refuses corruption in the middle (recover.ts), the
 * group-commit appender (group-commit.ts) and whole-file atomic replacement (atomic-file.ts).
 * Each topology keeps its own file names, record types and replay.
 */
export { readFileWrittenAtomically, writeFileAtomically, type AtomicWriteOptions } from './atomic-file.js';
export { GroupCommitLog, LogFailedError, type FlushPoint, type GroupCommitOptions, type LogRewrite } from './group-commit.js';
export { findValidRecord, frameRecord, MAX_RECORD_PAYLOAD_BYTES, readRecordAt, RECORD_HEADER_BYTES, type RecordRead } from './record.js';
export { LogCorruptError, recoverLog, scanRecords, type RecoveredLog, type RecoverOptions, type ScannedLog, type ScannedRecord } from './recover.js';
export { openBatchLog, unpackBatch, type BatchLog, type Codec } from './batch.js';
