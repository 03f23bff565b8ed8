/**
 * What this node knows about each peer, and the gossip decisions that follow. Pure: driven by
 * ticks and an injected Rng; the driver does the sending.
 *
 * Delta-state replication (Almeida, Shoker, Baquero 2018, Algorithm 2): a peer is sent the
 * changes after the version it last acknowledged (a reply means "merged and durable"); a peer
 * with no acknowledgement yet (this node restarted) or one behind the remembered changes (a long
 * partition) gets the full state. `replication: 'full'` always sends the full state.
 *
 * One message is current per peer; a push that finds it in flight is remembered and sent when
 * it completes, so a burst of increments becomes one message per peer (batching), and an
 * unreachable peer costs one hanging request, not a queue.
 *
 * Hedging ("The Tail at Scale", Dean and Barroso 2013): a message that has been out for
 * `hedge.afterMs` (a normal one takes a few ms) is superseded by a fresh one, at most one
 * superseded message per peer. A partition that heals while the first hangs until its timeout is
 * then found within a round. Every message carries a token: the outcome of a superseded one is
 * still news when it is a success (the peer holds that version), and ignored when it is a
 * failure, so a late timeout never marks a peer that answers the newer message unreachable.
 */
import { assert, type NodeId, type Rng } from '@playground/core';
import type { CounterCrdt } from './counter.js';
import { encodeSeen, encodeState, WIRE_VERSION, type GossipBody } from './wire.js';

export type ReplicationMode = 'delta' | 'full';

export interface ReplicatorOptions {
  readonly self: NodeId;
  readonly members: readonly NodeId[];
  /** Peers gossiped to per round. */
  readonly fanout: number;
  readonly replication: ReplicationMode;
  /** A peer with nothing new still hears from us every so many rounds (liveness, stability). */
  readonly heartbeatRounds: number;
  readonly rng: Rng;
  /** Hedge a message out this long; `now` in the same unit (ms in the driver, ticks in a simulator). Absent: never. */
  readonly hedge?: { readonly afterMs: number; readonly now: () => number };
}

interface PeerState {
  /** Our version the peer durably holds; null: unknown, send full state. */
  acknowledged: number | null;
  /** The latest report of what the peer holds that stability may use (see report()). */
  stable: Map<NodeId, number>;
  /** A report that waits until we hold the peer's own dots it covers. */
  pending: Map<NodeId, number> | null;
  /** What the peer last said it holds (for /status), whether or not stability may use it yet. */
  known: Map<NodeId, number>;
  /** The current message is out: `token` names it, `sentAt` is when it was claimed. */
  inFlight: boolean;
  token: number;
  sentAt: number;
  /** Older messages still out, superseded by a hedge (at most 1). */
  superseded: number;
  /** A send was asked for while one was in flight. */
  dirty: boolean;
  reachable: boolean | null;
  roundsSinceSend: number;
  /** Consecutive failed messages, and the rounds still to sit out before the next (jittered backoff). */
  failures: number;
  backoffRounds: number;
}

/**
 * A failing peer is retried after a random 0..min(2^failures, this) rounds (full jitter). Kept
 * short: the transport's circuit breaker already stops sending to a peer that keeps failing, and
 * every round waited here is added to the convergence time after a partition heals.
 */
const MAX_BACKOFF_ROUNDS = 1;

/** Which message an outcome is about. */
export interface MessageRef {
  readonly peer: NodeId;
  readonly token: number;
  /** Our version when the message was built: acknowledged on success. */
  readonly version: number;
}

export interface OutgoingMessage extends MessageRef {
  readonly body: GossipBody;
  readonly entries: number;
}

export class Replicator {
  private readonly peers = new Map<NodeId, PeerState>();
  private tokens = 0;

  constructor(private readonly options: ReplicatorOptions) {
    assert(options.fanout >= 1, 'fanout must be at least 1');
    for (const id of options.members) {
      if (id === options.self) continue;
      this.peers.set(id, {
        acknowledged: null,
        stable: new Map(),
        pending: null,
        known: new Map(),
        inFlight: false,
        token: 0,
        sentAt: 0,
        superseded: 0,
        dirty: false,
        reachable: null,
        roundsSinceSend: 0,
        failures: 0,
        backoffRounds: 0,
      });
    }
  }

  get peerIds(): NodeId[] {
    return [...this.peers.keys()];
  }

  private peer(id: NodeId): PeerState {
    const p = this.peers.get(id);
    assert(p, () => `unknown peer ${id}`);
    return p;
  }

  /** One gossip round: the peers to send to now (random `fanout` of those with something to say). */
  tick(crdt: CounterCrdt): NodeId[] {
    const candidates: NodeId[] = [];
    for (const [id, p] of this.peers) {
      p.roundsSinceSend++;
      if (p.backoffRounds > 0) {
        p.backoffRounds--;
        continue;
      }
      const behind = p.acknowledged === null || p.acknowledged < crdt.currentVersion;
      if (behind || p.roundsSinceSend >= this.options.heartbeatRounds) candidates.push(id);
    }
    const chosen = this.options.rng.shuffle(candidates).slice(0, this.options.fanout);
    return chosen.filter((id) => this.claim(id));
  }

