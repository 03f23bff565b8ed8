/**
 * Reading a log file back at start: every record in order, then what to do about the end.
 *
 * A bad record with nothing valid after it is a torn tail: a crash in the middle of an append.
 * Nothing in it was acknowledged (an append resolves only after its fdatasync, see
 * group-commit.ts; Raft's unsynced saves only move the commit index, which the leader tells
 * again), so it is cut off. A bad record followed by a valid one does not come from a
 * crash, because each group commit was synced before the next one was written: it is damage (a
 * bad disk, a stray write). Cutting there would silently drop acknowledged records, replaying
 * past it would use garbage, so the file is refused (LogCorruptError, naming the file and the
 * byte offset) and the node does not start: an operator must look.
 *
 * Each write is ONE record (group-commit.ts: a group commit, with the unsynced appends held back
 * for it, or what is held at close), fdatasynced before the next is written, so a crash can
 * tear only the last record: a valid one after a bad one cannot be the crash's doing.
 */
import { open } from 'node:fs/promises';
import { readFileWrittenAtomically, writeFileAtomically } from './atomic-file.js';
import { findValidRecord, readRecordAt } from './record.js';

/** The file is not a valid log; the node must not start on it (an operator must look). */
export class LogCorruptError extends Error {
  override name = 'LogCorruptError';
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: corrupt at byte ${offset}: ${reason}`, options);
  }
}

export interface ScannedRecord {
  /** Where the record starts in the file. */
  readonly offset: number;
  readonly payload: Uint8Array;
}

export interface ScannedLog {
  readonly records: ScannedRecord[];
  /** Where the last valid record ends: the file's length once a torn tail is cut. */
  readonly validBytes: number;
  /** Why the bytes after validBytes are not a record (a torn tail), or null when there are none. */
  readonly tailReason: string | null;
}

/**
 * The records of `bytes` (the contents of `file`) from `from` on. Throws LogCorruptError on a
 * bad record that a valid one follows; a bad record with nothing valid after it ends the scan.
 */
export function scanRecords(file: string, bytes: Buffer, from = 0): ScannedLog {
  const records: ScannedRecord[] = [];
  let offset = from;
  while (offset < bytes.length) {
    const record = readRecordAt(bytes, offset);
    if (!record.ok) {
      const next = findValidRecord(bytes, offset + 1);
      if (next !== null) throw new LogCorruptError(file, offset, `${record.reason}, yet a valid record follows at byte ${next}: not a torn append`);
      return { records, validBytes: offset, tailReason: record.reason };
    }
    records.push({ offset, payload: record.payload });
    offset = record.end;
  }
  return { records, validBytes: offset, tailReason: null };
}

export interface RecoverOptions<T> {
  /** Bytes every file of this kind starts with: written when the file is created, checked when it is read. */
  readonly header?: Uint8Array;
  /** fsync what recovery writes: the new file, the cut (default true). */
  readonly fsync?: boolean;
  /** Reads one record's payload; throws if it makes no sense (the file is then refused at that record). */
  readonly decode: (payload: Uint8Array) => T;
}

export interface RecoveredLog<T> {
  /** Every record, decoded, in file order. */
  readonly records: T[];
  /** The file's length now: where the last valid record ends. */
  readonly validBytes: number;
  /** Bytes of torn tail cut off the end, 0 normally. */
  readonly truncatedBytes: number;
  /** Why the cut bytes were not a record, or null when nothing was cut. */
  readonly tailReason: string | null;
}

/**
 * Opens the log at `path` for recovery: creates it (durably, holding just the header) if there
 * is none, reads and decodes every record, and cuts a torn tail off. Throws LogCorruptError,
 * having changed nothing, when the file is damaged: a wrong header, corruption in the middle,
 * or a record whose checksum holds but whose payload `decode` refuses.
 */
export async function recoverLog<T>(path: string, options: RecoverOptions<T>): Promise<RecoveredLog<T>> {
  const header = Buffer.from(options.header ?? []);
  const fsync = options.fsync ?? true;
  let bytes = await readFileWrittenAtomically(path);
  if (bytes === null) {
    await writeFileAtomically(path, [header], { fsync });
    bytes = header;
  }
  if (!bytes.subarray(0, header.length).equals(header)) {
    throw new LogCorruptError(path, 0, `expected the header ${JSON.stringify(header.toString('latin1'))}`);
  }
  const scanned = scanRecords(path, bytes, header.length);
  const records = scanned.records.map(({ offset, payload }) => {
    try {
      return options.decode(payload);
    } catch (error) {
      throw new LogCorruptError(path, offset, `checksum ok, yet the record makes no sense: ${(error as Error).message}`, { cause: error });
    }
  });
  const truncatedBytes = bytes.length - scanned.validBytes;
  if (truncatedBytes > 0) {
    const handle = await open(path, 'r+');
    try {
      await handle.truncate(scanned.validBytes);
      if (fsync) await handle.datasync();
    } finally {
      await handle.close();
    }
  }
  return { records, validBytes: scanned.validBytes, truncatedBytes, tailReason: scanned.tailReason };
}
