import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import { assert } from '@playground/core';
import type { NodeId } from '@playground/core';
import { frameRecord, openBatchLog, type GroupCommitLog } from '@playground/storage';
import type { PutMessage, StateMessage } from './core/messages.js';
import type { ReplicaSnapshot } from './core/replica.js';

/**
 * What the write-ahead log holds. Every record is a join (or a guarded drop), so replaying a
 * record twice, or after a snapshot that already contains it, changes nothing.
 */
export type WalRecord =
  | { t: 'put'; m: PutMessage }
  | { t: 'state'; m: StateMessage }
  | { t: 'own'; key: string; p: number; n: number }
  | { t: 'unhint'; owner: NodeId; key: string; digest: string }
  | { t: 'snap'; s: ReplicaSnapshot };

export interface StoreOptions {
  readonly dir: string;
  /** Rewrite the log as one snapshot record once it grows past this size. */
  readonly compactBytes: number;
  /** Called at compaction time: the state to write, which covers every record appended so far. */
  readonly snapshot: () => ReplicaSnapshot;
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true });

/**
 * The replica's durable state: `leaderless.wal`, an append-only log in @playground/storage's
 * framing, with group commit (the appends of one event-loop turn share one write and one
 * fdatasync, made in the check phase, after every request read in that poll has been handled;
 * the batch is ONE record, a msgpack array of the appends, so that a crash can tear only the
 * last record) and compaction into a single snapshot record. A replica acknowledges a
 * write only after `append` resolves, that is after fdatasync: an acknowledgement is a promise
 * about disk. After a failed write every append rejects (fail-stop).
 */
export class Store {
  private log: GroupCommitLog<Uint8Array> | undefined;
  private compacting = false;

  constructor(private readonly options: StoreOptions) {}

  get path(): string {
    return join(this.options.dir, 'leaderless.wal');
  }

  /** How many fsyncs and records, for the batching figure in /status. */
  get fsyncs(): number {
    return this.log?.fsyncs ?? 0;
  }

  get records(): number {
    return this.log?.appended ?? 0;
  }

  /**
   * Opens the log and returns its records. A torn tail (a crash in mid-append) is cut off: those
   * records were never acknowledged, since acknowledgement waits for fsync. Corruption in the
   * middle refuses to open (LogCorruptError): cutting there would drop acknowledged records.
   */
  async open(): Promise<{ records: WalRecord[]; truncatedBytes: number }> {
    await mkdir(this.options.dir, { recursive: true });
    const { log, records, truncatedBytes } = await openBatchLog(this.path, packr);
    this.log = log;
    return { records: records as WalRecord[], truncatedBytes };
  }

  /** Resolves once the record is on disk. */
  async append(record: WalRecord): Promise<void> {
    const log = this.opened();
    await log.append(packr.pack(record));
    if (log.bytes > this.options.compactBytes && !this.compacting) this.compact(log);
  }

  /**
   * Resolves once everything appended before it is on disk: a replica that acknowledges a
   * message that changed nothing must still not get ahead of an fsync in flight.
   */
  sync(): Promise<void> {
    return this.opened().sync();
  }

  async close(): Promise<void> {
    await this.log?.close();
  }

  private opened(): GroupCommitLog<Uint8Array> {
    assert(this.log !== undefined, 'store is not open');
    return this.log;
  }

  /**
   * Rewrites the log as one snapshot record, between two group commits: the appends queued
   * before it are written first (the snapshot covers them), those made meanwhile wait and go
   * after it (it covers them too; replaying a join twice changes nothing).
   */
  private compact(log: GroupCommitLog<Uint8Array>): void {
    this.compacting = true;
    void log
      .exclusive((file) => file.replace([frameRecord(packr.pack({ t: 'snap', s: this.options.snapshot() } satisfies WalRecord))]))
      // A failed compaction fails the log: every later append rejects, saying why.
      .catch(() => undefined)
      .finally(() => {
        this.compacting = false;
      });
  }
}
