/**
 * The write path of every log file: a group-commit appender.
 *
 * The appends queued in one turn of the event loop go out in one write and one fdatasync, made
 * at the flush point (FlushPoint): N concurrent appends cost about one fsync, not N. An append
 * resolves only after its fdatasync: an acknowledgement is a promise about disk.
 *
 * Both calls are plain synchronous calls (writeSync, fdatasyncSync), on purpose: a thread-pool
 * hand-off for each costs two wake-ups of this process, dearer on a 2-vCPU machine than the
 * calls themselves. Measured against the async calls: leaderless, 1-connection W=1 increments
 * 1.46 -> 0.73-0.99 ms, W=1 at 32 connections about 2,700 -> 3,400-3,700 ok/s; CRDT, 64
 * connections through n1: 3 nodes keyed 2,632 -> 4,175/s, plain 7,260 -> 11,537/s; 1 node 8,705
 * -> 9,738 and 14,571 -> 17,183. While a flush blocks, what arrives waits in the kernel and
 * joins the next one. The exception a caller can ask for (syncOffLoop): a Raft leader's batch
 * of several entries syncs on the thread pool, so that its loop reads the next clients and the
 * followers' answers meanwhile (64 connections, three interleaved pairs, the last 4 s of 12:
 * 6,638/7,420/6,978 -> 8,265/7,889/7,216 writes/s); one entry still syncs in place.
 *
 * Fail-stop: after a failed write or fsync what is on disk is unknown, and after a failed fsync
 * the page cache may even lie about it (PostgreSQL's "fsyncgate"): retrying could acknowledge
 * data that is not on disk. So the failing batch, every append still queued and every later
 * one reject (LogFailedError): the node must crash and recover from what is on disk.
 */
import { fdatasyncSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { writeFileAtomically } from './atomic-file.js';
import { frameRecord } from './record.js';

/**
 * When the appends queued in a turn are written:
 * - 'check': in this turn's check phase (setImmediate), after every I/O callback of the poll
 *   phase has run, so every request read in this poll has been handled and has appended (a node
 *   serving many clients at once: leaderless, CRDT).
 * - 'microtask': as soon as the code that appended yields (one microtask), with what it appended
 *   meanwhile. For a caller that makes its appends in one go and then waits for them (the Raft
 *   driver: one save per Ready, and a Ready already holds what was proposed meanwhile), nothing
 *   more would join, so waiting for the check phase would only add latency.
 */
export type FlushPoint = 'check' | 'microtask';

export interface GroupCommitOptions<T> {
  readonly flushAt: FlushPoint;
  /**
   * The payload of the ONE record a batch is written as (framed here): one record per write is
   * what lets recovery tell a torn write from damage (recover.ts).
   */
  readonly encode: (batch: readonly T[]) => Uint8Array;
  /** fdatasync (default true). Off only for tests and benchmarks of the rest. */
  readonly fsync?: boolean;
  /**
   * Whether the fdatasync of a write holding these appends goes to the thread pool, so that the
   * event loop serves other work (client requests, peers' answers) while the disk syncs, instead
   * of blocking it (default: never). The hand-off costs two wake-ups of this process, so it pays
   * only when there is other work: a caller that knows its batch says so.
   */
  readonly syncOffLoop?: (items: readonly T[]) => boolean;
}

/** An earlier write failed, so what is on disk is unknown: the node must crash and recover. */
export class LogFailedError extends Error {
  override name = 'LogFailedError';
}

/** What an exclusive task may do to the file (only while it runs). */
export interface LogRewrite {
  /** Replaces the whole file by `chunks` (writeFileAtomically); later appends go after them. */
  replace(chunks: readonly Uint8Array[]): Promise<void>;
  /** Empties the file (and fdatasyncs that). */
  truncate(): Promise<void>;
}

type Queued<T> =
  | { readonly kind: 'append'; readonly item: T; readonly sync: boolean; readonly resolve: () => void; readonly reject: (error: Error) => void }
  | { readonly kind: 'barrier'; readonly resolve: () => void; readonly reject: (error: Error) => void }
  | { readonly kind: 'task'; readonly run: (file: LogRewrite) => Promise<void>; readonly reject: (error: Error) => void };

type QueuedWrite<T> = Exclude<Queued<T>, { kind: 'task' }>;

export class GroupCommitLog<T> {
  private readonly queue: Queued<T>[] = [];
  private running: Promise<void> | null = null;
  /** The error that stopped the log, if one did. */
  private failure: Error | null = null;
  private closed = false;
  /** Bytes were written since the last fdatasync. */
  private unsynced = false;
  /** Appends not written yet: unsynced ones wait for the next synced batch (see write()). */
  private held: T[] = [];
  private fileBytes: number;
  /** fdatasync calls made, for metrics (read only). */
  fsyncs = 0;
  /** Appends taken, held ones included (barriers not counted), for metrics (read only). */
  appended = 0;

  private constructor(
    readonly path: string,
    private handle: FileHandle,
    size: number,
    private readonly options: GroupCommitOptions<T>,
  ) {
    this.fileBytes = size;
  }

  /** Opens `path`, which must exist (recoverLog creates it), to append after its last byte. */
  static async open<T>(path: string, options: GroupCommitOptions<T>): Promise<GroupCommitLog<T>> {
    const handle = await open(path, 'r+');
    try {
      const { size } = await handle.stat();
      return new GroupCommitLog(path, handle, size, options);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The file's length, as written by this log. */
  get bytes(): number {
    return this.fileBytes;
  }

  /** Appends queued and not written yet. */
  get pending(): number {
    return this.queue.filter((queued) => queued.kind === 'append').length;
  }

  get failed(): boolean {
    return this.failure !== null;
  }

  /**
   * Queues `item`; resolves once it is written and fdatasynced. An unsynced append (Raft's saves
   * that only move the commit index: etcd's MustSync) resolves at once and is written with the
   * next synced one, or at close. The caller must not mutate `item` after this call.
   */
  append(item: T, sync = true): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'append', item, sync, resolve, reject }));
  }

  /**
   * Resolves once everything appended before it is on disk; writes nothing itself. For a reply
   * that changed nothing but must still not get ahead of an fsync in flight.
   */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0 && this.held.length === 0 && !this.unsynced && this.refusal() === null) resolve();
      else this.enqueue({ kind: 'barrier', resolve, reject });
    });
  }

  /**
   * Runs `task` with the file to itself, between two group commits: after every append queued
   * before this call is written, before any queued after it (those wait, then go to the file the
   * task leaves). A task that throws fails the log; its promise rejects with what it threw.
   */
  exclusive<R>(task: (file: LogRewrite) => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => this.enqueue({ kind: 'task', run: async (file) => resolve(await task(file)), reject }));
  }

  /** Throws LogFailedError if the log takes no more appends (an earlier failure, or closed). */
  checkWritable(): void {
    const refusal = this.refusal();
    if (refusal !== null) throw refusal;
  }

  /**
   * Stops the log for good, for a caller that found something wrong (a broken invariant): every
   * queued and later append rejects.
   */
  fail(cause: Error): void {
    this.failure ??= cause;
    const failed = new LogFailedError(`${this.path}: the log failed and takes no more appends: ${cause.message}`, { cause });
    for (const queued of this.queue.splice(0)) queued.reject(failed);
  }

  /** Waits for what is queued, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.running !== null) await this.running;
    if (this.failure === null) {
      this.writeHeld();
      if (this.unsynced && (this.options.fsync ?? true)) fdatasyncSync(this.handle.fd); // every record on disk is synced
    }
    await this.handle.close();
  }

  private refusal(): LogFailedError | null {
    if (this.failure !== null) {
      return new LogFailedError(`${this.path}: log refused an append after an earlier failure: ${this.failure.message}`, { cause: this.failure });
    }
    if (this.closed) return new LogFailedError(`${this.path}: append on a closed log`);
    return null;
  }

  private enqueue(queued: Queued<T>): void {
    const refusal = this.refusal();
    if (refusal !== null) return queued.reject(refusal);
    this.queue.push(queued);
    // run() clears `running` with no await between that and finding the queue empty, so an
    // append made as an earlier one resolves either joins the running loop or starts one (run()
    // awaits once before its first write, so `running` is set by then).
    this.running ??= this.run();
  }

  /** One write (and fdatasync) per round: every append queued up to the next task. */
  private async run(): Promise<void> {
    if (this.options.flushAt === 'microtask') await null;
    else await afterThisPoll();
    for (let head = this.queue[0]; head !== undefined; head = this.queue[0]) {
      if (head.kind === 'task') {
        this.queue.shift();
        try {
          this.writeHeld(); // the task sees the whole log
          await head.run(this.rewrite);
        } catch (error) {
          head.reject(error as Error);
          this.fail(error as Error);
        }
        continue;
      }
      const end = this.queue.findIndex((queued) => queued.kind === 'task');
      const batch = this.queue.splice(0, end === -1 ? this.queue.length : end) as QueuedWrite<T>[];
      try {
        await this.write(batch);
      } catch (error) {
        this.queue.unshift(...batch);
        this.fail(error as Error);
        continue;
      }
      for (const queued of batch) queued.resolve();
    }
    this.running = null;
  }

  private async write(batch: readonly QueuedWrite<T>[]): Promise<void> {
    const items: T[] = [];
    let sync = false;
    for (const queued of batch) {
      if (queued.kind === 'append') items.push(queued.item);
      sync ||= queued.kind === 'barrier' || queued.sync;
    }
    this.appended += items.length;
    // An unsynced batch promises nothing: it waits in memory and goes into the next synced
    // batch's record (etcd's WAL keeps such records in its write buffer too). That saves a write
    // on the path from a commit to its reply, and keeps one record per write, so that a crash
    // can tear only the last record (recover.ts). A crash loses it, as it could lose it from the
    // page cache.
    this.held = this.held.length === 0 ? items : this.held.concat(items);
    if (!sync) return;
    const offLoop = this.options.syncOffLoop?.(this.held) ?? false;
    this.writeHeld();
    if (this.unsynced) {
      if (this.options.fsync ?? true) {
        if (offLoop) await this.handle.datasync();
        else fdatasyncSync(this.handle.fd);
        this.fsyncs++;
      }
      this.unsynced = false;
    }
  }

  /** Writes the appends held back (see write()) as one record, unsynced. */
  private writeHeld(): void {
    if (this.held.length === 0) return;
    const bytes = frameRecord(this.options.encode(this.held));
    this.held = [];
    const fd = this.handle.fd;
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written, bytes.length - written, this.fileBytes + written);
    this.fileBytes += bytes.length;
    this.unsynced = true;
  }

  private readonly rewrite: LogRewrite = {
    replace: async (chunks) => {
      const bytes = await writeFileAtomically(this.path, chunks, { fsync: this.options.fsync ?? true });
      const old = this.handle;
      this.handle = await open(this.path, 'r+');
      this.fileBytes = bytes;
      this.unsynced = false;
      await old.close();
    },
    truncate: async () => {
      await this.handle.truncate(0);
      if (this.options.fsync ?? true) await this.handle.datasync();
      this.fileBytes = 0;
      this.unsynced = false;
    },
  };
}

/** Resolves in this event-loop turn's check phase, after the poll phase's I/O callbacks. */
function afterThisPoll(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
