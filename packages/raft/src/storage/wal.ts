/**
 * The durable Raft log: one append-only file, `raft.log`, in the node's data dir.
 *
 * Layout: an 8-byte magic header, then records (@playground/storage's record.ts). A record's payload is a msgpack
 * array of saves, each `{ truncateAfter, hardState, entries }`: "cut the log after index N"
 * (Raft §5.3, a follower's conflicting suffix), then append the entries, then replace the hard
 * state. One record is one write and one fdatasync: saves queued while one is written are
 * committed together in the next record (group commit), and a record is atomic on recovery.
 *
 * Recovery replays every record. A bad record with nothing valid after it is a torn tail (a
 * crash mid-append; nothing in it was acknowledged, since save() resolves only after the sync),
 * so it is cut off. A bad record followed by a valid one cannot come from a crash, because each
 * record was synced before the next was written: the file is refused (LogCorruptError).
 *
 * Limits (v1, no snapshots): every entry stays in the file and is read into memory at open.
 * Dead bytes (overwritten suffixes, superseded hard states) are reclaimed by rewriting the file
 * at open when they dominate (compactFile). Platform: Linux/macOS (the directory fsync).
 */
import { open as openFile, mkdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { fdatasyncSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { AssertionError } from '@playground/core';
import { findValidRecord, frameRecord, readRecordAt } from '@playground/storage';
import type { Entry, HardState } from '../core/types.js';
import {
  checkSave,
  INITIAL_HARD_STATE,
  spliceLog,
  viewOf,
  type DurableLog,
  type DurableState,
  type LogView,
} from './durable-state.js';
import { isSaveOp, type SaveOp } from './save-op.js';

export const LOG_FILE_NAME = 'raft.log';
const MAGIC = Buffer.from('RAFTLOG1', 'latin1');
/** Entries per record when the file is rewritten by compaction. */
const COMPACTION_ENTRIES_PER_RECORD = 4096;

/** The file is not a valid Raft log; the node must not start on it (an operator must look). */
export class LogCorruptError extends Error {
  override name = 'LogCorruptError';
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`${file}: corrupt at byte ${offset}: ${reason}`);
  }
}

/** An earlier write failed, so what is on disk is unknown: the node must crash and recover. */
export class LogFailedError extends Error {
  override name = 'LogFailedError';
}

export interface RaftLogFileOptions {
  /** fdatasync each record (default true). Off only for tests and benchmarks of the rest. */
  readonly fsync?: boolean;
  /** Rewrite the file at open when it is larger than this and more than half dead (default 1 MiB). */
  readonly compactMinBytes?: number;
  /** Where recovery reports what it did (default console.warn). */
  readonly log?: (message: string) => void;
}

export interface OpenedLog {
  readonly log: RaftLogFile;
  readonly state: DurableState;
  readonly recovered: { readonly truncatedTailBytes: number; readonly compactedBytes: number };
}

interface QueuedSave {
  readonly op: SaveOp;
  /** Whether the save must be fsynced before it resolves (see save()). */
  readonly sync: boolean;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const packr = new Packr();

export class RaftLogFile implements DurableLog {
  private readonly queue: QueuedSave[] = [];
  private flushing: Promise<void> | null = null;
  private failure: Error | null = null;
  private closed = false;
  /** fdatasync calls made (for tests and metrics). */
  syncs = 0;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private fileBytes: number,
    private hardState: HardState,
    /** terms[i] is the term of index i + 1: enough to check saves without keeping entries. */
    private readonly terms: number[],
    private readonly fsync: boolean,
  ) {}

