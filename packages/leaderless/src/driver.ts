import { BadRequestError, err, ok, reply, vclock } from '@playground/core';
import type { ClientReply, CountRequest, IncrRequest, NodeId, Result, RpcFailure, TopologyContext, TopologyNode, VClock } from '@playground/core';
import { Background } from './background.js';
import type { LeaderlessConfig } from './config.js';
import { nextClock, planTargets, WriteRound } from './core/coordinator.js';
import type { Target } from './core/coordinator.js';
import { ReadRound } from './core/read-round.js';
import type { ReadResult } from './core/read-round.js';
import { PeerHealth } from './core/health.js';
import { DOT_PREFIX, MSG, parseAeBuckets, parseAeKeys, parseGet, parseGetReply, parseMemberClock, parsePing, parsePut, parsePutBatch, parseState } from './core/messages.js';
import type { AeBucketsReply, AeKeysReply, GetMessage, GetReply, ParseLimits, PutBatchReply, PutMessage, PutReply, StateMessage, StateReply } from './core/messages.js';
import type { ApplyEffects } from './core/replica.js';
import { Replica } from './core/replica.js';
import { Ring } from './core/ring.js';
import type { VersionWire } from './core/versioned.js';
import { LWW_RECENT_KEYS_MAX } from './core/counter.js';
import { createMetrics } from './metrics.js';
import type { LeaderlessMetrics } from './metrics.js';
import { DEFAULT_PUT_BATCHER, PutBatcher } from './put-batcher.js';
import { driveRead, driveWrite, local } from './rounds.js';
import { Store } from './store.js';

const AE_BUCKETS = 256;
const AE_KEYS_PER_MESSAGE = 1000;

/**
 * A Dynamo-style node: any node coordinates any request for any key; the key's N replicas are
 * its preference list on the ring. The pure pieces (ring, rounds, replica) decide; this driver
 * sends, waits, persists and keeps the timers.
 */
export class LeaderlessNode implements TopologyNode {
  readonly self: NodeId;
  readonly members: ReadonlySet<NodeId>;
  readonly ring: Ring;
  readonly replica: Replica;
  readonly health: PeerHealth;
  readonly store: Store;
  readonly metrics: LeaderlessMetrics;
  readonly limits: ParseLimits;
  private readonly background: Background;
  private readonly puts: PutBatcher;
  /** Keys with a read repair in flight (at most one each; bounded by keys-max). */
  private readonly repairing = new Set<string>();
  private lastTimestampUs = 0;

  constructor(
    readonly context: TopologyContext,
    readonly config: LeaderlessConfig,
  ) {
    this.self = context.id;
    this.members = new Set(context.peers.map((p) => p.id));
    this.ring = new Ring([...this.members], config.vnodes);
    this.replica = new Replica({
      self: this.self,
      mode: config.resolve,
      siblingsMax: config.siblingsMax,
      dotsMax: config.dedupMax,
      keysMax: config.keysMax,
      hintMax: config.hintMax,
      buckets: AE_BUCKETS,
    });
    this.health = new PeerHealth(this.self);
    this.store = new Store({ dir: context.dataDir, compactBytes: config.walCompactBytes, snapshot: () => this.replica.snapshot() });
    this.metrics = createMetrics(context.metrics);
    this.limits = {
      members: this.members,
      mode: config.resolve,
      siblingsMax: config.siblingsMax,
      // A replica accepts at most dedup-max new dots per key, but the union over replicas may hold more.
      dotsMax: config.dedupMax * this.members.size,
      buckets: AE_BUCKETS,
      keysPerMessageMax: AE_KEYS_PER_MESSAGE,
    };
    this.background = new Background(this);
    this.puts = new PutBatcher((peer, puts, timeoutMs) =>
      this.call(peer, MSG.putBatch, { puts }, timeoutMs, (v) => checkPutBatchReply(v, puts.length)),
      { ...DEFAULT_PUT_BATCHER, lateTimeoutMs: config.rpcTimeoutMs },
    );
  }

