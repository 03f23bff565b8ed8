/**
 * The leaderless topology in the deterministic simulator (packages/sim's SimTopology): the same
 * pure core as the real driver (ring, PeerHealth, planTargets, WriteRound, ReadRound, Replica),
 * composed the way driver.ts, rounds.ts and background.ts compose it, with ticks for timers and
 * the simulated network and disk for I/O:
 * - a replica applies a put or a state in memory at once and answers only after the record is
 *   fsynced (driver.applyPut/applyState); a restart replays the synced records with
 *   `recovering` (driver.start);
 * - a coordinator plans targets from its failure detector, runs a WriteRound (merge: one dot per
 *   Idempotency-Key, or its own PN entry persisted first when keyless; lww: a ReadRound first,
 *   read-modify-write) or a ReadRound with digest reads and read repair, each with a deadline
 *   of `rpcTimeoutTicks`; a timed-out request gets no answer (the client's `info`);
 * - background loops, each never overlapping itself: probes (PeerHealth), hinted handoff
 *   (Dynamo §4.6) and two-level Merkle anti-entropy with one peer at a time (Dynamo §4.7).
 * Peer traffic is one-way in the simulator, so each RPC is a request and a reply matched by id;
 * a reply that does not come within the timeout is a `timeout` failure (outcome unknown).
 * Requests are checked by the real parsers, which also copy them (a receiver never shares the
 * sender's objects; the simulator may deliver one message twice).
 *
 * Left out: metrics (the replica-side effects are counted in `stats`), WAL compaction into snapshots (replay is
 * the same either way), the transport's circuit breaker and `unreachable` failures (a cut link
 * here is silence, i.e. a timeout), per-request w/r/context parameters, and clock skew.
 */
import { assert, BadRequestError, err, ok, vclock } from '@playground/core';
import type { NodeId, Result, RpcFailure, VClock } from '@playground/core';
import type { ClientOutcome, IncrCall, SimContext, SimNode, SimTopology } from '@playground/sim';
import { nextClock, planTargets, WriteRound, type Target } from './core/coordinator.js';
import { LWW_RECENT_KEYS_MAX } from './core/counter.js';
import { PeerHealth } from './core/health.js';
import { DOT_PREFIX, parseAeBuckets, parseAeKeys, parseGet, parseGetReply, parsePut, parseState, parseVersions } from './core/messages.js';
import type { AeBucketsReply, AeKeysReply, GetMessage, GetReply, ParseLimits, PutMessage, PutReply, StateMessage, StateReply } from './core/messages.js';
import { ReadRound, type ReadResult } from './core/read-round.js';
import { Replica } from './core/replica.js';
import { Ring } from './core/ring.js';
import type { ResolveMode, VersionWire } from './core/versioned.js';
import type { WalRecord } from './store.js';

type RpcKind = 'put' | 'get' | 'state' | 'ping' | 'ae.buckets' | 'ae.keys';
export type LeaderlessSimMessage =
  | { readonly type: 'req'; readonly kind: RpcKind; readonly from: NodeId; readonly rid: string; readonly body: unknown }
  | { readonly type: 'res'; readonly kind: RpcKind; readonly from: NodeId; readonly rid: string; readonly body: unknown; readonly error?: string };

/** The write-ahead log as synced records, replayed in order at boot (the Store minus framing). */
export type LeaderlessDisk = WalRecord[];

export interface LeaderlessSimOptions {
  readonly tickMs?: number;
  readonly n?: number;
  readonly w?: number;
  readonly r?: number;
  readonly resolve?: ResolveMode;
  readonly readRepair?: boolean;
  readonly sloppyQuorum?: boolean;
  /** Deadline of a request's round and of each peer call (the driver's rpc-timeout-ms). */
  readonly rpcTimeoutTicks?: number;
  readonly probeTicks?: number;
  readonly handoffTicks?: number;
  /** 0 = off. */
  readonly antiEntropyTicks?: number;
  readonly vnodes?: number;
  readonly siblingsMax?: number;
  readonly dedupMax?: number;
  readonly keysMax?: number;
  readonly hintMax?: number;
  /** Peer calls waiting for a reply; at the bound a call fails at once as `overloaded` (not sent). */
  readonly inFlightMax?: number;
  /** A broken driver, for the test that shows the checkers catch it: acknowledge puts before their fsync. */
  readonly ackBeforeSync?: boolean;
}
type Options = Required<LeaderlessSimOptions>;

