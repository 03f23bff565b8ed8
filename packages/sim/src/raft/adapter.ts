/**
 * A simulated Raft driver: the same duties as packages/raft's driver, against the simulated
 * world. For each Ready, in order (etcd-io/raft's contract): write entries and hard state to
 * the disk and wait for the fsync; then send the messages; then apply committed entries to the
 * counter state machine and answer the clients waiting on them; then serve read states once
 * applied; then advance(). Readys are handled one at a time; ticks and messages keep flowing
 * into the core meanwhile.
 */
import type { NodeId } from '@playground/core';
import type { ClientOutcome, IncrCall, SimContext, SimNode } from '../topology.js';
import { CounterStateMachine, type Entry, type HardState, type Message, type RaftConfig, type RaftCore, type RaftRestoreState, type Ready } from './deps.js';
import type { RaftObserver } from './observer.js';

/** The simulated disk's contents. */
export interface RaftDisk {
  hardState: HardState;
  entries: Entry[];
}

/**
 * What one Ready writes: one record, atomic on recovery, like packages/raft's WAL (a record is
 * one write and one fdatasync). A crash keeps a prefix of whole records: never a Ready's
 * entries without its hard state (the core refuses a log newer than its term on restart).
 */
export interface RaftDiskRecord {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
}

export function reduceRaftDisk(disk: RaftDisk, record: RaftDiskRecord): RaftDisk {
  const first = record.entries[0];
  if (first !== undefined) {
    // An entry at an existing index replaces it and everything after (Raft §5.3).
    disk.entries.length = first.index - 1;
    disk.entries.push(...record.entries);
  }
  if (record.hardState !== null) disk.hardState = record.hardState;
  return disk;
}

/** Makes a core; tests pass one that misbehaves on purpose to show the checkers catch it. */
export type CoreFactory = (config: RaftConfig, restored: RaftRestoreState) => RaftCore;

/** Client requests waiting at one node; beyond the bound, new ones are refused (503). */
const MAX_PENDING = 10_000;

/** Test hooks that break the driver on purpose (never set outside tests). */
export interface DriverFaults {
  /** Answer reads from this node's applied state at once, without ReadIndex (stale reads). */
  readonly unsafeLocalReads?: boolean;
  /** Idempotency keys the state machine remembers (a tiny table applies retries twice). */
  readonly dedupMaxEntries?: number;
}

export class RaftSimNode implements SimNode<Message> {
  readonly core: RaftCore;
  readonly stateMachine: CounterStateMachine;
  /** Idempotency key -> times applied (not as a duplicate) by this node's state machine. */
  readonly appliedByIdem = new Map<string, number>();
  private inFlight = false;
  private readonly pendingIncrs = new Map<number, { term: number; reply: (o: ClientOutcome) => void }>();
  private readonly awaitingConfirm = new Map<string, { key: string; reply: (o: ClientOutcome) => void }>();
  private readonly awaitingApply: { index: number; key: string; reply: (o: ClientOutcome) => void }[] = [];
  private readSequence = 0;

  constructor(
    private readonly ctx: SimContext<Message, RaftDisk, RaftDiskRecord>,
    config: RaftConfig,
    makeCore: CoreFactory,
    private readonly observer: RaftObserver,
    private readonly faults: DriverFaults = {},
  ) {
    this.stateMachine = new CounterStateMachine(faults.dedupMaxEntries === undefined ? {} : { dedupMaxEntries: faults.dedupMaxEntries });
    const image = ctx.disk.image;
    this.core = makeCore(config, { hardState: image.hardState, entries: [...image.entries] });
  }

  get id(): NodeId {
    return this.ctx.id;
  }

  tick(): void {
    this.core.tick();
    this.pump();
  }

  receive(message: Message): void {
    this.core.step(message);
    this.pump();
  }

  incr(call: IncrCall, reply: (o: ClientOutcome) => void): void {
    if (this.pendingIncrs.size >= MAX_PENDING) return reply({ kind: 'fail', reason: 'overloaded' });
    const proposed = this.core.propose({
      kind: 'incr',
      key: call.key,
      delta: call.delta,
      ...(call.idempotencyKey === undefined ? {} : { idem: call.idempotencyKey }),
      proposedAtMs: this.ctx.now(),
    });
    if (!proposed.ok) return reply({ kind: 'fail', reason: 'not_leader', leader: proposed.error.leader });
    const { index, term } = proposed.value;
    // A proposal still waiting at this index was overwritten by a newer leader: surely not applied.
    this.pendingIncrs.get(index)?.reply({ kind: 'fail', reason: 'overwritten' });
    this.pendingIncrs.set(index, { term, reply });
    this.pump();
  }