  async start(): Promise<void> {
    const { records, truncatedBytes } = await this.store.open();
    for (const r of records) {
      if (r.t === 'snap') this.replica.restore(r.s);
      else if (r.t === 'put') this.replica.applyPut(r.m, true);
      else if (r.t === 'state') this.replica.applyState(r.m, true);
      else if (r.t === 'own') this.replica.setOwnSum(r.key, r.p, r.n);
      else this.replica.dropHint(r.owner, r.key, r.digest);
    }
    this.context.log.info('leaderless: recovered', { records: records.length, truncatedBytes, keys: this.replica.keyCount, hints: this.replica.hintCount });
    // The transport pings a peer whose breaker is open and says when it answers again (a
    // partition healed): it counts as up at once, not at the next probe.
    this.context.transport.onReachable?.((peer) => {
      if (peer !== this.self && this.members.has(peer)) this.health.recordSuccess(peer);
    });
    this.background.start();
  }

  async stop(): Promise<void> {
    await this.background.stop();
    await this.store.close();
  }

  // ---- client API ----

  async incr(request: IncrRequest): Promise<ClientReply> {
    const w = this.quorumParam(request.params, 'w', this.config.w);
    if (typeof w !== 'number') return w;
    const r = this.quorumParam(request.params, 'r', this.config.r);
    if (typeof r !== 'number') return r;
    let context: VClock = vclock.emptyClock;
    if (request.params.context !== undefined) {
      try {
        const raw = request.params.context;
        context = parseMemberClock(typeof raw === 'string' ? JSON.parse(raw) : raw, 'context', this.members);
      } catch (e) {
        return reply.badRequest('context', e instanceof BadRequestError ? e.message.replace(/^context: /, '') : 'must be a vector clock as JSON');
      }
    }
    const { key, delta, idempotencyKey } = request;
    const plan = planTargets(this.ring.walk(key), this.config.n, (p) => this.health.isUp(p), this.config.sloppyQuorum);
    const base = { key, delta, node: this.self, resolve: this.config.resolve, w, n: this.config.n, quorumOverlap: r + w > this.config.n };

    let version: VersionWire;
    let keylessCommitted = false;
    if (this.config.resolve === 'lww') {
      // Read-modify-write of a plain integer (Cassandra-style): concurrent ones lose updates.
      const read = await this.read(key, r);
      if (read.kind !== 'ok') return this.countWrite(reply.unavailable(`lww read before write: ${read.reason}; nothing written`, 1, base));
      const seen = read.result;
      const recent = seen.keys ?? [];
      if (idempotencyKey !== undefined && recent.includes(idempotencyKey)) {
        // The value that won already holds this increment: a retry (see LwwRegister.keys).
        return this.countWrite(reply.ok({ ok: true, ...base, acks: 0, duplicate: true, value: seen.value, clock: seen.clock, siblings: seen.siblings }));
      }
      version = { c: vclock.increment(seen.clock, this.self), v: seen.value + delta, t: this.wallClockUs(), w: this.self };
      if (idempotencyKey !== undefined) version.k = [idempotencyKey, ...recent].slice(0, LWW_RECENT_KEYS_MAX);
      else if (recent.length > 0) version.k = [...recent];
    } else {
      if (plan.reachable < w) {
        // Refused before anything is sent or counted: surely not applied (503).
        return this.countWrite(reply.unavailable(`only ${plan.reachable} of the ${w} replicas needed are reachable`, 1, { ...base, acks: 0 }));
      }
      if (idempotencyKey !== undefined) {
        version = { c: this.nextClock(key, context), d: [[`${DOT_PREFIX}${idempotencyKey}`, delta]] };
      } else {
        const own = this.replica.nextOwnSum(key, delta);
        if (own === 'keys_full') return this.countWrite(reply.unavailable(`this node coordinates ${this.config.keysMax} keys already (--keys-max)`, 1, base));
        // This node is the only writer of its entry; it must be on disk before it leaves,
        // or a restart would reuse lower values that max() then hides.
        this.replica.setOwnSum(key, own.p, own.n);
        keylessCommitted = true;
        await this.store.append({ t: 'own', key, p: own.p, n: own.n });
        // The clock is taken after the await, so that the local copy (applied synchronously
        // when the round starts) is already part of what the next write of this node descends from.
        version = { c: this.nextClock(key, context), s: { [this.self]: [own.p, own.n] } };
      }
    }

    const round = new WriteRound(w, plan, this.config.sloppyQuorum, Date.now() + this.config.rpcTimeoutMs);
    await driveWrite(round, (t, timeoutMs) => this.sendPut(t, key, version, timeoutMs), this.health);
    const decision = round.decision;
    const acks = round.replies;
    const extra = { ...base, acks: round.acks, hinted: round.hinted };
    if (decision === undefined || decision.kind === 'timeout' || (decision.kind === 'unavailable' && keylessCommitted)) {
      // A keyless increment is already in this node's counter entry: this node's next keyless
      // write to the key carries it to the replicas, so "not applied" would be a lie.
      const why = decision?.reason ?? 'no decision';
      return this.countWrite(reply.timeout(`${why}; outcome unknown, retry with the same Idempotency-Key`, extra));
    }
    if (decision.kind === 'unavailable') return this.countWrite(reply.unavailable(decision.reason, 1, extra));
    const clock = acks.reduce<VClock>((c, a) => vclock.merge(c, a.reply.clock), vclock.emptyClock);
    const body: Record<string, unknown> = {
      ok: true,
      ...extra,
      duplicate: acks.some((a) => a.reply.status === 'duplicate'),
      value: this.config.resolve === 'lww' ? version.v : Math.max(...acks.map((a) => a.reply.value)),
      clock,
      siblings: Math.max(...acks.map((a) => a.reply.siblings)),
    };
    if (this.config.resolve === 'lww') body.lostOn = acks.filter((a) => a.reply.lost !== undefined).map((a) => a.node);
    return this.countWrite(reply.ok(body));
  }

