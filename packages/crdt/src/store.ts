/**
 * Durable CRDT state: a snapshot of the full state plus a write-ahead log of the deltas merged
 * since. Every record is a join-decomposed delta, so recovery is "merge the snapshot, then
 * merge every record" and replaying a record twice is harmless.
 *
 * Both files hold msgpack payloads in @playground/storage's records. The log is read back with
 * recoverLog: a torn tail (a crash in the middle of a write) is cut; no record in it was
 * acknowledged, because a record is acknowledged only after its fsync and records are written
 * in order. Corruption in the middle refuses to start: cutting there would drop acknowledged
 * deltas.
 *
 * Group commit (GroupCommitLog, flushed in the check phase): the appends of one event-loop turn
 * go out in one write and one fdatasync, made after every request read in that poll has been
 * handled; N concurrent increments cost about one fsync, not N. The batch is ONE record (a
 * msgpack array of the appends), so that a crash can tear only the last record. After a failed write or fsync
 * the store takes no more writes (`failed`).
 *
 * Snapshot: written with writeFileAtomically (temporary file, fsync, rename, directory fsync),
 * then the log is truncated, both in one exclusive task of the log: appends made meanwhile wait
 * and go to the emptied log. A crash before the rename leaves the old snapshot and the full log;
 * after it, the new snapshot and a log whose records it already holds.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { assert } from '@playground/core';
import {
  frameRecord,
  LogCorruptError,
  openBatchLog,
  readFileWrittenAtomically,
  readRecordAt,
  writeFileAtomically,
  type GroupCommitLog,
} from '@playground/storage';
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

export interface Recovered {
  readonly snapshot: unknown | null;
  readonly records: unknown[];
  /** Bytes cut from the end of the log (a torn write), 0 normally. */
  readonly truncatedBytes: number;
}

export class CrdtStore {
  private log: GroupCommitLog<Uint8Array> | null = null;

  constructor(private readonly dir: string) {}

  private get walPath(): string {
    return join(this.dir, 'crdt-wal.log');
  }

  private get snapshotPath(): string {
    return join(this.dir, 'crdt-snapshot.bin');
  }

  /** Reads what is on disk (cutting a torn tail) and opens the log for appending. */
  async open(): Promise<Recovered> {
    await mkdir(this.dir, { recursive: true });
    const snapshot = await this.readSnapshot();
    const { log, records, truncatedBytes } = await openBatchLog(this.walPath, packr);
    this.log = log;
    return { snapshot, records, truncatedBytes };
  }

  /** Resolves once the record is on disk (fdatasync). Rejects if the disk failed: then every later write fails too. */
  append(payload: unknown): Promise<void> {
    return this.opened().append(packr.pack(payload));
  }

  /**
   * Replaces snapshot + log by `payload`, which must hold every record appended so far: call
   * it only when no append is pending (the driver waits until every append has been merged).
   */
  snapshot(payload: unknown): Promise<void> {
    const log = this.opened();
    assert(log.pending === 0, 'snapshot with appends pending');
    const bytes = frameRecord(packr.pack(payload));
    return log.exclusive(async (file) => {
      await writeFileAtomically(this.snapshotPath, [bytes]);
      await file.truncate();
    });
  }

  get logBytes(): number {
    return this.log?.bytes ?? 0;
  }

  get fsyncCount(): number {
    return this.log?.fsyncs ?? 0;
  }

  get failed(): boolean {
    return this.log?.failed ?? false;
  }

  async close(): Promise<void> {
    await this.log?.close();
  }

  private opened(): GroupCommitLog<Uint8Array> {
    assert(this.log, 'store is not open');
    return this.log;
  }

  /** The snapshot is renamed into place whole: a bad one is not a torn write, it is damage. */
  private async readSnapshot(): Promise<unknown | null> {
    const path = this.snapshotPath;
    const bytes = await readFileWrittenAtomically(path);
    if (bytes === null) return null;
    const record = readRecordAt(bytes, 0);
    if (!record.ok) throw new LogCorruptError(path, 0, `snapshot unreadable (${record.reason}); refusing to start`);
    if (record.end !== bytes.length) throw new LogCorruptError(path, record.end, 'bytes after the snapshot record; refusing to start');
    try {
      return packr.unpack(record.payload);
    } catch (error) {
      throw new LogCorruptError(path, 0, `checksum ok, yet the snapshot makes no sense: ${(error as Error).message}`, { cause: error });
    }
  }
}
