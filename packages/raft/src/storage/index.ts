export { checkSave, INITIAL_HARD_STATE, type DurableLog, type DurableState, type LogView } from './durable-state.js';
export { MemoryLog } from './memory-log.js';
export { LOG_FILE_NAME, LogCorruptError, LogFailedError, RaftLogFile, type OpenedLog, type RaftLogFileOptions } from './wal.js';