  async count(request: CountRequest): Promise<ClientReply> {
    const r = this.quorumParam(request.params, 'r', this.config.r);
    if (typeof r !== 'number') return r;
    const read = await this.read(request.key, r);
    const extra = { key: request.key, node: this.self, r, n: this.config.n };
    if (read.kind !== 'ok') {
      this.metrics.reads.inc({ outcome: read.kind });
      return read.kind === 'unavailable' ? reply.unavailable(read.reason, 1, extra) : reply.timeout(read.reason, extra);
    }
    this.metrics.reads.inc({ outcome: 'ok' });
    const { value, clock, siblings, siblingsSeen, replies } = read.result;
    return reply.ok({
      ...extra,
      value,
      clock,
      siblings,
      siblingsSeen,
      replies,
      resolve: this.config.resolve,
      quorumOverlap: r + this.config.w > this.config.n,
    });
  }

  status(): Record<string, unknown> {
    this.background.refreshHintGauge();
    return {
      n: this.config.n,
      w: this.config.w,
      r: this.config.r,
      resolve: this.config.resolve,
      readRepair: this.config.readRepair,
      sloppyQuorum: this.config.sloppyQuorum,
      hintsQueued: this.replica.hintsPerOwner(),
      hintsTotal: this.replica.hintCount,
      hintMax: this.config.hintMax,
      keys: this.replica.keyCount,
      unreachable: this.health.downPeers(),
      store: { records: this.store.records, fsyncs: this.store.fsyncs },
    };
  }

  // ---- peer protocol ----

