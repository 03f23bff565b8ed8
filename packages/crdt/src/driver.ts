/**
 * The CRDT topology's driver: timers, disk and transport around the pure core.
 *
 * Every change, local or from a peer, is written to the log and fsynced (group commit) BEFORE it
 * is merged into the in-memory state, so everything this node acknowledges, sends, or reports
 * holding is on its disk: an acknowledgement or a stability report is a promise about disk.
 *
 * Write path (POST /incr): look the Idempotency-Key up; reserve a dot (or this node's new P/N
 * total); append + fsync; merge; reply (w=1), then push to every peer; w=majority|all also waits
 * until that many replicas acknowledged a message holding it. Read path (GET /count): this
 * node's merged state; r=majority|all first pulls and merges peers' states.
 */
import { randomInt } from 'node:crypto';
import {
  BadRequestError,
  reply,
  Rng,
  type ClientReply,
  type CountRequest,
  type IncrRequest,
  type NodeId,
  type TopologyContext,
  type TopologyNode,
} from '@playground/core';
import { CounterCrdt } from './core/counter.js';
import { LocalWriter } from './core/local.js';
import { Replicator, type OutgoingMessage, type ReplicationMode } from './core/replicator.js';
import { isEmptyDelta, type CounterMode, type Dot, type StateDelta } from './core/types.js';
import { encodeDots, encodeSeen, GOSSIP, IDEM, PULL, WireParser, WIRE_VERSION, type GossipReply } from './core/wire.js';
import { createCrdtMetrics, type CrdtMetrics } from './metrics.js';
import { parseReplicas, replicasNeeded, type Replicas } from './params.js';
import { DurableWriter } from './durable.js';
import { fanOut } from './fan-out.js';
import { IdemChecker } from './idem-check.js';
import { recover } from './persist.js';
import { CrdtStore } from './store.js';

export interface CrdtKnobs {
  readonly gossipMs: number;
  readonly fanout: number;
  readonly mode: CounterMode;
  readonly replication: ReplicationMode;
  readonly maxLiveDots: number;
  readonly maxTombstones: number;
  readonly maxChangeLog: number;
  /** How long w=majority|all and r=majority|all wait for replicas. */
  readonly waitMs: number;
  readonly peerTimeoutMs: number;
  /** A gossip message out this long gets a fresh one sent beside it (0: never). */
  readonly hedgeMs: number;
  /** How long a keyed increment asks reachable peers whether they already hold its key (0: never ask). */
  readonly idemCheckMs: number;
  /** How long a local increment may wait to be pushed, sharing one message per peer with later ones (0: pushed after its own group commit). */
  readonly pushMs: number;
  readonly snapshotBytes: number;
  readonly heartbeatRounds: number;
  /** Seeds gossip peer choice; 0: random. */
  readonly seed: number;
}

interface Waiter {
  readonly version: number;
  readonly peers: number;
  readonly resolve: (ok: boolean) => void;
}

export class CrdtNode implements TopologyNode {
  private readonly members: NodeId[];
  private readonly store: CrdtStore;
  private readonly parser: WireParser;
  private crdt: CounterCrdt;
  private writer: LocalWriter;
  private replicator!: Replicator;
  private durable!: DurableWriter;
  private metrics!: CrdtMetrics;
  private idemChecker!: IdemChecker;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /** Per Idempotency-Key, the tail of the requests for it being served here (bounded by requests in flight). */
  private readonly idemLocks = new Map<string, Promise<void>>();
  private pendingDots = 0;
  private mergeChain: Promise<unknown> = Promise.resolve();
  private waiters: Waiter[] = [];
  /** A push is queued for this turn's check phase. */
  private pushSoon = false;
  /** A push is queued for when --push-ms runs out. */
  private pushTimer: NodeJS.Timeout | null = null;
  private messagesSent = 0;
  private incrementsApplied = 0;

