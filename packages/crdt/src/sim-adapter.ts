/**
 * The CRDT topology in the deterministic simulator (packages/sim's SimTopology): the same pure
 * core as the real driver, with the driver's duties done against the simulated world. Same
 * rules: a delta is written and fsynced before it is merged (so before anything that depends on
 * it is acknowledged, sent or reported); one current message per peer, hedged when it is out for
 * `hedgeTicks`; a message not answered within `timeoutTicks` is given up on (the transport's
 * timeout, in ticks), and each message has exactly one outcome, as a transport call does.
 *
 * Peer traffic is one-way in the simulator, so the RPC becomes two messages: `gossip` (a state
 * message, as on the wire) and `ack` (what the receiver holds after merging it durably).
 */
import { assert, type NodeId } from '@playground/core';
import type { ClientOutcome, IncrCall, SimContext, SimNode, SimTopology } from '@playground/sim';
import { CounterCrdt } from './core/counter.js';
import { LocalWriter } from './core/local.js';
import { Replicator, type MessageRef, type ReplicationMode } from './core/replicator.js';
import { isEmptyDelta, type CounterMode, type StateDelta } from './core/types.js';
import { encodeSeen, WireParser, type GossipBody } from './core/wire.js';

export type CrdtSimMessage =
  | { readonly type: 'gossip'; readonly from: NodeId; readonly incarnation: number; readonly token: number; readonly body: GossipBody }
  | { readonly type: 'ack'; readonly from: NodeId; readonly incarnation: number; readonly token: number; readonly seen: [NodeId, number][] };

/** The simulated disk: the deltas made durable, in order (recovery merges them all). */
export type CrdtDisk = StateDelta[];

export interface CrdtSimOptions {
  readonly tickMs?: number;
  readonly gossipTicks?: number;
  readonly timeoutTicks?: number;
  /** A message out this many ticks is hedged (0: never). */
  readonly hedgeTicks?: number;
  readonly fanout?: number;
  readonly mode?: CounterMode;
  readonly replication?: ReplicationMode;
  readonly maxTombstones?: number;
}

type Ctx = SimContext<CrdtSimMessage, CrdtDisk, StateDelta>;