  async handlePeer(from: NodeId, type: string, body: unknown): Promise<unknown> {
    switch (type) {
      case MSG.put:
        return this.applyPut(parsePut(body, this.limits));
      case MSG.putBatch: {
        // All are applied in memory now, in order, and their log records ride on one fsync.
        const replies = await Promise.all(parsePutBatch(body, this.limits).map((m) => this.applyPut(m)));
        return { replies } satisfies PutBatchReply;
      }
      case MSG.get:
        return this.answerGet(parseGet(body));
      case MSG.state:
        return this.applyState(parseState(body, this.limits));
      case MSG.ping:
        parsePing(body);
        return {};
      case MSG.aeBuckets:
        return this.background.answerBuckets(from, parseAeBuckets(body, this.limits)) satisfies AeBucketsReply;
      case MSG.aeKeys:
        return this.background.answerKeys(from, parseAeKeys(body, this.limits)) satisfies AeKeysReply;
      default:
        throw new BadRequestError('type', `unknown leaderless message type ${JSON.stringify(type)}`);
    }
  }

  /** Applies in memory at once (later writes of this coordinator see it), acknowledges after fsync. */
  async applyPut(msg: PutMessage): Promise<PutReply> {
    const { reply: out, effects } = this.replica.applyPut(msg);
    this.countEffects(effects, out.status === 'refused' ? out.reason : undefined);
    if (out.status === 'refused') return out;
    if (effects.changed) this.background.noteChanged(msg.key);
    await this.store.append({ t: 'put', m: msg });
    return out;
  }

  async applyState(msg: StateMessage): Promise<StateReply> {
    const { reply: out, effects } = this.replica.applyState(msg);
    this.countEffects(effects, out.status === 'refused' ? out.reason : undefined);
    if (out.status === 'refused') return out;
    if (effects.changed) {
      this.background.noteChanged(msg.key);
      await this.store.append({ t: 'state', m: msg });
    } else {
      await this.store.sync();
    }
    return out;
  }

  /** Sends (or applies locally) a request for `key` and checks the shape of what comes back. */
  async call<T>(node: NodeId, type: string, body: unknown, timeoutMs: number, check: (value: unknown) => T): Promise<Result<T, RpcFailure>> {
    const res = await this.context.transport.call<unknown>(node, type, body, { timeoutMs });
    if (!res.ok) return res;
    try {
      return ok(check(res.value));
    } catch (e) {
      return err({ kind: 'remote_error', status: 502, message: `malformed ${type} reply from ${node}: ${(e as Error).message}` });
    }
  }

  // ---- helpers ----

  private sendPut(target: Target, key: string, version: VersionWire, timeoutMs: number): Promise<Result<PutReply, RpcFailure>> {
    const msg: PutMessage = { key, mode: this.config.resolve, version };
    if (target.hintFor !== undefined) msg.hintFor = target.hintFor;
    if (target.node === this.self) return local(() => this.applyPut(msg));
    return this.puts.put(target.node, msg, timeoutMs);
  }

  private async read(key: string, r: number): Promise<ReadOutcome> {
    const plan = planTargets(this.ring.walk(key), this.config.n, (p) => this.health.isUp(p), this.config.sloppyQuorum);
    const round = new ReadRound(r, plan, this.config.resolve, this.config.siblingsMax, Date.now() + this.config.rpcTimeoutMs);
    const { decided, settled } = driveRead(
      round,
      (node, full, timeoutMs) => {
        const msg: GetMessage = full ? { key, full } : { key };
        if (node === this.self) return Promise.resolve(ok(this.answerGet(msg)));
        return this.call(node, MSG.get, msg, timeoutMs, (v) => parseGetReply(v, full, this.limits));
      },
      this.health,
    );
    await decided;
    const decision = round.decision;
    if (decision?.kind === 'ok') {
      if (decision.siblingsSeen > 1) {
        this.metrics.readsWithSiblings.inc();
        this.metrics.siblingsSeen.inc(decision.siblingsSeen - 1);
      }
      if (this.config.readRepair && !this.repairing.has(key)) {
        // One repair per key at a time: while a hot key's replicas lag, every read sees
        // different digests, and each repair moves whole objects (every dot). Skipping is
        // safe: repair is best effort, a later read or anti-entropy repeats it.
        this.repairing.add(key);
        void settled.then(() => this.repair(key, round)).finally(() => this.repairing.delete(key));
      }
      return { kind: 'ok', result: decision };
    }
    return decision === undefined ? { kind: 'timeout', reason: 'no decision' } : decision;
  }