  /**
   * Peers whose current message is overdue (out for hedge.afterMs) and has no superseded one
   * beside it: a fresh message to each is claimed now. Call once per round, before tick().
   */
  hedge(): NodeId[] {
    return this.peerIds.filter((id) => this.overdue(this.peer(id)) && this.supersede(id));
  }

  /** The current message has been out for hedge.afterMs. */
  private late(p: PeerState): boolean {
    const h = this.options.hedge;
    return h !== undefined && p.inFlight && h.now() - p.sentAt >= h.afterMs;
  }

  /** Late, and may be hedged: no superseded message is still out beside it. */
  private overdue(p: PeerState): boolean {
    return p.superseded === 0 && this.late(p);
  }

  private supersede(id: NodeId): boolean {
    const p = this.peer(id);
    p.superseded++;
    p.inFlight = false;
    return this.claim(id);
  }

  /** Push after a local change: every peer not backing off, now or when its in-flight message completes. */
  push(): NodeId[] {
    return this.peerIds.filter((id) => this.peer(id).backoffRounds === 0 && this.claim(id));
  }

  private claim(id: NodeId): boolean {
    const p = this.peer(id);
    if (p.inFlight) {
      p.dirty = true;
      return false;
    }
    p.inFlight = true;
    p.token = ++this.tokens;
    p.sentAt = this.options.hedge?.now() ?? 0;
    p.dirty = false;
    p.roundsSinceSend = 0;
    return true;
  }

  /** The message for a peer claimed by tick() or push(). */
  message(id: NodeId, crdt: CounterCrdt): OutgoingMessage {
    const p = this.peer(id);
    assert(p.inFlight, () => `message for ${id} without a claim`);
    const delta =
      this.options.replication === 'delta' && p.acknowledged !== null ? crdt.deltaSince(p.acknowledged, id) : null;
    const full = delta === null;
    const state = delta ?? crdt.fullState();
    const body: GossipBody = {
      v: WIRE_VERSION,
      mode: crdt.mode,
      full,
      seen: encodeSeen(crdt.reportedSeen()),
      state: encodeState(state),
    };
    return { peer: id, token: p.token, body, version: crdt.currentVersion, entries: state.plain.length + state.dots.length + state.compacted.length };
  }

  /** A state body for a peer that asked (a read pulling state): no claim, nothing acknowledged. */
  bodyFor(id: NodeId, crdt: CounterCrdt): GossipBody {
    const p = this.peer(id);
    const delta = this.options.replication === 'delta' && p.acknowledged !== null ? crdt.deltaSince(p.acknowledged, null) : null;
    return { v: WIRE_VERSION, mode: crdt.mode, full: delta === null, seen: encodeSeen(crdt.reportedSeen()), state: encodeState(delta ?? crdt.fullState()) };
  }

  /** Whether `m` is the peer's current message, still out. */
  isCurrent(m: Pick<MessageRef, 'peer' | 'token'>): boolean {
    const p = this.peer(m.peer);
    return p.inFlight && p.token === m.token;
  }

  /** Whether `m` is the peer's current message; if not, it was superseded and is out no longer. */
  private settle(m: Pick<MessageRef, 'peer' | 'token'>): boolean {
    const p = this.peer(m.peer);
    if (this.isCurrent(m)) {
      p.inFlight = false;
      return true;
    }
    assert(p.superseded > 0, () => `outcome of message ${m.token} to ${m.peer}, neither current nor superseded`);
    p.superseded--;
    return false;
  }

  /**
   * The peer merged and persisted message `m` (superseded or not: the peer holds its version).
   * Returns whether to send again now.
   */
  sent(m: MessageRef, replySeen: Map<NodeId, number>, crdt: CounterCrdt): boolean {
    const current = this.settle(m);
    const p = this.peer(m.peer);
    p.reachable = true;
    p.failures = 0;
    p.backoffRounds = 0;
    p.acknowledged = Math.max(p.acknowledged ?? 0, m.version);
    this.report(m.peer, replySeen, crdt);
    return current && this.again(m.peer);
  }

  /**
   * The message may or may not have arrived: nothing is acknowledged. Returns whether to send
   * again now: after a timeout, yes (the timeout already paced it, and a partition that healed
   * while it hung is found at once instead of a round or two later; a peer that keeps timing
   * out trips the transport's breaker, whose fast failures then back off here); after a fast
   * failure (refused, breaker open), no: it sits out a jittered number of rounds. The failure of
   * a superseded message says nothing the newer one will not: ignored.
   */
  failed(m: Pick<MessageRef, 'peer' | 'token'>, timedOut = false): boolean {
    if (!this.settle(m)) return false;
    const id = m.peer;
    const p = this.peer(id);
    p.reachable = false;
    p.failures++;
    if (timedOut) {
      p.backoffRounds = 0;
      return this.claim(id);
    }
    p.backoffRounds = this.options.rng.int(0, Math.min(2 ** p.failures, MAX_BACKOFF_ROUNDS));
    return false;
  }

