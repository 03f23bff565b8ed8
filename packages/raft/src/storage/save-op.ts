/** One save as it is stored in a record, and the shape check recovery runs on decoded bytes. */
import type { Entry, HardState } from '../core/types.js';

export interface SaveOp {
  /** Cut the log after this index before appending (Raft §5.3), or null to append. */
  readonly truncateAfter: number | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isHardState(value: unknown): value is HardState {
  return (
    isObject(value) &&
    typeof value.term === 'number' &&
    typeof value.commit === 'number' &&
    (value.vote === null || typeof value.vote === 'string')
  );
}

function isEntry(value: unknown): value is Entry {
  if (!isObject(value) || typeof value.term !== 'number' || typeof value.index !== 'number') return false;
  const command = value.command;
  if (command === null) return true;
  return (
    isObject(command) &&
    command.kind === 'incr' &&
    typeof command.key === 'string' &&
    typeof command.delta === 'number' &&
    typeof command.proposedAtMs === 'number' &&
    (command.idem === undefined || typeof command.idem === 'string')
  );
}

export function isSaveOp(value: unknown): value is SaveOp {
  return (
    isObject(value) &&
    (value.truncateAfter === null || typeof value.truncateAfter === 'number') &&
    (value.hardState === null || isHardState(value.hardState)) &&
    Array.isArray(value.entries) &&
    value.entries.every(isEntry)
  );
}