export class CrdtSimNode implements SimNode<CrdtSimMessage> {
  readonly crdt: CounterCrdt;
  private readonly writer: LocalWriter;
  private readonly replicator: Replicator;
  private readonly parser: WireParser;
  private ticks = 0;
  /** Messages awaiting their outcome, by token: which, and the tick they were sent at. */
  private readonly outstanding = new Map<number, { readonly ref: MessageRef; readonly since: number }>();
  /** Tokens restart with each incarnation: an ack from before a crash must not match a new message. */
  private readonly incarnation: number;
  private readonly waitingOnIdem = new Map<string, (() => void)[]>();
  private folding = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly o: Required<CrdtSimOptions>,
  ) {
    this.crdt = new CounterCrdt({ self: ctx.id, members: ctx.peers, mode: o.mode, maxTombstones: o.maxTombstones, maxChangeLog: 10_000 });
    for (const record of ctx.disk.image) this.crdt.merge(record);
    this.writer = new LocalWriter(this.crdt);
    this.parser = new WireParser(ctx.peers, o.mode);
    this.incarnation = ctx.rng.int(1, 2 ** 30);
    this.replicator = new Replicator({
      self: ctx.id,
      members: ctx.peers,
      fanout: o.fanout,
      replication: o.replication,
      heartbeatRounds: 10,
      rng: ctx.rng,
      ...(o.hedgeTicks > 0 ? { hedge: { afterMs: o.hedgeTicks, now: () => this.ticks } } : {}),
    });
  }

  tick(): void {
    this.ticks++;
    for (const [token, { ref, since }] of this.outstanding) {
      if (this.ticks - since > this.o.timeoutTicks) {
        this.outstanding.delete(token);
        if (this.replicator.failed(ref, true)) this.send(ref.peer);
      }
    }
    if (this.ticks % this.o.gossipTicks !== 0) return;
    for (const peer of this.replicator.hedge()) this.send(peer);
    for (const peer of this.replicator.tick(this.crdt)) this.send(peer);
    this.crdt.trimChanges(this.replicator.acknowledgedByAll());
    this.fold();
  }

  receive(m: CrdtSimMessage): void {
    if (m.type === 'ack') {
      // A late or duplicated ack, or one for an earlier incarnation: nothing outstanding to settle.
      const out = m.incarnation === this.incarnation ? this.outstanding.get(m.token) : undefined;
      if (out === undefined || out.ref.peer !== m.from) return;
      this.outstanding.delete(m.token);
      if (this.replicator.sent(out.ref, new Map(m.seen), this.crdt)) this.send(m.from);
      return;
    }
    const parsed = this.parser.gossip(m.body);
    const refusal = this.crdt.refuseFromPeer(parsed.state);
    assert(refusal === null, () => `${this.ctx.id} got a contradictory state from ${m.from}: ${refusal}`);
    const novel = this.crdt.novel(parsed.state);
    const answer = (): void => {
      this.replicator.report(m.from, parsed.seen, this.crdt);
      this.ctx.send(m.from, { type: 'ack', from: this.ctx.id, incarnation: m.incarnation, token: m.token, seen: encodeSeen(this.crdt.reportedSeen()) });
    };
    if (isEmptyDelta(novel)) return answer();
    this.durably(novel, m.from, answer);
  }

  incr(call: IncrCall, reply: (o: ClientOutcome) => void): void {
    if (this.o.mode === 'g' && call.delta < 0) return reply({ kind: 'fail', reason: 'bad_request: negative delta in a G-counter' });
    const idem = call.idempotencyKey;
    if (idem !== undefined) {
      const waiting = this.waitingOnIdem.get(idem);
      if (waiting) return void waiting.push(() => this.incr(call, reply));
      const known = this.crdt.lookupIdem(idem);
      if (known) return reply({ kind: 'ok', duplicate: true });
      this.waitingOnIdem.set(idem, []);
    }
    const prepared = idem === undefined ? { delta: this.writer.preparePlain(call.key, call.delta), dot: undefined } : this.writer.prepareDot(call.key, call.delta, idem);
    this.durably(prepared.delta, null, () => {
      const winner = idem === undefined ? undefined : this.crdt.lookupIdem(idem)?.dot;
      const duplicate = winner !== undefined && prepared.dot !== undefined && (winner.origin !== prepared.dot.origin || winner.seq !== prepared.dot.seq);
      reply(duplicate ? { kind: 'ok', duplicate } : { kind: 'ok', value: this.crdt.value(call.key), duplicate });
      if (idem !== undefined) {
        const waiting = this.waitingOnIdem.get(idem) ?? [];
        this.waitingOnIdem.delete(idem);
        for (const retry of waiting) retry();
      }
      for (const peer of this.replicator.push()) this.send(peer);
    });
  }

  read(key: string, reply: (o: ClientOutcome) => void): void {
    reply({ kind: 'ok', value: this.crdt.value(key) });
  }

  localValue(key: string): number {
    return this.crdt.value(key);
  }

  describe(): string {
    const seen = [...this.crdt.seenVector()].map(([o, s]) => `${o}:${s}`).join(',');
    return `seen=${seen} live=${this.crdt.liveDotCount} folded=${this.crdt.tombstoneCount} keys=${this.crdt.keys().map((k) => `${k}=${this.crdt.value(k)}`).join(',')}`;
  }

  private send(peer: NodeId): void {
    const m = this.replicator.message(peer, this.crdt);
    this.outstanding.set(m.token, { ref: { peer, token: m.token, version: m.version }, since: this.ticks });
    this.ctx.send(peer, { type: 'gossip', from: this.ctx.id, incarnation: this.incarnation, token: m.token, body: m.body });
  }

  private fold(): void {
    if (this.folding) return;
    const folds = this.crdt.planCompaction(this.replicator.stableVector(this.crdt));
    if (folds.length === 0) return;
    this.folding = true;
    this.durably({ plain: [], dots: [], compacted: folds }, null, () => {
      this.folding = false;
    });
  }

  /** Write, fsync, then merge (and only then `then`). A crash in between: `then` never runs. */
  private durably(delta: StateDelta, source: NodeId | null, then: () => void): void {
    this.ctx.disk.write(delta);
    this.ctx.sync(() => {
      this.crdt.merge(delta, source);
      this.replicator.recheckAll(this.crdt);
      then();
    });
  }
}

export type CrdtSimTopology = SimTopology<CrdtSimMessage, CrdtDisk, StateDelta, CrdtSimNode>;

export function crdtSimTopology(options: CrdtSimOptions = {}): CrdtSimTopology {
  const o: Required<CrdtSimOptions> = {
    tickMs: 10,
    gossipTicks: 10,
    timeoutTicks: 50,
    hedgeTicks: 5,
    fanout: 2,
    mode: 'pn',
    replication: 'delta',
    maxTombstones: 1_000_000,
    ...options,
  };
  return {
    name: 'crdt',
    tickMs: o.tickMs,
    emptyDisk: () => [],
    reduceDisk: (disk, record) => {
      disk.push(record);
      return disk;
    },
    create: (ctx) => new CrdtSimNode(ctx, o),
    messageType: (m) => m.type,
    converged(nodes) {
      // Every live node holds the same dots of every origin and reads the same values.
      let reference: string | null = null;
      for (const node of nodes.values()) {
        const c = node.crdt;
        const text = JSON.stringify([[...c.seenVector()], c.keys().map((k) => [k, c.value(k)])]);
        if (reference !== null && text !== reference) return false;
        reference = text;
      }
      return true;
    },
    appliedByIdempotencyKey(nodes) {
      const first = [...nodes.values()][0];
      return first ? first.crdt.countedByIdem() : new Map();
    },
    checkSafety(nodes) {
      for (const node of nodes.values()) {
        for (const [idem, n] of node.crdt.countedByIdem()) if (n > 1) return `${idem} counts ${n} times at a node`;
      }
      return null;
    },
  };
}