const AE_BUCKETS = 256;
const AE_KEYS_PER_MESSAGE = 1000;
const HINTS_PER_HANDOFF = 100;
type Ctx = SimContext<LeaderlessSimMessage, LeaderlessDisk, WalRecord>;
type Done<T> = (res: Result<T, RpcFailure>) => void;

export class LeaderlessSimNode implements SimNode<LeaderlessSimMessage> {
  readonly ring: Ring;
  readonly replica: Replica;
  readonly health: PeerHealth;
  /** Replica-side effects, as the driver's metrics count them. */
  readonly stats = { lwwOverwritten: 0, readRepairs: 0, hintsDelivered: 0, antiEntropyRepairs: 0 };
  private readonly limits: ParseLimits;
  private readonly calls = new Map<string, { peer: NodeId; kind: RpcKind; deadlineTick: number; done: Done<unknown> }>();
  /** Rounds waiting for their deadline tick (a round removes itself once decided and settled). */
  private readonly deadlines = new Set<() => void>();
  private readonly busy = new Set<'probe' | 'handoff' | 'anti-entropy'>();
  private readonly incarnation: string;
  private nextRid = 0;
  private ticks = 0;
  private aeCursor = 0;
  private lastTimestampUs = 0;

  constructor(
    private readonly ctx: Ctx,
    readonly o: Options,
  ) {
    this.ring = new Ring(ctx.peers, o.vnodes);
    this.replica = new Replica({ self: ctx.id, mode: o.resolve, siblingsMax: o.siblingsMax, dotsMax: o.dedupMax, keysMax: o.keysMax, hintMax: o.hintMax, buckets: AE_BUCKETS });
    this.health = new PeerHealth(ctx.id);
    this.limits = { members: new Set(ctx.peers), mode: o.resolve, siblingsMax: o.siblingsMax, dotsMax: o.dedupMax * ctx.peers.length, buckets: AE_BUCKETS, keysPerMessageMax: AE_KEYS_PER_MESSAGE };
    this.incarnation = ctx.rng.int(0, 2 ** 31).toString(36);
    for (const r of ctx.disk.image) {
      if (r.t === 'snap') this.replica.restore(r.s);
      else if (r.t === 'put') this.replica.applyPut(r.m, true);
      else if (r.t === 'state') this.replica.applyState(r.m, true);
      else if (r.t === 'own') this.replica.setOwnSum(r.key, r.p, r.n);
      else this.replica.dropHint(r.owner, r.key, r.digest);
    }
  }

  // ---- the simulator's calls ----

  tick(): void {
    this.ticks++;
    for (const [rid, call] of this.calls) {
      if (this.ticks < call.deadlineTick) continue;
      this.calls.delete(rid);
      call.done(err({ kind: 'timeout', message: `${call.kind} to ${call.peer}: no reply` }));
    }
    for (const check of [...this.deadlines]) check();
    if (this.ticks % this.o.probeTicks === 0) this.loop('probe', (done) => this.probe(done));
    if (this.ticks % this.o.handoffTicks === 0) this.loop('handoff', (done) => this.handoff(done));
    if (this.o.antiEntropyTicks > 0 && this.ticks % this.o.antiEntropyTicks === 0) this.loop('anti-entropy', (done) => this.antiEntropy(done));
  }