  /** ReadIndex (dissertation §6.4): confirm leadership with a quorum, then answer once applied. */
  read(key: string, reply: (o: ClientOutcome) => void): void {
    if (this.faults.unsafeLocalReads === true) return reply({ kind: 'ok', value: this.stateMachine.value(key) });
    const context = `${this.id}:${++this.readSequence}`;
    const asked = this.core.readIndex(context);
    if (!asked.ok) {
      const e = asked.error;
      return reply(e.kind === 'not_leader' ? { kind: 'fail', reason: e.kind, leader: e.leader } : { kind: 'fail', reason: e.kind });
    }
    this.awaitingConfirm.set(context, { key, reply });
    this.pump();
  }

  localValue(key: string): number {
    return this.stateMachine.value(key);
  }

  describe(): string {
    const c = this.core;
    return `${c.role} term=${c.term} leader=${c.leader ?? '-'} last=${c.lastIndex} commit=${c.commitIndex} applied=${this.stateMachine.appliedIndex}`;
  }

  private pump(): void {
    while (!this.inFlight && this.core.hasReady()) {
      const ready = this.core.ready();
      if (ready.softState !== null) {
        this.ctx.trace(`${ready.softState.role} in term ${this.core.term} (leader ${ready.softState.leader ?? 'unknown'})`);
        if (ready.softState.role === 'leader') this.observer.noteLeader(this.id, this.core);
        else this.failUnconfirmedReads();
      }
      if (ready.entries.length === 0 && ready.hardState === null) {
        this.finish(ready);
        continue;
      }
      this.ctx.disk.write({ hardState: ready.hardState, entries: ready.entries });
      this.inFlight = true;
      this.ctx.sync(() => {
        this.inFlight = false;
        this.finish(ready);
        this.pump();
      });
    }
  }

  /** After the fsync: send, apply, serve reads, advance. */
  private finish(ready: Ready): void {
    for (const m of ready.messages) this.ctx.send(m.to, m);
    for (const entry of ready.committed) this.apply(entry);
    for (const rs of ready.readStates) {
      const waiting = this.awaitingConfirm.get(rs.context);
      if (waiting === undefined) continue;
      this.awaitingConfirm.delete(rs.context);
      this.awaitingApply.push({ index: rs.index, ...waiting });
    }
    this.serveReads();
    this.core.advance(ready);
  }

  private apply(entry: Entry): void {
    this.observer.noteApplied(this.id, entry, this.core.term);
    const result = this.stateMachine.apply(entry);
    const idem = entry.command?.idem;
    if (result !== null && !result.duplicate && idem !== undefined) {
      this.appliedByIdem.set(idem, (this.appliedByIdem.get(idem) ?? 0) + 1);
    }
    const pending = this.pendingIncrs.get(entry.index);
    if (pending === undefined) return;
    this.pendingIncrs.delete(entry.index);
    if (pending.term === entry.term && result !== null) {
      pending.reply({ kind: 'ok', value: result.value, duplicate: result.duplicate });
    } else {
      pending.reply({ kind: 'fail', reason: 'overwritten' });
    }
  }

  private serveReads(): void {
    const applied = this.stateMachine.appliedIndex;
    for (let i = 0; i < this.awaitingApply.length; ) {
      const read = this.awaitingApply[i] as (typeof this.awaitingApply)[number];
      if (read.index <= applied) {
        this.awaitingApply.splice(i, 1);
        read.reply({ kind: 'ok', value: this.stateMachine.value(read.key) });
      } else {
        i++;
      }
    }
  }

  /** Reads not yet confirmed by a quorum cannot be any more: surely no effect, so fail them. */
  private failUnconfirmedReads(): void {
    for (const { reply } of this.awaitingConfirm.values()) reply({ kind: 'fail', reason: 'leadership lost' });
    this.awaitingConfirm.clear();
  }
}