  static async open(dir: string, options: RaftLogFileOptions = {}): Promise<OpenedLog> {
    const fsync = options.fsync ?? true;
    const report = options.log ?? ((message: string) => console.warn(message));
    await mkdir(dir, { recursive: true });
    const path = join(dir, LOG_FILE_NAME);
    await rm(`${path}.tmp`, { force: true }); // a rewrite that crashed before its rename
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await writeFileAtomically(dir, path, [MAGIC], fsync);
      bytes = Buffer.from(MAGIC);
    }
    const replayed = replay(path, bytes);
    const { state } = replayed;
    let fileBytes = replayed.validBytes;
    const truncatedTailBytes = bytes.length - replayed.validBytes;
    if (truncatedTailBytes > 0) {
      report(`${path}: torn tail: cut ${truncatedTailBytes} bytes after byte ${fileBytes} (${replayed.tailReason})`);
      const handle = await openFile(path, 'r+');
      try {
        await handle.truncate(fileBytes);
        if (fsync) await handle.datasync();
      } finally {
        await handle.close();
      }
    }
    let compactedBytes = 0;
    const liveBytesEstimate = MAGIC.length + state.entries.length * replayed.bytesPerEntry + 64;
    if (fileBytes > (options.compactMinBytes ?? 1024 * 1024) && fileBytes > 2 * liveBytesEstimate) {
      const rewritten = await compactFile(dir, path, state, fsync);
      compactedBytes = fileBytes - rewritten;
      report(`${path}: compacted ${fileBytes} -> ${rewritten} bytes`);
      fileBytes = rewritten;
    }
    const handle = await openFile(path, 'r+');
    const terms = state.entries.map((entry) => entry.term);
    const log = new RaftLogFile(path, handle, fileBytes, state.hardState, terms, fsync);
    return { log, state, recovered: { truncatedTailBytes, compactedBytes } };
  }

  /**
   * Appends `entries` (first cutting the log after entries[0].index - 1 when that is below the
   * last index) and replaces the hard state, atomically; resolves once durable (a save that
   * only moves the commit index: once written). Calls are
   * checked and queued in call order; a broken invariant or a disk error fails this save and
   * every later one (LogFailedError): the node must crash and recover from what is on disk.
   * The caller must not mutate `entries` until the promise settles.
   */
  async save(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    if (this.failure !== null) throw new LogFailedError(`${this.path}: log refused a save after an earlier failure: ${this.failure.message}`);
    if (this.closed) throw new LogFailedError(`${this.path}: save on a closed log`);
    let truncateAfter: number | null;
    try {
      truncateAfter = checkSave(this.view(), hardState, entries);
    } catch (error) {
      this.failure = error as Error;
      throw error;
    }
    // Only entries, the term and the vote are promises to peers. A save that just moves the
    // commit index is written but not fsynced (etcd's MustSync): if a crash loses it, the commit
    // index is learnt again from the leader, and the next synced record makes it durable anyway.
    const sync = entries.length > 0 || (hardState !== null && (hardState.term !== this.hardState.term || hardState.vote !== this.hardState.vote));
    spliceLog(this.terms, truncateAfter, entries.map((entry) => entry.term));
    if (hardState !== null) this.hardState = hardState;
    const op: SaveOp = { truncateAfter, hardState, entries };
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ op, sync, resolve, reject });
      // flush() clears `flushing` with no await between that and finding the queue empty, so
      // a save made as an earlier one resolves either joins the running loop or starts one
      // (flush() awaits once before its first write, so `flushing` is set by then).
      this.flushing ??= this.flush();
    });
  }

  private view(): LogView {
    const terms = this.terms;
    return { hardState: this.hardState, lastIndex: terms.length, termAt: (index) => (index === 0 ? 0 : (terms[index - 1] ?? 0)) };
  }

  /** Waits for queued saves, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing !== null) await this.flushing;
    await this.handle.close();
  }

  /**
   * One record per round: everything queued meanwhile. The write and the fdatasync are plain
   * synchronous calls: on a 2-vCPU machine a thread-pool hand-off for each (two wake-ups) cost
   * the event loop more than the calls themselves, and while a save blocks, what arrives waits
   * in the kernel and joins the next record (group commit). A Raft node has nothing better to
   * do until its log is durable: etcd persists on its Raft goroutine too.
   */
  private async flush(): Promise<void> {
    await null; // the saves made in this turn of the event loop go into the first record
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.queue.length);
      try {
        const record = frameRecord(packr.pack(batch.map((queued) => queued.op)));
        writeAllSync(this.handle.fd, record, this.fileBytes);
        if (this.fsync && batch.some((queued) => queued.sync)) {
          fdatasyncSync(this.handle.fd);
          this.syncs++;
        }
        this.fileBytes += record.length;
      } catch (error) {
        this.failure = error as Error;
        const failed = new LogFailedError(`${this.path}: write failed, the log is now closed to saves: ${(error as Error).message}`);
        for (const queued of [...batch, ...this.queue.splice(0, this.queue.length)]) queued.reject(failed);
        this.flushing = null;
        return;
      }
      for (const queued of batch) queued.resolve();
    }
    this.flushing = null;
  }
}