  receive(m: LeaderlessSimMessage): void {
    if (m.type === 'res') {
      const call = this.calls.get(m.rid);
      if (call === undefined || call.peer !== m.from) return; // late, duplicated, or a previous incarnation's
      this.calls.delete(m.rid);
      call.done(m.error === undefined ? ok(m.body) : err({ kind: 'remote_error', status: 400, message: m.error }));
      return;
    }
    const answer = (body: unknown): void => this.ctx.send(m.from, { type: 'res', kind: m.kind, from: this.ctx.id, rid: m.rid, body });
    try {
      this.handle(m.kind, m.from, m.body, answer);
    } catch (e) {
      if (!(e instanceof BadRequestError)) throw e;
      this.ctx.send(m.from, { type: 'res', kind: m.kind, from: this.ctx.id, rid: m.rid, body: null, error: e.message });
    }
  }

  incr(call: IncrCall, reply: (o: ClientOutcome) => void): void {
    const { key, delta, idempotencyKey } = call;
    const plan = planTargets(this.ring.walk(key), this.o.n, (p) => this.health.isUp(p), this.o.sloppyQuorum);
    if (this.o.resolve === 'lww') {
      // Read-modify-write of a plain integer (Cassandra-style): concurrent ones lose updates.
      this.readRound(key, (read) => {
        // Nothing was written yet, whatever the read came to: surely not applied (driver.incr).
        if (read.kind !== 'ok') return reply({ kind: 'fail', reason: `lww read before write: ${read.reason}; nothing written` });
        const seen = read.result;
        const recent = seen.keys ?? [];
        if (idempotencyKey !== undefined && recent.includes(idempotencyKey)) return reply({ kind: 'ok', value: seen.value, duplicate: true });
        const version: VersionWire = { c: vclock.increment(seen.clock, this.ctx.id), v: seen.value + delta, t: this.timestampUs(), w: this.ctx.id };
        if (idempotencyKey !== undefined) version.k = [idempotencyKey, ...recent].slice(0, LWW_RECENT_KEYS_MAX);
        else if (recent.length > 0) version.k = [...recent];
        this.write(key, version, plan, false, reply);
      });
      return;
    }
    if (plan.reachable < this.o.w) return reply({ kind: 'fail', reason: `only ${plan.reachable} of the ${this.o.w} replicas needed are reachable` });
    if (idempotencyKey !== undefined) {
      return this.write(key, { c: this.nextClock(key), d: [[`${DOT_PREFIX}${idempotencyKey}`, delta]] }, plan, false, reply);
    }
    const own = this.replica.nextOwnSum(key, delta);
    if (own === 'keys_full') return reply({ kind: 'fail', reason: `this node coordinates ${this.o.keysMax} keys already` });
    // This node is the only writer of its entry: it must be on disk before it leaves (driver.incr).
    this.replica.setOwnSum(key, own.p, own.n);
    this.durably({ t: 'own', key, p: own.p, n: own.n }, () => {
      this.write(key, { c: this.nextClock(key), s: { [this.ctx.id]: [own.p, own.n] } }, plan, true, reply);
    });
  }

  read(key: string, reply: (o: ClientOutcome) => void): void {
    this.readRound(key, (read) => {
      if (read.kind === 'ok') reply({ kind: 'ok', value: read.result.value });
      else if (read.kind === 'unavailable') reply({ kind: 'fail', reason: read.reason });
      // timeout: no answer, the outcome is unknown
    });
  }

  localValue(key: string): number {
    return this.replica.object(key)?.value() ?? 0;
  }

  describe(): string {
    const keys = [...this.replica.keys()].map((k) => `${k}=${this.localValue(k)}`).join(',');
    const lww = this.o.resolve === 'lww' ? ` lwwOverwritten=${this.stats.lwwOverwritten}` : '';
    return `keys=${keys} hints=${this.replica.hintCount} down=[${this.health.downPeers().join(',')}] calls=${this.calls.size}${lww}`;
  }

  // ---- coordinator ----

