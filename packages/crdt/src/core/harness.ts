/**
 * An in-memory cluster of pure cores with a message bag that loses, duplicates and reorders:
 * what the property tests (and a simulator) drive. No I/O: "durable" is "merged" here.
 */
import { Rng, type NodeId } from '@playground/core';
import { CounterCrdt } from './counter.js';
import { LocalWriter } from './local.js';
import { Replicator, type MessageRef, type ReplicationMode } from './replicator.js';
import type { CounterMode, StateDelta } from './types.js';
import { WireParser, type GossipBody } from './wire.js';

export interface Replica {
  readonly id: NodeId;
  readonly crdt: CounterCrdt;
  readonly writer: LocalWriter;
  readonly replicator: Replicator;
  readonly parser: WireParser;
}

interface InFlight {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly body: GossipBody;
  readonly ref: MessageRef;
}

export interface HarnessOptions {
  readonly nodes?: number;
  readonly mode?: CounterMode;
  readonly replication?: ReplicationMode;
  readonly maxTombstones?: number;
  readonly maxChangeLog?: number;
  readonly seed?: number;
}

export type IncrOutcome = { readonly applied: boolean; readonly duplicate: boolean };

/** A local increment prepared at a replica whose write is still on its way to disk. */
interface Writing {
  readonly replica: Replica;
  readonly delta: StateDelta;
  readonly idem: string | null;
}

export class Harness {
  readonly replicas: Replica[];
  readonly bag: InFlight[] = [];
  /** Local writes prepared but not yet durable (and so not merged), oldest first. */
  readonly writing: Writing[] = [];

  constructor(options: HarnessOptions = {}) {
    const members = Array.from({ length: options.nodes ?? 3 }, (_, i) => `n${i + 1}`);
    const rng = new Rng(options.seed ?? 1);
    this.replicas = members.map((id) => {
      const crdt = new CounterCrdt({
        self: id,
        members,
        mode: options.mode ?? 'pn',
        maxTombstones: options.maxTombstones ?? 1_000_000,
        maxChangeLog: options.maxChangeLog ?? 100_000,
      });
      return {
        id,
        crdt,
        writer: new LocalWriter(crdt),
        replicator: new Replicator({ self: id, members, fanout: members.length, replication: options.replication ?? 'delta', heartbeatRounds: 10, rng: rng.fork() }),
        parser: new WireParser(members, options.mode ?? 'pn'),
      };
    });
  }

  replica(i: number): Replica {
    return this.replicas[i % this.replicas.length] as Replica;
  }

  /**
   * A client increment at replica i, as the driver does it: look the key up, prepare, write,
   * merge. `durable: false` leaves the write in flight (see finishWrite): messages may come and
   * go meanwhile, as they do while a real node waits for its fsync.
   */
  incr(i: number, key: string, delta: number, idem: string | null, durable = true): IncrOutcome {
    const r = this.replica(i);
    if (idem !== null) {
      // The driver serves one request per key at a time: a second waits for the first's write.
      const writing = this.writing.findIndex((w) => w.replica === r && w.idem === idem);
      if (writing !== -1) this.finishWrite(writing);
      if (r.crdt.lookupIdem(idem)) return { applied: false, duplicate: true };
    }
    const prepared: StateDelta = idem === null ? r.writer.preparePlain(key, delta) : r.writer.prepareDot(key, delta, idem).delta;
    this.writing.push({ replica: r, delta: prepared, idem });
    if (durable) this.finishWrite(this.writing.length - 1);
    return { applied: true, duplicate: false };
  }

  /** Write k of those in flight reaches the disk and is merged. */
  finishWrite(k: number): void {
    if (this.writing.length === 0) return;
    const [w] = this.writing.splice(k % this.writing.length, 1) as [Writing];
    w.replica.crdt.merge(w.delta);
  }

  /** Replica i sends to every peer it may (one message in flight per peer). */
  push(i: number): void {
    const r = this.replica(i);
    for (const to of r.replicator.push()) this.enqueue(r, to);
  }

  /** One gossip round at replica i (peers chosen by its replicator, backoff included). */
  gossip(i: number): void {
    const r = this.replica(i);
    for (const to of r.replicator.tick(r.crdt)) this.enqueue(r, to);
  }

  private enqueue(r: Replica, to: NodeId): void {
    const m = r.replicator.message(to, r.crdt);
    this.bag.push({ from: r.id, to, body: m.body, ref: { peer: m.peer, token: m.token, version: m.version } });
  }

  /** Delivers message k of the bag (kept in the bag when `duplicate`), or loses it. */
  deliver(k: number, how: 'deliver' | 'duplicate' | 'lose' = 'deliver'): void {
    if (this.bag.length === 0) return;
    const index = k % this.bag.length;
    const m = this.bag[index] as InFlight;
    if (how !== 'duplicate') this.bag.splice(index, 1);
    const sender = this.replicas.find((r) => r.id === m.from) as Replica;
    if (how === 'lose') {
      sender.replicator.failed(m.ref);
      return;
    }
    const receiver = this.replicas.find((r) => r.id === m.to) as Replica;
    const parsed = receiver.parser.gossip(structuredClone(m.body));
    receiver.crdt.merge(parsed.state, m.from);
    receiver.replicator.report(m.from, parsed.seen, receiver.crdt);
    receiver.replicator.recheckAll(receiver.crdt);
    // A duplicate's copy may be delivered again later; the sender hears back only once.
    if (how === 'deliver') {
      if (sender.replicator.sent(m.ref, receiver.crdt.reportedSeen(), sender.crdt)) this.enqueue(sender, m.to);
      sender.replicator.recheckAll(sender.crdt);
    }
  }

  /** Folds what causal stability allows at replica i. */
  compact(i: number): void {
    const r = this.replica(i);
    const folds = r.crdt.planCompaction(r.replicator.stableVector(r.crdt));
    if (folds.length > 0) r.crdt.merge({ plain: [], dots: [], compacted: folds });
  }

  /** Delivers everything, repeatedly pushing from every replica, until nothing is in flight or new. */
  settle(rounds = 10): void {
    while (this.writing.length > 0) this.finishWrite(0);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < this.replicas.length; i++) this.gossip(i);
      while (this.bag.length > 0) this.deliver(0);
      for (let i = 0; i < this.replicas.length; i++) this.compact(i);
    }
  }

  values(key: string): number[] {
    return this.replicas.map((r) => r.crdt.value(key));
  }
}

/** A canonical text of a replica's replicated state and values: equal iff the same state. */
export function digest(crdt: CounterCrdt): string {
  const s = crdt.fullState();
  const plain = s.plain.filter((c) => c.p !== 0 || c.n !== 0).map((c) => `${c.origin}|${c.key}|${c.p}|${c.n}`).sort();
  const dots = s.dots.map((d) => `${d.origin}|${d.seq}`).sort();
  const compacted = s.compacted.map((c) => `${c.origin}|${c.upToSeq}|${[...c.sums].map(([k, h]) => `${k}:${h.p}:${h.n}`).sort().join(',')}`).sort();
  const values = crdt.keys().map((k) => `${k}=${crdt.value(k)}`);
  return JSON.stringify({ plain, dots, compacted, values });
}