  /**
   * A message from a peer that looks cut off from us (isCut): it is back, at least towards us.
   * Its backoff ends, and it is sent to now: a fresh message, or a hedge beside an overdue one
   * (else as soon as the one in flight ends). Returns whether to send now.
   */
  heardFrom(id: NodeId): boolean {
    const p = this.peer(id);
    if (this.overdue(p)) return this.supersede(id);
    if (p.reachable !== false) return false;
    p.backoffRounds = 0;
    return this.claim(id);
  }

  /** Whether our last message to the peer failed or is overdue (so a reply to it should carry our state). */
  isCut(id: NodeId): boolean {
    const p = this.peer(id);
    return p.reachable === false || this.late(p);
  }

  /** Some other call to the peer failed on the network: gossip will find out when it is back. */
  markUnreachable(id: NodeId): void {
    this.peer(id).reachable = false;
  }

  /** Whether a message asked for while one was in flight should go now. */
  private again(id: NodeId): boolean {
    const p = this.peer(id);
    return p.dirty && this.claim(id);
  }

  /**
   * The peer says it holds `seen`. Stability (counter.ts) may use the report only once we hold
   * every dot of the peer's own that it covers: then any dot the peer made before it saw a
   * given dot is here too. Otherwise the report waits (one at a time, the oldest first).
   */
  report(id: NodeId, seen: Map<NodeId, number>, crdt: CounterCrdt): void {
    const p = this.peer(id);
    // Not `reachable = true`: hearing from a peer says nothing about our messages reaching it.
    for (const [o, s] of seen) p.known.set(o, Math.max(p.known.get(o) ?? 0, s));
    this.recheck(id, crdt);
    if (this.usable(id, seen, crdt)) this.accept(p, seen);
    else if (p.pending === null) p.pending = seen;
  }

  /** Promotes waiting reports that have become usable (call after merges). */
  recheckAll(crdt: CounterCrdt): void {
    for (const id of this.peers.keys()) this.recheck(id, crdt);
  }

  private recheck(id: NodeId, crdt: CounterCrdt): void {
    const p = this.peer(id);
    if (p.pending !== null && this.usable(id, p.pending, crdt)) {
      this.accept(p, p.pending);
      p.pending = null;
    }
  }

  private usable(id: NodeId, seen: Map<NodeId, number>, crdt: CounterCrdt): boolean {
    return crdt.seenOf(id) >= (seen.get(id) ?? 0);
  }

  private accept(p: PeerState, seen: Map<NodeId, number>): void {
    for (const [o, s] of seen) p.stable.set(o, Math.max(p.stable.get(o) ?? 0, s));
  }

  /** Per origin, what every member is known to hold (this node: what it holds). */
  stableVector(crdt: CounterCrdt): Map<NodeId, number> {
    const stable = crdt.reportedSeen();
    for (const p of this.peers.values()) {
      for (const o of stable.keys()) stable.set(o, Math.min(stable.get(o) ?? 0, p.stable.get(o) ?? 0));
    }
    return stable;
  }

  /** The smallest version every peer acknowledged: changes up to it are no longer needed. */
  acknowledgedByAll(): number {
    let min = Infinity;
    for (const p of this.peers.values()) min = Math.min(min, p.acknowledged ?? 0);
    return min === Infinity ? 0 : min;
  }

  /** Peers that answered their last message (unknown counts as reachable until tried). */
  reachablePeers(): NodeId[] {
    return [...this.peers].filter(([, p]) => p.reachable !== false).map(([id]) => id);
  }

  /** How many peers durably hold our state as of `version`. */
  holders(version: number): number {
    let n = 0;
    for (const p of this.peers.values()) if ((p.acknowledged ?? -1) >= version) n++;
    return n;
  }

  /** Replication lag per peer, for /status. */
  status(crdt: CounterCrdt): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const ours = crdt.seenVector();
    for (const [id, p] of this.peers) {
      let dotsBehind = 0;
      for (const [o, s] of ours) dotsBehind += Math.max(0, s - (p.known.get(o) ?? 0));
      out[id] = {
        reachable: p.reachable,
        holds: Object.fromEntries(p.known),
        dotsBehind,
        acknowledgedVersion: p.acknowledged,
        changesBehind: p.acknowledged === null ? null : crdt.currentVersion - p.acknowledged,
        inFlight: p.inFlight,
        superseded: p.superseded,
      };
    }
    return out;
  }
}