  private write(key: string, version: VersionWire, plan: ReturnType<typeof planTargets>, keylessCommitted: boolean, reply: (o: ClientOutcome) => void): void {
    const round = new WriteRound(this.o.w, plan, this.o.sloppyQuorum, this.ticks + this.o.rpcTimeoutTicks);
    let answered = false;
    const onTick = (): void => {
      round.onTick(this.ticks);
      finish();
    };
    const finish = (): void => {
      const decision = round.decision;
      if (answered || decision === undefined) return;
      answered = true;
      this.deadlines.delete(onTick);
      // timeout: no answer (unknown). A keyless increment already in this node's entry is never "not applied".
      if (decision.kind === 'timeout' || (decision.kind === 'unavailable' && keylessCommitted)) return;
      if (decision.kind === 'unavailable') return reply({ kind: 'fail', reason: decision.reason });
      const acks = round.replies;
      const value = this.o.resolve === 'lww' ? (version.v as number) : Math.max(...acks.map((a) => a.reply.value));
      reply({ kind: 'ok', value, duplicate: acks.some((a) => a.reply.status === 'duplicate') });
    };
    const dispatch = (target: Target): void => {
      const msg: PutMessage = { key, mode: this.o.resolve, version };
      if (target.hintFor !== undefined) msg.hintFor = target.hintFor;
      this.call<PutReply>(target.node, 'put', msg, (res) => {
        const next = res.ok ? round.onReply(target.node, res.value) : round.onFailure(target.node, res.error);
        if (res.ok) this.health.recordSuccess(target.node);
        else this.health.recordFailure(target.node, res.error);
        next.forEach(dispatch);
        finish();
      });
    };
    this.deadlines.add(onTick);
    round.initialTargets().forEach(dispatch);
    finish();
  }

  private readRound(key: string, done: (o: ReadOutcome) => void): void {
    const plan = planTargets(this.ring.walk(key), this.o.n, (p) => this.health.isUp(p), this.o.sloppyQuorum);
    const round = new ReadRound(this.o.r, plan, this.o.resolve, this.o.siblingsMax, this.ticks + this.o.rpcTimeoutTicks);
    let decided = false;
    let settled = false;
    const check = (deadline = false): void => {
      const decision = round.decision;
      if (!decided && decision !== undefined) {
        decided = true;
        done(decision.kind === 'ok' ? { kind: 'ok', result: decision } : decision);
      }
      if (!settled && (deadline || round.settled || decision?.kind === 'unavailable')) {
        settled = true;
        this.deadlines.delete(onDeadline);
        if (decision?.kind === 'ok' && this.o.readRepair) this.repair(key, round);
      }
    };
    const onDeadline = (): void => {
      round.onTick(this.ticks);
      if (this.ticks >= round.deadlineTick) check(true);
    };
    const fetchState = (node: NodeId): void => {
      this.call<GetReply>(node, 'get', { key, full: true }, (res) => {
        if (res.ok && res.value.versions !== undefined) round.onState(node, res.value.versions);
        else round.onFailure(node);
        check();
      });
    };
    this.deadlines.add(onDeadline);
    for (const target of round.initialTargets()) {
      this.call<GetReply>(target.node, 'get', { key }, (res) => {
        if (res.ok) {
          this.health.recordSuccess(target.node);
          round.onSummary(target.node, res.value).forEach(fetchState);
        } else {
          this.health.recordFailure(target.node, res.error);
          round.onFailure(target.node);
        }
        check();
      });
    }
    check();
  }

  /** Read repair (Dynamo §4.4), best effort: fetch the states not fetched yet, then send their join to stale owners. */
  private repair(key: string, round: ReadRound): void {
    const fetches = round.repairFetches();
    let waiting = fetches.length;
    const push = (): void => {
      for (const { node, versions } of round.repairs()) {
        this.stats.readRepairs++;
        this.call(node, 'state', { key, mode: this.o.resolve, versions }, () => undefined);
      }
    };
    if (waiting === 0) return push();
    for (const node of fetches) {
      this.call<GetReply>(node, 'get', { key, full: true }, (res) => {
        if (res.ok && res.value.versions !== undefined) round.onState(node, res.value.versions);
        if (--waiting === 0) push();
      });
    }
  }