  private answerGet(msg: GetMessage): GetReply {
    const reply: GetReply = { mode: this.config.resolve, ...this.replica.summary(msg.key) };
    if (msg.full === true) reply.versions = this.replica.read(msg.key);
    return reply;
  }

  /**
   * Read repair (Dynamo §4.4), best effort: when the replies disagreed, fetch the states not
   * fetched yet, and send their join to the owners whose copy differs from it.
   */
  private async repair(key: string, round: ReadRound): Promise<void> {
    await Promise.all(
      round.repairFetches().map(async (node) => {
        const msg: GetMessage = { key, full: true };
        const res = node === this.self ? ok(this.answerGet(msg)) : await this.call(node, MSG.get, msg, this.config.rpcTimeoutMs, (v) => parseGetReply(v, true, this.limits));
        if (res.ok && res.value.versions !== undefined) round.onState(node, res.value.versions);
      }),
    );
    for (const { node, versions } of round.repairs()) {
      this.metrics.readRepairs.inc();
      const msg: StateMessage = { key, mode: this.config.resolve, versions };
      if (node === this.self) await this.applyState(msg).catch(() => undefined);
      else await this.call(node, MSG.state, msg, this.config.rpcTimeoutMs, (v) => v);
    }
  }

  /**
   * This node's wall clock in microseconds, shifted by --clock-skew-ms, never going backwards
   * here (Cassandra's client timestamps). Nothing ties it to the other nodes' clocks: that is
   * the lesson of the skew knob.
   */
  private wallClockUs(): number {
    const nowUs = Math.floor((performance.timeOrigin + performance.now()) * 1000) + this.config.clockSkewMs * 1000;
    this.lastTimestampUs = Math.max(nowUs, this.lastTimestampUs + 1);
    return this.lastTimestampUs;
  }

  /** Dynamo §4.4: the context the client read, joined with this node's copy, advanced at this node. */
  private nextClock(key: string, context: VClock): VClock {
    return nextClock(this.self, context, this.replica.object(key)?.clock() ?? vclock.emptyClock);
  }

  private quorumParam(params: Readonly<Record<string, unknown>>, name: 'w' | 'r', fallback: number): number | ClientReply {
    const raw = params[name];
    if (raw === undefined) return fallback;
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d{1,3}$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > this.config.n) return reply.badRequest(name, `must be an integer in 1..${this.config.n} (n), got ${JSON.stringify(raw)}`);
    return n;
  }

  private countWrite(out: ClientReply): ClientReply {
    this.metrics.writes.inc({ outcome: out.status === 200 ? 'ok' : out.status === 503 ? 'unavailable' : out.status === 504 ? 'timeout' : 'error' });
    return out;
  }

  countEffects(effects: ApplyEffects, refused: string | undefined): void {
    if (refused !== undefined) this.metrics.refusals.inc({ reason: refused });
    if (effects.lost !== undefined) this.metrics.lwwOverwritten.inc({ reason: effects.lost });
    if (effects.siblingsCollapsed) this.metrics.siblingCollapses.inc();
    if (effects.hintStored) this.metrics.hintsStored.inc();
  }
}

type ReadOutcome =
  | { kind: 'ok'; result: ReadResult }
  | { kind: 'unavailable' | 'timeout'; reason: string };

function checkPutBatchReply(value: unknown, expected: number): PutReply[] {
  const replies = (value as PutBatchReply | null)?.replies;
  if (!Array.isArray(replies) || replies.length !== expected) throw new Error(`not a reply to ${expected} puts`);
  return replies.map(checkPutReply);
}

function checkPutReply(value: unknown): PutReply {
  const v = value as PutReply | null;
  if (v?.status === 'refused' && typeof v.reason === 'string') return v;
  if ((v?.status === 'stored' || v?.status === 'duplicate') && Number.isSafeInteger(v.value) && typeof v.clock === 'object' && Number.isSafeInteger(v.siblings)) return v;
  throw new Error('not a put reply');
}
