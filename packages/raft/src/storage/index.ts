export { checkSave, INITIAL_HARD_STATE, type DurableLog, type DurableState, type LogView } from './durable-state.js';
export { MemoryLog } from './memory-log.js';
export { LogCorruptError, LogFailedError } from '@playground/storage';
export { LOG_FILE_NAME, RaftLogFile, type OpenedLog, type RaftLogFileOptions } from './wal.js';