  // ---- replica ----

  private handle(kind: RpcKind, from: NodeId, body: unknown, answer: (body: unknown) => void): void {
    switch (kind) {
      case 'put':
        return this.applyPut(parsePut(body, this.limits), answer);
      case 'get':
        return answer(this.answerGet(parseGet(body)));
      case 'state':
        return this.applyState(parseState(body, this.limits), answer);
      case 'ping':
        return answer({});
      case 'ae.buckets': {
        const msg = parseAeBuckets(body, this.limits);
        const mine = this.replica.bucketDigests(this.sharedWith(from));
        return answer({ differ: mine.flatMap((d, i) => (d === msg.buckets[i] ? [] : [i])) } satisfies AeBucketsReply);
      }
      case 'ae.keys':
        return answer(this.answerKeys(from, parseAeKeys(body, this.limits)));
    }
  }

  /** Applies in memory at once (later writes of this coordinator see it), acknowledges after fsync. */
  private applyPut(msg: PutMessage, answer: (r: PutReply) => void): void {
    const { reply, effects } = this.replica.applyPut(msg);
    if (effects.lost !== undefined) this.stats.lwwOverwritten++;
    if (reply.status === 'refused') return answer(reply);
    if (this.o.ackBeforeSync) {
      this.ctx.disk.write({ t: 'put', m: msg });
      return answer(reply);
    }
    this.durably({ t: 'put', m: msg }, () => answer(reply));
  }

  private applyState(msg: StateMessage, answer: (r: StateReply) => void): void {
    const { reply, effects } = this.replica.applyState(msg);
    if (effects.lost !== undefined) this.stats.lwwOverwritten++;
    if (reply.status === 'refused') return answer(reply);
    if (effects.changed) this.durably({ t: 'state', m: msg }, () => answer(reply));
    else this.ctx.sync(() => answer(reply)); // what it answers may still be unsynced from an earlier write
  }

  private answerGet(msg: GetMessage): GetReply {
    const out: GetReply = { mode: this.o.resolve, ...this.replica.summary(msg.key) };
    if (msg.full === true) out.versions = this.replica.read(msg.key);
    return out;
  }

  private answerKeys(from: NodeId, msg: ReturnType<typeof parseAeKeys>): AeKeysReply {
    const mine = this.replica.keyDigests(new Set(msg.buckets), this.sharedWith(from));
    const states: Record<string, VersionWire[]> = {};
    let sent = 0;
    for (const [key, digest] of Object.entries(mine)) {
      if (msg.keys[key] === digest || sent >= AE_KEYS_PER_MESSAGE) continue;
      const obj = this.replica.object(key);
      if (obj !== undefined) {
        states[key] = obj.toWire();
        sent++;
      }
    }
    return { states, want: Object.keys(msg.keys).filter((key) => mine[key] !== msg.keys[key]) };
  }

  // ---- background (background.ts): each loop one run at a time ----

  private loop(name: 'probe' | 'handoff' | 'anti-entropy', task: (done: () => void) => void): void {
    if (this.busy.has(name)) return;
    this.busy.add(name);
    task(() => this.busy.delete(name));
  }

  private probe(done: () => void): void {
    const peers = this.peers();
    let waiting = peers.length;
    if (waiting === 0) return done();
    for (const peer of peers) {
      this.call(peer, 'ping', {}, (res) => {
        if (res.ok) this.health.recordSuccess(peer);
        else this.health.recordFailure(peer, res.error);
        if (--waiting === 0) done();
      });
    }
  }