  constructor(
    private readonly context: TopologyContext,
    private readonly knobs: CrdtKnobs,
  ) {
    this.members = context.peers.map((p) => p.id);
    this.store = new CrdtStore(context.dataDir);
    this.parser = new WireParser(this.members, knobs.mode);
    this.crdt = this.newCrdt();
    this.writer = new LocalWriter(this.crdt);
  }

  private newCrdt(): CounterCrdt {
    const { maxTombstones, maxChangeLog, mode } = this.knobs;
    return new CounterCrdt({ self: this.context.id, members: this.members, mode, maxTombstones, maxChangeLog });
  }

  async start(): Promise<void> {
    const recovered = await this.store.open();
    recover(this.crdt, this.parser, recovered.snapshot, recovered.records);
    if (recovered.truncatedBytes > 0) this.context.log.warn('cut a torn tail off the crdt log', { bytes: recovered.truncatedBytes });
    const seed = this.knobs.seed !== 0 ? this.knobs.seed : randomInt(2 ** 31);
    this.replicator = new Replicator({
      self: this.context.id,
      members: this.members,
      fanout: Math.min(this.knobs.fanout, Math.max(1, this.members.length - 1)),
      replication: this.knobs.replication,
      heartbeatRounds: this.knobs.heartbeatRounds,
      rng: new Rng(seed),
      ...(this.knobs.hedgeMs > 0 ? { hedge: { afterMs: this.knobs.hedgeMs, now: () => performance.now() } } : {}),
    });
    this.durable = new DurableWriter(this.store, this.crdt, this.knobs.snapshotBytes, this.context.log, () => this.replicator.recheckAll(this.crdt));
    this.metrics = createCrdtMetrics(this.context.metrics as never, () => ({
      liveDots: this.crdt.liveDotCount,
      tombstones: this.crdt.tombstoneCount,
      walBytes: this.store.logBytes,
      fsyncs: this.store.fsyncCount,
      messagesSent: this.messagesSent,
      incrementsApplied: this.incrementsApplied,
    }));
    this.context.log.info('crdt state recovered', {
      keys: this.crdt.keys().length,
      liveDots: this.crdt.liveDotCount,
      records: recovered.records.length,
      snapshot: recovered.snapshot !== null,
      gossipSeed: seed,
    });
    // Every peer, also one that failed lately (it may be back): a partitioned one costs at most
    // --idem-check-ms per batch, and nothing once the transport's breaker for it is open.
    this.idemChecker = new IdemChecker(
      () => this.replicator.peerIds,
      this.knobs.idemCheckMs,
      this.knobs.peerTimeoutMs,
      (id, keys, timeoutMs) => this.askPeerForIdems(id, keys, timeoutMs),
      async (id, dots) => void (await this.absorb(id, null, { plain: [], dots: [...dots], compacted: [] })),
      (id, e) => this.context.log.warn('idempotency check failed', { peer: id, error: (e as Error).message }),
    );
    // A peer the transport had given up on answers again (a partition healed): send to it now,
    // not at the next round after a backoff.
    this.context.transport.onReachable?.((peer) => {
      if (!this.stopped && this.replicator.peerIds.includes(peer) && this.replicator.heardFrom(peer)) this.send(peer, 'hedge');
    });
    this.timer = setInterval(() => this.gossipRound(), this.knobs.gossipMs);
  }

  // ---- client API --------------------------------------------------------------------------

  async incr(request: IncrRequest): Promise<ClientReply> {
    const w = parseReplicas(request.params.w, 'w');
    if (typeof w === 'object') return reply.badRequest('w', w.error);
    if (this.knobs.mode === 'g' && request.delta < 0) {
      return reply.badRequest('delta', `${request.delta} is negative, and this node counts with a G-counter (--counter gcounter), which only grows`);
    }
    const needed = replicasNeeded(w, this.members.length);
    const idem = request.idempotencyKey;
    if (idem === undefined) return this.apply(request, w, needed, undefined);
    // One request per Idempotency-Key at a time on this node: a second one waits for the first
    // and then finds it. (Two dots of one key from ONE node would both count: counter.ts.)
    const previous = this.idemLocks.get(idem);
    let release!: () => void;
    const lock = new Promise<void>((r) => (release = r));
    const mine = (previous ?? Promise.resolve()).then(() => lock);
    this.idemLocks.set(idem, mine);
    try {
      await previous;
      return await this.apply(request, w, needed, idem);
    } finally {
      release();
      if (this.idemLocks.get(idem) === mine) this.idemLocks.delete(idem);
    }
  }