interface Replayed {
  readonly state: DurableState;
  /** The file's length up to the end of the last valid record. */
  readonly validBytes: number;
  readonly tailReason: string;
  /** Average bytes an entry took in the file: the yardstick for dead bytes. */
  readonly bytesPerEntry: number;
}

function replay(path: string, bytes: Buffer): Replayed {
  if (bytes.length < MAGIC.length || !bytes.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new LogCorruptError(path, 0, `not a raft log (expected the header ${JSON.stringify(MAGIC.toString('latin1'))})`);
  }
  let hardState = INITIAL_HARD_STATE;
  const entries: Entry[] = [];
  let offset = MAGIC.length;
  let tailReason = '';
  let entriesWritten = 0;
  while (offset < bytes.length) {
    const record = readRecordAt(bytes, offset);
    if (!record.ok) {
      const next = findValidRecord(bytes, offset + 1);
      if (next !== null) {
        throw new LogCorruptError(path, offset, `${record.reason}, yet a valid record follows at byte ${next}: not a torn append`);
      }
      tailReason = record.reason;
      break;
    }
    let ops: unknown;
    try {
      ops = packr.unpack(record.payload);
    } catch (error) {
      throw new LogCorruptError(path, offset, `checksum ok but payload undecodable: ${(error as Error).message}`);
    }
    if (!Array.isArray(ops) || ops.length === 0 || !ops.every(isSaveOp)) {
      throw new LogCorruptError(path, offset, 'checksum ok but payload is not a list of saves');
    }
    for (const op of ops) {
      try {
        const truncateAfter = checkSave(viewOf(hardState, entries), op.hardState, op.entries);
        if (truncateAfter !== op.truncateAfter) {
          throw new AssertionError(`record says truncate after ${op.truncateAfter}, its entries imply ${truncateAfter}`);
        }
      } catch (error) {
        if (!(error instanceof AssertionError)) throw error;
        throw new LogCorruptError(path, offset, error.message);
      }
      spliceLog(entries, op.truncateAfter, op.entries);
      if (op.hardState !== null) hardState = op.hardState;
      entriesWritten += op.entries.length;
    }
    offset = record.end;
  }
  const bytesPerEntry = entriesWritten === 0 ? 0 : (offset - MAGIC.length) / entriesWritten;
  return { state: { hardState, entries }, validBytes: offset, tailReason, bytesPerEntry };
}

/** Rewrites the file with only its live state; returns the new size. */
async function compactFile(dir: string, path: string, state: DurableState, fsync: boolean): Promise<number> {
  const { hardState, entries } = state;
  const chunks: Buffer[] = [MAGIC];
  for (let start = 0; start < entries.length || start === 0; start += COMPACTION_ENTRIES_PER_RECORD) {
    const slice = entries.slice(start, start + COMPACTION_ENTRIES_PER_RECORD);
    const isLast = start + COMPACTION_ENTRIES_PER_RECORD >= entries.length;
    // Earlier chunks carry the term (entries never outrun it) but commit 0 (it may point past them).
    const chunkHardState: HardState = isLast ? hardState : { ...hardState, commit: 0 };
    const op: SaveOp = { truncateAfter: null, hardState: chunkHardState, entries: slice };
    chunks.push(frameRecord(packr.pack([op])));
  }
  await writeFileAtomically(dir, path, chunks, fsync);
  return chunks.reduce((sum, chunk) => sum + chunk.length, 0);
}

/** Write to a temp file, sync it, rename over `path`, sync the directory: all or nothing. */
async function writeFileAtomically(dir: string, path: string, chunks: readonly Buffer[], fsync: boolean): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await openFile(tmp, 'w');
  try {
    let position = 0;
    for (const chunk of chunks) {
      await writeAll(handle, chunk, position);
      position += chunk.length;
    }
    if (fsync) await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  if (fsync) await syncDirectory(dir);
}

/** A new or renamed file is durable only once its directory entry is (fsync(2), "NOTES"). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await openFile(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function writeAllSync(fd: number, bytes: Buffer, position: number): void {
  let written = 0;
  while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written, position + written);
}

async function writeAll(handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written);
    written += bytesWritten;
  }
}