  /** Hinted handoff (Dynamo §4.6): one hint after the other, stopping at the first failure. */
  private handoff(done: () => void): void {
    const queue = this.replica.hintOwners().filter((owner) => this.health.isUp(owner)).flatMap((owner) => this.replica.hintsFor(owner, HINTS_PER_HANDOFF).map((h) => ({ owner, ...h })));
    const failedOwners = new Set<NodeId>();
    const next = (): void => {
      const hint = queue.shift();
      if (hint === undefined) return done();
      if (failedOwners.has(hint.owner)) return next();
      this.call<StateReply>(hint.owner, 'state', { key: hint.key, mode: this.o.resolve, versions: hint.versions }, (res) => {
        if (!res.ok || res.value.status !== 'stored') {
          failedOwners.add(hint.owner); // try again next round
          return next();
        }
        if (!this.replica.dropHint(hint.owner, hint.key, hint.digest)) return next();
        this.stats.hintsDelivered++;
        // Lost in a crash before this fsync, the hint comes back and is delivered again: harmless.
        this.durably({ t: 'unhint', owner: hint.owner, key: hint.key, digest: hint.digest }, next);
      });
    };
    next();
  }

  /** Anti-entropy (Dynamo §4.7): bucket digests, then the key digests of buckets that differ, then the objects. */
  private antiEntropy(done: () => void): void {
    const peers = this.peers().filter((p) => this.health.isUp(p));
    if (peers.length === 0) return done();
    const peer = peers[this.aeCursor++ % peers.length] as NodeId;
    const shared = this.sharedWith(peer);
    this.call<AeBucketsReply>(peer, 'ae.buckets', { mode: this.o.resolve, buckets: this.replica.bucketDigests(shared) }, (round1) => {
      if (!round1.ok || round1.value.differ.length === 0) return done();
      const differ = round1.value.differ;
      const keys = Object.fromEntries(Object.entries(this.replica.keyDigests(new Set(differ), shared)).slice(0, AE_KEYS_PER_MESSAGE));
      this.call<AeKeysReply>(peer, 'ae.keys', { mode: this.o.resolve, buckets: differ, keys }, (round2) => {
        if (!round2.ok) return done();
        for (const [key, versions] of Object.entries(round2.value.states)) {
          this.stats.antiEntropyRepairs++;
          this.applyState({ key, mode: this.o.resolve, versions: parseVersions(versions, `states.${key}`, this.limits) }, () => undefined);
        }
        for (const key of round2.value.want) {
          const obj = this.replica.object(key);
          if (obj === undefined) continue;
          this.stats.antiEntropyRepairs++;
          this.call(peer, 'state', { key, mode: this.o.resolve, versions: obj.toWire() }, () => undefined);
        }
        done();
      });
    });
  }

  // ---- I/O against the simulated world ----

  /** A peer call, or the local handler when `node` is this node (as driver.sendPut does). */
  private call<T>(node: NodeId, kind: RpcKind, body: unknown, done: Done<T>): void {
    if (node === this.ctx.id) return this.handle(kind, node, body, (reply) => done(ok(reply as T)));
    if (this.calls.size >= this.o.inFlightMax) return done(err({ kind: 'overloaded', message: `${this.calls.size} peer calls in flight` }));
    const rid = `${this.incarnation}.${this.nextRid++}`;
    const check = (value: unknown): Result<T, RpcFailure> => {
      try {
        return ok((kind === 'get' ? parseGetReply(value, (body as GetMessage).full === true, this.limits) : value) as T);
      } catch (e) {
        return err({ kind: 'remote_error', status: 502, message: `malformed ${kind} reply from ${node}: ${(e as Error).message}` });
      }
    };
    this.calls.set(rid, { peer: node, kind, deadlineTick: this.ticks + this.o.rpcTimeoutTicks, done: (res) => done(res.ok ? check(res.value) : res) });
    this.ctx.send(node, { type: 'req', kind, from: this.ctx.id, rid, body });
  }