  private async apply(request: IncrRequest, w: Replicas, needed: number, idem: string | undefined): Promise<ClientReply> {
    if (idem !== undefined) {
      if (!this.crdt.lookupIdem(idem) && this.knobs.idemCheckMs > 0) await this.askPeersForIdem(idem);
      const known = this.crdt.lookupIdem(idem);
      if (known) {
        this.metrics.increments.inc({ outcome: 'duplicate' });
        const version = this.crdt.currentVersion;
        return this.replicated(w, needed, version, () => this.applied(known.dot.key, known.dot.delta, true, w, known.dot, version));
      }
    }
    const reachable = 1 + this.replicator.reachablePeers().length;
    if (needed > reachable) {
      return reply.unavailable(`w=${w} needs ${needed} replicas, only ${reachable} reachable: not applied`, 1, { needed, reachable });
    }
    if (idem !== undefined && this.crdt.liveDotCount + this.pendingDots >= this.knobs.maxLiveDots) {
      return reply.unavailable(
        `${this.knobs.maxLiveDots} keyed increments wait to be folded (--max-live-dots; a member has been unreachable): not applied; retry later, or send it without an Idempotency-Key`,
      );
    }
    if (this.store.failed) return { status: 500, error: { code: 'internal', message: 'the disk failed; this node no longer writes' } };

    let delta: StateDelta;
    let ours: Dot | undefined;
    if (idem === undefined) delta = this.writer.preparePlain(request.key, request.delta);
    else ({ delta, dot: ours } = this.writer.prepareDot(request.key, request.delta, idem));
    if (idem !== undefined) this.pendingDots++;
    try {
      await this.durable.write(delta, null);
    } catch (e) {
      this.context.log.error('crdt log append failed', { error: (e as Error).message });
      return { status: 500, error: { code: 'internal', message: 'the increment could not be made durable; outcome unknown, retry with the same Idempotency-Key' } };
    } finally {
      if (idem !== undefined) this.pendingDots--;
    }
    this.incrementsApplied++;
    this.metrics.increments.inc({ outcome: idem === undefined ? 'applied_plain' : 'applied_keyed' });
    const version = this.crdt.currentVersion;
    this.schedulePush(needed > 1);
    // A concurrent retry through another node may already be here and win (counter.ts): then
    // this request is the duplicate, and says so.
    const winner = idem === undefined ? undefined : this.crdt.lookupIdem(idem)?.dot;
    const duplicate = winner !== undefined && ours !== undefined && (winner.origin !== ours.origin || winner.seq !== ours.seq);
    return this.replicated(w, needed, version, () =>
      this.applied(winner?.key ?? request.key, winner?.delta ?? request.delta, duplicate, w, winner, version),
    );
  }

  private applied(key: string, delta: number, duplicate: boolean, w: Replicas, dot: Dot | undefined, version: number): ClientReply {
    return reply.ok({
      ok: true,
      key,
      delta,
      node: this.context.id,
      duplicate,
      // `value` is the counter right after this increment, known only to the node that applied
      // it when it did; a duplicate answers with the counter as this node reads it now.
      ...(duplicate ? { valueNow: this.crdt.value(key) } : { value: this.crdt.value(key) }),
      w,
      // Replicas known to hold it (this one included): peers that acknowledged a message holding it.
      acks: 1 + this.replicator.holders(version),
      ...(dot ? { dot: [dot.origin, dot.seq] } : {}),
    });
  }

