import type { NodeId } from '@playground/core';
import { MSG, parseVersions } from './core/messages.js';
import type { AeBucketsMessage, AeBucketsReply, AeKeysMessage, AeKeysReply, StateReply } from './core/messages.js';
import type { VersionWire } from './core/versioned.js';
import type { LeaderlessNode } from './driver.js';

const HINTS_PER_HANDOFF = 100;
/** A key that keeps changing is left out of at most this many anti-entropy rounds in a row. */
export const AE_MAX_DEFERRED_ROUNDS = 10;

/**
 * The node's periodic work, each loop one task at a time (never overlapping itself):
 * - probes: ping every peer, so the failure detector knows before a client write does;
 * - hinted handoff (Dynamo §4.6): offer hints to owners that are reachable again;
 * - anti-entropy (Dynamo §4.7): compare a two-level Merkle tree (256 bucket digests, then the
 *   key digests of buckets that differ) with one peer at a time, and exchange what differs.
 *
 * Anti-entropy leaves out the keys this replica changed since its previous round: their writes
 * are still arriving by the write path, so their digests differ from a peer's for no lasting
 * reason, and exchanging them moves whole objects (every dot) both ways every round while they
 * are written (under a 32-connection load on one key, 5-6% of every node's CPU). A key that
 * keeps changing is still compared every AE_MAX_DEFERRED_ROUNDS-th round, so that a replica
 * that missed writes (a partition, with no hints) converges even while the key stays hot.
 */
export class Background {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly busy = new Set<string>();
  private aeCursor = 0;
  private stopped = false;
  /** Keys this replica changed since the last anti-entropy round (bounded by the key bounds). */
  private changedSinceRound = new Set<string>();
  /** Keys left out of the current round (they changed since the previous one), and for how many rounds in a row. */
  private deferred = new Map<string, number>();
  /** Keys that kept changing for AE_MAX_DEFERRED_ROUNDS rounds: this round compares them anyway. */
  private forced = new Set<string>();

  constructor(private readonly node: LeaderlessNode) {}

  start(): void {
    const { config } = this.node;
    this.every(config.probeMs, 'probe', () => this.probe());
    this.every(config.handoffMs, 'handoff', () => this.handoff());
    if (config.antiEntropyMs > 0) this.every(config.antiEntropyMs, 'anti-entropy', () => this.antiEntropy());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await Promise.allSettled([...this.running]);
  }

  /** The driver applied a change to `key` (a write, a repair, a hint). Nothing to note with anti-entropy off. */
  noteChanged(key: string): void {
    if (this.node.config.antiEntropyMs > 0) this.changedSinceRound.add(key);
  }

  /**
   * Whether anti-entropy compares `key` now, in this node's rounds and in its answers to a
   * peer's (see the top). Changes since this node's own last round count too: the peer's round
   * runs on the peer's timer, and both sides must leave a hot key out for it not to be sent.
   */
  private settled(key: string): boolean {
    return this.forced.has(key) || (!this.deferred.has(key) && !this.changedSinceRound.has(key));
  }

  /** Starts a round: the keys changed since the previous one sit it out, up to the bound. */
  private nextRound(): void {
    const deferred = new Map<string, number>();
    const forced = new Set<string>();
    for (const key of this.changedSinceRound) {
      const rounds = (this.deferred.get(key) ?? 0) + 1;
      if (rounds <= AE_MAX_DEFERRED_ROUNDS) deferred.set(key, rounds);
      else forced.add(key);
    }
    this.deferred = deferred;
    this.forced = forced;
    this.changedSinceRound = new Set();
  }

  refreshHintGauge(): void {
    const queued = this.node.replica.hintsPerOwner();
    for (const peer of this.node.members) if (peer !== this.node.self) this.node.metrics.hintsQueued.set({ target: peer }, queued[peer] ?? 0);
  }

  private peers(): NodeId[] {
    return [...this.node.members].filter((p) => p !== this.node.self);
  }