  /** Write, fsync, then `then` (never, if the node crashes first). */
  private durably(record: WalRecord, then: () => void): void {
    this.ctx.disk.write(record);
    this.ctx.sync(then);
  }

  private peers(): NodeId[] {
    return this.ctx.peers.filter((p) => p !== this.ctx.id);
  }

  private sharedWith(peer: NodeId): (key: string) => boolean {
    return (key) => this.ring.preferenceList(key, this.o.n).includes(peer);
  }

  private nextClock(key: string): VClock {
    return nextClock(this.ctx.id, vclock.emptyClock, this.replica.object(key)?.clock() ?? vclock.emptyClock);
  }

  /** Virtual µs, never going backwards here (the driver's wallClockUs without skew). */
  private timestampUs(): number {
    this.lastTimestampUs = Math.max(Math.floor(this.ctx.now() * 1000), this.lastTimestampUs + 1);
    return this.lastTimestampUs;
  }
}

type ReadOutcome = { kind: 'ok'; result: ReadResult } | { kind: 'unavailable' | 'timeout'; reason: string };

export type LeaderlessSimTopology = SimTopology<LeaderlessSimMessage, LeaderlessDisk, WalRecord, LeaderlessSimNode> & {
  readonly options: Options;
};

export function leaderlessSimTopology(options: LeaderlessSimOptions = {}): LeaderlessSimTopology {
  const o: Options = {
    tickMs: 10,
    n: 3,
    w: 2,
    r: 2,
    resolve: 'merge',
    readRepair: true,
    sloppyQuorum: false,
    rpcTimeoutTicks: 30,
    probeTicks: 20,
    handoffTicks: 20,
    antiEntropyTicks: 50,
    vnodes: 16,
    siblingsMax: 16,
    dedupMax: 100_000,
    keysMax: 100_000,
    hintMax: 10_000,
    inFlightMax: 10_000,
    ackBeforeSync: false,
    ...options,
  };
  assert(o.w <= o.n && o.r <= o.n, 'w and r are at most n');
  return {
    name: 'leaderless',
    options: o,
    consistency: 'eventual',
    tickMs: o.tickMs,
    emptyDisk: () => [],
    reduceDisk: (disk, record) => {
      disk.push(record);
      return disk;
    },
    create: (ctx) => {
      assert(o.n <= ctx.peers.length, `n=${o.n} needs at least ${o.n} nodes`);
      return new LeaderlessSimNode(ctx, o);
    },
    messageType: (m) => (m.type === 'req' ? m.kind : `${m.kind}.reply`),
    holders: (key, ids) => new Ring(ids, o.vnodes).preferenceList(key, o.n),
    converged(nodes) {
      // Every owner of every key holds the same object, and no hint waits for delivery.
      const all = [...nodes.values()];
      if (all.some((node) => node.replica.hintCount > 0)) return false;
      const keys = new Set(all.flatMap((node) => [...node.replica.keys()]));
      for (const key of keys) {
        const owners = (all[0] as LeaderlessSimNode).ring.preferenceList(key, o.n);
        const digests = new Set(owners.map((id) => nodes.get(id)?.replica.object(key)?.digest() ?? 'missing'));
        if (digests.size !== 1 || digests.has('missing')) return false;
      }
      return true;
    },
    ...(o.resolve === 'merge'
      ? {
          appliedByIdempotencyKey(nodes: ReadonlyMap<NodeId, LeaderlessSimNode>): ReadonlyMap<string, number> {
            // A dot is the increment: once in the join of the owners' objects, whatever the siblings.
            const dots = new Set<string>();
            for (const node of nodes.values()) {
              for (const key of node.replica.keys()) {
                for (const v of node.replica.read(key)) for (const [id] of v.d ?? []) dots.add(id.slice(DOT_PREFIX.length));
              }
            }
            return new Map([...dots].map((idem) => [idem, 1]));
          },
        }
      : {}),
  };
}