  /** w=1 answers at once; w=majority|all once enough peers hold `version` (504 otherwise: it is applied here and will spread). */
  private async replicated(w: Replicas, needed: number, version: number, answer: () => ClientReply): Promise<ClientReply> {
    if (needed <= 1) return answer();
    const ok = await this.waitForHolders(version, needed - 1, this.knobs.waitMs);
    if (ok) return answer();
    const acks = 1 + this.replicator.holders(version);
    return reply.timeout(
      `w=${w}: durable here, but ${acks} of ${needed} replicas confirmed within ${this.knobs.waitMs} ms; it keeps spreading; retry with the same Idempotency-Key`,
      { acks, needed },
    );
  }

  async count(request: CountRequest): Promise<ClientReply> {
    // `consistency=local` (the Raft spelling) is accepted as r=1.
    const field = request.params.r === undefined && request.params.consistency !== undefined ? 'consistency' : 'r';
    const r = parseReplicas(request.params[field], 'r');
    if (typeof r === 'object') return reply.badRequest(field, r.error);
    const needed = replicasNeeded(r, this.members.length);
    let merged = 1;
    if (needed > 1) {
      merged += await this.pullFrom(needed - 1);
      if (merged < needed) {
        return reply.unavailable(`r=${r} needs ${needed} replicas, ${merged} answered within ${this.knobs.waitMs} ms`, 1, { needed, merged });
      }
    }
    return reply.ok({
      key: request.key,
      value: this.crdt.value(request.key),
      node: this.context.id,
      r,
      merged,
      // What this answer is built from: per origin, the highest increment seq held here.
      seen: Object.fromEntries(this.crdt.seenVector()),
    });
  }

  /** Counters for in-process measurements. */
  stats(): { messagesSent: number; incrementsApplied: number } {
    return { messagesSent: this.messagesSent, incrementsApplied: this.incrementsApplied };
  }

  status(): Record<string, unknown> {
    const keys = this.crdt.keys();
    return {
      counter: this.knobs.mode === 'g' ? 'gcounter' : 'pn',
      replication: this.knobs.replication,
      gossipMs: this.knobs.gossipMs,
      fanout: this.knobs.fanout,
      seen: Object.fromEntries(this.crdt.seenVector()),
      compactedUpTo: Object.fromEntries(this.members.map((m) => [m, this.crdt.compactedUpTo(m)])),
      liveDots: this.crdt.liveDotCount,
      tombstones: this.crdt.tombstoneCount,
      changeLog: this.crdt.changeLogLength,
      wal: { bytes: this.store.logBytes, fsyncs: this.store.fsyncCount },
      replicationLag: this.replicator.status(this.crdt),
      keys: keys.length,
      values: Object.fromEntries(keys.slice(0, 20).map((k) => [k, this.crdt.value(k)])),
    };
  }

  // ---- peers -------------------------------------------------------------------------------

  async handlePeer(from: NodeId, type: string, body: unknown): Promise<unknown> {
    try {
      if (type === GOSSIP) {
        const parsed = this.parser.gossip(body);
        const cut = this.replicator.isCut(from);
        const changed = await this.absorb(from, parsed.seen, parsed.state);
        const answer: GossipReply = { v: WIRE_VERSION, seen: encodeSeen(this.crdt.reportedSeen()) };
        if (!cut) return answer;
        // Our messages to `from` are failing or hanging but it reached us (a partition healing):
        // send ours back on this reply, send to it again at once rather than at the next round,
        // and pass what it brought on to the others now.
        if (this.replicator.heardFrom(from)) setImmediate(() => void this.send(from, 'hedge'));
        if (changed) this.schedulePush(true);
        return { ...answer, state: this.replicator.bodyFor(from, this.crdt).state };
      }
      if (type === IDEM) {
        const keys = this.parser.idemRequest(body);
        return { v: WIRE_VERSION, dots: encodeDots(keys.flatMap((k) => this.crdt.dotsForIdem(k))) };
      }
      if (type === PULL) {
        const o = body as { v?: unknown } | null;
        if (typeof o !== 'object' || o === null || o.v !== WIRE_VERSION) throw new BadRequestError('v', `protocol version must be ${WIRE_VERSION}`);
        return this.replicator.bodyFor(from, this.crdt);
      }
      throw new BadRequestError('type', `${JSON.stringify(type)} is not a crdt message (${GOSSIP}, ${PULL}, ${IDEM})`);
    } catch (e) {
      if (e instanceof BadRequestError) {
        this.metrics.refused.inc();
        this.context.log.warn('refused a peer message', { from, type, error: e.message });
      }
      throw e;
    }
  }

