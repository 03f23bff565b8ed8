/**
 * The durable Raft log: one append-only file, `raft.log`, in the node's data dir.
 *
 * Layout: an 8-byte magic header, then records (@playground/storage's framing). A record's
 * payload is a msgpack array of saves, each `{ truncateAfter, hardState, entries }`: "cut the
 * log after index N" (Raft §5.3, a follower's conflicting suffix), then append the entries, then
 * replace the hard state. One record is one write and one fdatasync: the saves of a group commit
 * (GroupCommitLog, flushed a microtask after the save) are one record, and a record is atomic on
 * recovery.
 *
 * Recovery (recoverLog) replays every record, re-checking every save: a torn tail is cut off,
 * corruption in the middle or a record that breaks a Raft invariant refuses the file
 * (LogCorruptError).
 *
 * Limits (v1, no snapshots): every entry stays in the file and is read into memory at open.
 * Dead bytes (overwritten suffixes, superseded hard states) are reclaimed by rewriting the file
 * at open when they dominate (compactFile). Platform: Linux/macOS (the directory fsync).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { AssertionError } from '@playground/core';
import { frameRecord, GroupCommitLog, recoverLog, writeFileAtomically } from '@playground/storage';
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

const packr = new Packr();

export class RaftLogFile implements DurableLog {
  private constructor(
    private readonly file: GroupCommitLog<SaveOp>,
    private hardState: HardState,
    /** terms[i] is the term of index i + 1: enough to check saves without keeping entries. */
    private readonly terms: number[],
  ) {}

  get path(): string {
    return this.file.path;
  }

  /** fdatasync calls made (for tests and metrics). */
  get syncs(): number {
    return this.file.fsyncs;
  }

  static async open(dir: string, options: RaftLogFileOptions = {}): Promise<OpenedLog> {
    const fsync = options.fsync ?? true;
    const report = options.log ?? ((message: string) => console.warn(message));
    await mkdir(dir, { recursive: true });
    const path = join(dir, LOG_FILE_NAME);
    const replay = new Replay();
    const recovered = await recoverLog(path, { header: MAGIC, fsync, decode: replay.record });
    const { state } = replay;
    let fileBytes = recovered.validBytes;
    const truncatedTailBytes = recovered.truncatedBytes;
    if (truncatedTailBytes > 0) {
      report(`${path}: torn tail: cut ${truncatedTailBytes} bytes after byte ${fileBytes} (${recovered.tailReason})`);
    }
    let compactedBytes = 0;
    const bytesPerEntry = replay.entriesWritten === 0 ? 0 : (fileBytes - MAGIC.length) / replay.entriesWritten;
    const liveBytesEstimate = MAGIC.length + state.entries.length * bytesPerEntry + 64;
    if (fileBytes > (options.compactMinBytes ?? 1024 * 1024) && fileBytes > 2 * liveBytesEstimate) {
      const rewritten = await compactFile(path, state, fsync);
      compactedBytes = fileBytes - rewritten;
      report(`${path}: compacted ${fileBytes} -> ${rewritten} bytes`);
      fileBytes = rewritten;
    }
    const file = await GroupCommitLog.open<SaveOp>(path, {
      // The driver makes one save per Ready and waits for it: nothing more would join.
      flushAt: 'microtask',
      fsync,
      // Several entries at once mean several clients waiting, and more arriving: the leader's
      // loop reads them, and its followers' answers, while its disk syncs. One entry (one
      // client) syncs in place: a thread-pool hand-off would add two wake-ups to its latency.
      syncOffLoop: (ops) => ops.reduce((n, op) => n + op.entries.length, 0) > 1,
      encode: (ops) => packr.pack(ops),
    });
    const terms = state.entries.map((entry) => entry.term);
    const log = new RaftLogFile(file, state.hardState, terms);
    return { log, state, recovered: { truncatedTailBytes, compactedBytes } };
  }

  /**
   * Appends `entries` (first cutting the log after entries[0].index - 1 when that is below the
   * last index) and replaces the hard state, atomically; resolves once durable (a save that
   * only moves the commit index: at once, see below). Calls are
   * checked and queued in call order; a broken invariant or a disk error fails this save and
   * every later one (LogFailedError): the node must crash and recover from what is on disk.
   * The caller must not mutate `entries` until the promise settles.
   */
  async save(hardState: HardState | null, entries: readonly Entry[]): Promise<void> {
    this.file.checkWritable();
    let truncateAfter: number | null;
    try {
      truncateAfter = checkSave(this.view(), hardState, entries);
    } catch (error) {
      this.file.fail(error as Error);
      throw error;
    }
    // Only entries, the term and the vote are promises to peers. A save that just moves the
    // commit index is not synced (etcd's MustSync): it is held back and written in the next
    // synced record (or at close), so applying a commit waits for no write; if a crash loses it,
    // the commit index is learnt again from the leader.
    const sync = entries.length > 0 || (hardState !== null && (hardState.term !== this.hardState.term || hardState.vote !== this.hardState.vote));
    spliceLog(this.terms, truncateAfter, entries.map((entry) => entry.term));
    if (hardState !== null) this.hardState = hardState;
    return this.file.append({ truncateAfter, hardState, entries }, sync);
  }

  private view(): LogView {
    const terms = this.terms;
    return { hardState: this.hardState, lastIndex: terms.length, termAt: (index) => (index === 0 ? 0 : (terms[index - 1] ?? 0)) };
  }

  /** Waits for queued saves, then closes the file. */
  close(): Promise<void> {
    return this.file.close();
  }
}

/**
 * Rebuilds the DurableState from the records as recoverLog reads them, re-checking every save:
 * a record that breaks a Raft invariant was not written by this code, so it is damage (a throw
 * here makes recoverLog refuse the file at that record).
 */
class Replay {
  private hardState = INITIAL_HARD_STATE;
  private readonly entries: Entry[] = [];
  /** Entries written, overwritten ones included: the yardstick for dead bytes. */
  entriesWritten = 0;

  readonly record = (payload: Uint8Array): void => {
    const ops: unknown = packr.unpack(payload);
    if (!Array.isArray(ops) || ops.length === 0 || !ops.every(isSaveOp)) throw new Error('payload is not a list of saves');
    for (const op of ops) {
      const truncateAfter = checkSave(viewOf(this.hardState, this.entries), op.hardState, op.entries);
      if (truncateAfter !== op.truncateAfter) {
        throw new AssertionError(`record says truncate after ${op.truncateAfter}, its entries imply ${truncateAfter}`);
      }
      spliceLog(this.entries, op.truncateAfter, op.entries);
      if (op.hardState !== null) this.hardState = op.hardState;
      this.entriesWritten += op.entries.length;
    }
  };

  get state(): DurableState {
    return { hardState: this.hardState, entries: this.entries };
  }
}

/** Rewrites the file with only its live state; returns the new size. */
async function compactFile(path: string, state: DurableState, fsync: boolean): Promise<number> {
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
  return writeFileAtomically(path, chunks, { fsync });
}