  private every(ms: number, name: string, task: () => Promise<void>): void {
    const timer = setInterval(() => {
      if (this.stopped || this.busy.has(name)) return;
      this.busy.add(name);
      const run = task()
        .catch((e: unknown) => this.node.context.log.warn(`leaderless ${name} failed`, { error: (e as Error).message }))
        .finally(() => {
          this.busy.delete(name);
          this.running.delete(run);
        });
      this.running.add(run);
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async probe(): Promise<void> {
    const { node } = this;
    await Promise.all(
      this.peers().map(async (peer) => {
        const res = await node.context.transport.call(peer, MSG.ping, {}, { timeoutMs: node.config.rpcTimeoutMs });
        if (res.ok) node.health.recordSuccess(peer);
        else node.health.recordFailure(peer, res.error);
      }),
    );
  }

  private async handoff(): Promise<void> {
    const { node } = this;
    for (const owner of node.replica.hintOwners()) {
      if (!node.health.isUp(owner)) continue;
      for (const hint of node.replica.hintsFor(owner, HINTS_PER_HANDOFF)) {
        const res = await node.call(owner, MSG.state, { key: hint.key, mode: node.config.resolve, versions: hint.versions }, node.config.rpcTimeoutMs, (v) => v as StateReply);
        if (!res.ok || res.value.status !== 'stored') break; // try again next round
        if (node.replica.dropHint(owner, hint.key, hint.digest)) {
          node.metrics.hintsDelivered.inc();
          // Lost in a crash before this fsync, the hint comes back and is delivered again: harmless.
          await node.store.append({ t: 'unhint', owner, key: hint.key, digest: hint.digest });
        }
      }
    }
    this.refreshHintGauge();
  }

  /** Keys this node holds that `peer` replicates too, and that this round compares. */
  private sharedWith(peer: NodeId): (key: string) => boolean {
    return (key) => this.settled(key) && this.node.ring.preferenceList(key, this.node.config.n).includes(peer);
  }

  private async antiEntropy(): Promise<void> {
    this.nextRound();
    const { node } = this;
    const peers = this.peers().filter((p) => node.health.isUp(p));
    if (peers.length === 0) return;
    const peer = peers[this.aeCursor++ % peers.length] as NodeId;
    const shared = this.sharedWith(peer);
    const timeoutMs = node.config.rpcTimeoutMs;
    const round1 = await node.call(peer, MSG.aeBuckets, { mode: node.config.resolve, buckets: node.replica.bucketDigests(shared) }, timeoutMs, (v) => {
      const differ = (v as AeBucketsReply | null)?.differ;
      if (!Array.isArray(differ) || !differ.every((b) => Number.isInteger(b) && b >= 0 && b < node.limits.buckets)) throw new Error('bad differ');
      return differ as number[];
    });
    if (!round1.ok || round1.value.length === 0) return;
    const keys = Object.fromEntries(Object.entries(node.replica.keyDigests(new Set(round1.value), shared)).slice(0, node.limits.keysPerMessageMax));
    const round2 = await node.call(peer, MSG.aeKeys, { mode: node.config.resolve, buckets: round1.value, keys }, timeoutMs, (v) => {
      const reply = v as AeKeysReply | null;
      if (reply === null || typeof reply.states !== 'object' || !Array.isArray(reply.want)) throw new Error('bad ae reply');
      const states: Record<string, VersionWire[]> = {};
      for (const [key, versions] of Object.entries(reply.states)) states[key] = parseVersions(versions, `states.${key}`, node.limits);
      return { states, want: reply.want.filter((k): k is string => typeof k === 'string') };
    });
    if (!round2.ok) return;
    for (const [key, versions] of Object.entries(round2.value.states)) {
      node.metrics.antiEntropyRepairs.inc();
      await node.applyState({ key, mode: node.config.resolve, versions });
    }
    for (const key of round2.value.want) {
      const obj = node.replica.object(key);
      if (obj === undefined) continue;
      node.metrics.antiEntropyRepairs.inc();
      await node.call(peer, MSG.state, { key, mode: node.config.resolve, versions: obj.toWire() }, timeoutMs, (v) => v);
    }
  }

  answerBuckets(from: NodeId, msg: AeBucketsMessage): AeBucketsReply {
    const mine = this.node.replica.bucketDigests(this.sharedWith(from));
    return { differ: mine.flatMap((d, i) => (d === msg.buckets[i] ? [] : [i])) };
  }

  answerKeys(from: NodeId, msg: AeKeysMessage): AeKeysReply {
    const mine = this.node.replica.keyDigests(new Set(msg.buckets), this.sharedWith(from));
    const states: Record<string, VersionWire[]> = {};
    let sent = 0;
    for (const [key, digest] of Object.entries(mine)) {
      if (msg.keys[key] === digest || sent >= this.node.limits.keysPerMessageMax) continue;
      const obj = this.node.replica.object(key);
      if (obj !== undefined) {
        states[key] = obj.toWire();
        sent++;
      }
    }
    const want = Object.keys(msg.keys).filter((key) => mine[key] !== msg.keys[key]);
    return { states, want };
  }
}