  /** Merges a peer's state: checked, written, merged, one message at a time. `seen`: the peer's report, if it sent one. */
  private absorb(from: NodeId, seen: Map<NodeId, number> | null, state: StateDelta): Promise<boolean> {
    return this.serialized(async () => {
      const refusal = this.crdt.refuseFromPeer(state);
      if (refusal !== null) throw new BadRequestError('state', refusal);
      const novel = this.crdt.novel(state);
      const changed = !isEmptyDelta(novel);
      if (changed) await this.durable.write(novel, from);
      this.metrics.merges.inc({ result: changed ? 'changed' : 'unchanged' });
      if (seen !== null) this.replicator.report(from, seen, this.crdt);
      return changed;
    });
  }

  /**
   * Before a keyed increment makes a new dot: does a reachable peer already hold the key? A
   * client that timed out at one node retries through another, and the first may have applied
   * it; if a peer answers with its dots within --idem-check-ms, they are merged here and this
   * request is answered as the duplicate it is. Otherwise (a partition, a slow peer) the new dot
   * is made anyway: it is still counted once (counter.ts), only the "duplicate" flag comes later.
   */
  private async askPeersForIdem(idem: string): Promise<void> {
    this.metrics.idemChecks.inc();
    await this.idemChecker.check(idem);
  }

  /** One batched IDEM question to one peer (idem-check.ts). */
  private async askPeerForIdems(id: NodeId, keys: readonly string[], timeoutMs: number): Promise<readonly Dot[]> {
    const result = await this.context.transport.call(id, IDEM, { v: WIRE_VERSION, idems: keys }, { timeoutMs });
    if (!result.ok) {
      if (result.error.kind !== 'remote_error') this.replicator.markUnreachable(id);
      return [];
    }
    return this.parser.idemReply(result.value, new Set(keys));
  }

  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.mergeChain.then(task);
    this.mergeChain = run.catch(() => undefined);
    return run;
  }

  /**
   * Pushes what is new to every peer, one message per peer for everything queued meanwhile:
   * - `urgent` (a request waits for replicas to hold its increment, or a peer's news should
   *   spread on at once), or --push-ms 0: in this turn's check phase, once this turn's group
   *   commit has merged;
   * - else within --push-ms, so that the increments of several group commits share a message.
   *   A w=1 increment is acknowledged once durable here, so the wait adds nothing to its
   *   latency; it only delays what peers read, by less than a gossip round would. Measured at
   *   64 connections through n1: 0.19 -> 0.12-0.13 peer messages per keyed increment (each one
   *   a merge and an fsync on a peer); the throughput through n1 moved within the noise.
   */
  private schedulePush(urgent = false): void {
    if (this.pushSoon) return;
    if (urgent || this.knobs.pushMs === 0) {
      this.pushSoon = true;
      setImmediate(() => this.pushNow());
    } else {
      this.pushTimer ??= setTimeout(() => this.pushNow(), this.knobs.pushMs);
    }
  }

  private pushNow(): void {
    this.pushSoon = false;
    if (this.pushTimer !== null) clearTimeout(this.pushTimer);
    this.pushTimer = null;
    if (this.stopped) return;
    for (const id of this.replicator.push()) this.send(id, 'push');
  }

  /** Sends the peer the message claimed for it (push, gossip round, or hedge beside an overdue one). */
  private send(id: NodeId, cause: 'push' | 'gossip' | 'hedge'): void {
    const m = this.replicator.message(id, this.crdt);
    const content = m.body.full ? 'full' : 'delta';
    this.messagesSent++;
    this.metrics.messages.inc({ cause, content });
    this.metrics.entries.inc({ content }, m.entries);
    this.deliver(m, cause).catch((e: unknown) => {
      // A bug, not the network (the transport never throws for that): say so, keep serving.
      this.context.log.error('crdt send failed', { peer: id, error: (e as Error).stack ?? String(e) });
      if (this.replicator.isCurrent(m)) this.replicator.failed(m);
    });
  }

  /** One message and its one outcome: acknowledged, or failed (a superseded one's failure is ignored). */
  private async deliver(m: OutgoingMessage, cause: 'push' | 'gossip' | 'hedge'): Promise<void> {
    const id = m.peer;
    const result = await this.context.transport.call(id, GOSSIP, m.body, { timeoutMs: this.knobs.peerTimeoutMs });
    if (this.stopped) return;
    let again = false;
    let answer: ReturnType<WireParser['reply']> | null = null;
    if (result.ok) {
      try {
        answer = this.parser.reply(result.value);
      } catch (e) {
        this.context.log.warn('peer answered gossip with a malformed reply', { peer: id, error: (e as Error).message });
      }
    }
    if (answer !== null) {
      again = this.replicator.sent(m, answer.seen, this.crdt);
      if (answer.state !== null) {
        // The peer's messages to us were failing (a partition healing): what it sends back
        // is news to the others too, so it is pushed on at once rather than at the next round.
        void this.absorb(id, answer.seen, answer.state).then(
          (changed) => changed && this.schedulePush(true),
          (e: unknown) => this.context.log.warn('refused the state on a gossip reply', { peer: id, error: (e as Error).message }),
        );
      }
    } else {
      again = this.replicator.failed(m, !result.ok && result.error.kind === 'timeout');
    }
    this.checkWaiters();
    if (again) this.send(id, cause === 'hedge' ? 'gossip' : cause);
  }

  /** Pulls and merges peers' states; resolves with how many were merged (up to `enough`, by the deadline). */
  private pullFrom(enough: number): Promise<number> {
    const timeoutMs = Math.min(this.knobs.peerTimeoutMs, this.knobs.waitMs);
    return fanOut(this.replicator.peerIds, enough, this.knobs.waitMs, async (id) => {
      const result = await this.context.transport.call(id, PULL, { v: WIRE_VERSION }, { timeoutMs });
      if (!result.ok) return false;
      const parsed = this.parser.gossip(result.value);
      await this.absorb(id, parsed.seen, parsed.state);
      return true;
    }, (id, e) => this.context.log.warn('pull from peer failed', { peer: id, error: (e as Error).message }));
  }

  private waitForHolders(version: number, peers: number, timeoutMs: number): Promise<boolean> {
    if (this.replicator.holders(version) >= peers) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        version,
        peers,
        resolve: (ok) => {
          clearTimeout(timer);
          this.waiters = this.waiters.filter((x) => x !== waiter);
          resolve(ok);
        },
      };
      const timer = setTimeout(() => waiter.resolve(false), timeoutMs);
      this.waiters.push(waiter);
    });
  }

  private checkWaiters(): void {
    for (const w of [...this.waiters]) if (this.replicator.holders(w.version) >= w.peers) w.resolve(true);
  }

  // ---- background --------------------------------------------------------------------------

  private gossipRound(): void {
    if (this.stopped) return;
    this.metrics.rounds.inc();
    for (const id of this.replicator.hedge()) this.send(id, 'hedge');
    for (const id of this.replicator.tick(this.crdt)) this.send(id, 'gossip');
    this.crdt.trimChanges(this.replicator.acknowledgedByAll());
    void this.serialized(async () => {
      const folds = this.crdt.planCompaction(this.replicator.stableVector(this.crdt));
      if (folds.length === 0) return;
      await this.durable.write({ plain: [], dots: [], compacted: folds }, null);
      this.metrics.folds.inc(folds.length);
    }).catch((e: unknown) => this.context.log.error('crdt fold failed', { error: (e as Error).message }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.pushTimer !== null) clearTimeout(this.pushTimer);
    for (const w of [...this.waiters]) w.resolve(false);
    await this.mergeChain.catch(() => undefined);
    await this.store.close();
  }
}
