import { assert } from '@playground/core';
import type { NodeId } from '@playground/core';
import { CounterCrdt } from './counter.js';
import { hash32 } from './hash.js';
import type { PutMessage, PutReply, RefusalReason, ReplicaSummary, StateMessage, StateReply } from './messages.js';
import { emptyObject, LwwObject, lwwRegisterOf, MergeObject, objectFromWire } from './versioned.js';
import type { LwwLoss, ResolveMode, VersionedObject, VersionWire } from './versioned.js';

export interface ReplicaConfig {
  readonly self: NodeId;
  readonly mode: ResolveMode;
  /** Siblings kept per key; at the bound merge mode collapses them (nothing lost), see MergeObject.collapse. */
  readonly siblingsMax: number;
  /** Idempotent increments remembered per key; at the bound new keyed increments are refused. */
  readonly dotsMax: number;
  /** Keys stored (as replica) or coordinated (own sums); at the bound new keys are refused. */
  readonly keysMax: number;
  /** Hinted (owner, key) pairs held for others; at the bound new hints are refused. */
  readonly hintMax: number;
  /** Anti-entropy buckets (the leaves of a two-level Merkle tree over keys). */
  readonly buckets: number;
}

/** What happened to the state; the driver turns it into metrics. */
export interface ApplyEffects {
  changed: boolean;
  lost?: LwwLoss;
  siblingsCollapsed?: boolean;
  hintStored?: boolean;
}

/** A durable snapshot of a replica: everything it must recover after a restart. */
export interface ReplicaSnapshot {
  objects: [string, VersionWire[]][];
  hints: [NodeId, string, VersionWire[]][];
  own: [string, number, number][];
}

/**
 * The replica's side of Dynamo (§4.4-§4.6), pure: objects it replicates, hints it holds for
 * unreachable owners, and this node's own PN-counter entries as a coordinator. Every mutation
 * is a function of its input message, so replaying the write-ahead log rebuilds the same state.
 */
export class Replica {
  private readonly objects = new Map<string, VersionedObject>();
  private readonly hints = new Map<NodeId, Map<string, VersionedObject>>();
  private hintTotal = 0;
  private readonly own = new Map<string, { p: number; n: number }>();

  constructor(readonly config: ReplicaConfig) {}

  get keyCount(): number {
    return this.objects.size;
  }

  get hintCount(): number {
    return this.hintTotal;
  }

  hintsPerOwner(): Record<NodeId, number> {
    return Object.fromEntries([...this.hints].map(([owner, m]) => [owner, m.size]));
  }

  /**
   * Applies a coordinator's write. `recovering` replays the log: a write that was stored once
   * is stored again whatever the bounds are now.
   */
  applyPut(msg: PutMessage, recovering = false): { reply: PutReply; effects: ApplyEffects } {
    const target = this.targetFor(msg.key, msg.hintFor, recovering);
    if (typeof target === 'string') return { reply: { status: 'refused', reason: target }, effects: { changed: false } };
    const { obj, isNewHint } = target;
    const before = obj.revision;
    let duplicate = false;
    let lost: LwwLoss | undefined;
    let siblingsCollapsed = false;
    if (obj.mode === 'merge') {
      const dots = msg.version.d ?? [];
      duplicate = dots.length > 0 && dots.every(([id]) => obj.hasDot(id));
      if (dots.length > 0 && !duplicate && !recovering && obj.dotCount() >= this.config.dotsMax) {
        return { reply: { status: 'refused', reason: 'dots_full' }, effects: { changed: false } };
      }
      siblingsCollapsed = obj.join({ clock: msg.version.c, crdt: CounterCrdt.fromWire(msg.version) }, this.config.siblingsMax);
    } else {
      lost = obj.join({ clock: msg.version.c, reg: lwwRegisterOf(msg.version) });
    }
    this.install(msg.key, msg.hintFor, obj, isNewHint);
    const reply: PutReply = { status: duplicate ? 'duplicate' : 'stored', value: obj.value(), clock: obj.clock(), siblings: obj.siblingCount() };
    if (lost !== undefined) reply.lost = lost;
    const effects: ApplyEffects = { changed: obj.revision !== before, siblingsCollapsed, hintStored: isNewHint };
    if (lost !== undefined) effects.lost = lost;
    return { reply, effects };
  }

  /** Joins a whole object (read repair, hint handoff, anti-entropy). */
  applyState(msg: StateMessage, recovering = false): { reply: StateReply; effects: ApplyEffects } {
    const target = this.targetFor(msg.key, msg.hintFor, recovering);
    if (typeof target === 'string') return { reply: { status: 'refused', reason: target }, effects: { changed: false } };
    const { obj, isNewHint } = target;
    const before = obj.revision;
    const incoming = objectFromWire(this.config.mode, msg.versions, this.config.siblingsMax);
    let lost: LwwLoss | undefined;
    let siblingsCollapsed = false;
    if (obj instanceof MergeObject) siblingsCollapsed = obj.joinObject(incoming as MergeObject, this.config.siblingsMax);
    else lost = obj.joinObject(incoming as LwwObject);
    this.install(msg.key, msg.hintFor, obj, isNewHint);
    const effects: ApplyEffects = { changed: obj.revision !== before, siblingsCollapsed, hintStored: isNewHint };
    if (lost !== undefined) effects.lost = lost;
    return { reply: { status: 'stored', digest: obj.digest() }, effects };
  }

  /** What this node answers to a full read: its replica of the key joined with any hints for it. */
  read(key: string): VersionWire[] {
    return this.readable(key).toWire();
  }

  /** What this node answers to a digest read: no dots, O(siblings). */
  summary(key: string): ReplicaSummary {
    const obj = this.readable(key);
    const summary: ReplicaSummary = { digest: obj.digest(), value: obj.value(), clock: obj.clock(), siblings: obj.siblingCount() };
    const keys = obj instanceof LwwObject ? obj.register()?.keys : undefined;
    if (keys !== undefined) summary.keys = [...keys];
    return summary;
  }

  private readable(key: string): VersionedObject {
    const mine = this.objects.get(key);
    const hinted: VersionedObject[] = [];
    for (const perOwner of this.hints.values()) {
      const h = perOwner.get(key);
      if (h !== undefined) hinted.push(h);
    }
    if (hinted.length === 0) return mine ?? emptyObject(this.config.mode);
    const joined = objectFromWire(this.config.mode, mine?.toWire() ?? [], this.config.siblingsMax);
    for (const h of hinted) joinInto(joined, h, this.config.siblingsMax);
    return joined;
  }

  object(key: string): VersionedObject | undefined {
    return this.objects.get(key);
  }

  keys(): IterableIterator<string> {
    return this.objects.keys();
  }

  /**
   * This node's next PN-counter entry for a keyless increment it coordinates: it is the only
   * writer of that entry, so it knows the entry without reading. The caller persists the new
   * entry before sending it anywhere (a lost entry would let later increments hide under max).
   */
  nextOwnSum(key: string, delta: number): { p: number; n: number } | 'keys_full' {
    assert(Number.isSafeInteger(delta), 'delta is a safe integer');
    let current = this.own.get(key);
    if (current === undefined) {
      if (this.own.size >= this.config.keysMax) return 'keys_full';
      current = { p: 0, n: 0 };
    }
    const replica = this.objects.get(key);
    if (replica instanceof MergeObject) {
      // After a lost data dir the replica may know a higher entry than we do: never go back.
      const seen = replica.sumOf(this.config.self);
      current = { p: Math.max(current.p, seen.p), n: Math.max(current.n, seen.n) };
    }
    const next = delta >= 0 ? { p: current.p + delta, n: current.n } : { p: current.p, n: current.n - delta };
    assert(Number.isSafeInteger(next.p) && Number.isSafeInteger(next.n), 'counter entry overflows a safe integer');
    return next;
  }

  setOwnSum(key: string, p: number, n: number): void {
    const current = this.own.get(key) ?? { p: 0, n: 0 };
    this.own.set(key, { p: Math.max(current.p, p), n: Math.max(current.n, n) });
  }

  /** Hints waiting for `owner`, as messages to deliver (Dynamo §4.6). */
  hintsFor(owner: NodeId, max: number): { key: string; versions: VersionWire[]; digest: string }[] {
    const perOwner = this.hints.get(owner);
    if (perOwner === undefined) return [];
    const out: { key: string; versions: VersionWire[]; digest: string }[] = [];
    for (const [key, obj] of perOwner) {
      if (out.length >= max) break;
      out.push({ key, versions: obj.toWire(), digest: obj.digest() });
    }
    return out;
  }

  hintOwners(): NodeId[] {
    return [...this.hints.keys()];
  }

  /**
   * Drops a delivered hint, unless it changed since it was sent (a newer hinted write joined
   * it meanwhile): then it stays, to be delivered again. Returns whether it was dropped.
   */
  dropHint(owner: NodeId, key: string, digest: string): boolean {
    const perOwner = this.hints.get(owner);
    const obj = perOwner?.get(key);
    if (perOwner === undefined || obj === undefined || obj.digest() !== digest) return false;
    perOwner.delete(key);
    this.hintTotal--;
    if (perOwner.size === 0) this.hints.delete(owner);
    return true;
  }

  bucketOf(key: string): number {
    return hash32(key) % this.config.buckets;
  }

  /** Anti-entropy leaves: per bucket, the XOR of the digests of the keys `shared` selects. */
  bucketDigests(shared: (key: string) => boolean): string[] {
    const hi = new Uint32Array(this.config.buckets);
    const lo = new Uint32Array(this.config.buckets);
    for (const [key, obj] of this.objects) {
      if (!shared(key)) continue;
      const b = this.bucketOf(key);
      const d = obj.digest();
      hi[b] = ((hi[b] as number) ^ hash32(`${key}|${d}`, 1)) >>> 0;
      lo[b] = ((lo[b] as number) ^ hash32(`${key}|${d}`, 2)) >>> 0;
    }
    return Array.from(hi, (h, i) => h.toString(16).padStart(8, '0') + (lo[i] as number).toString(16).padStart(8, '0'));
  }

  keyDigests(buckets: ReadonlySet<number>, shared: (key: string) => boolean): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, obj] of this.objects) {
      if (buckets.has(this.bucketOf(key)) && shared(key)) out[key] = obj.digest();
    }
    return out;
  }

  snapshot(): ReplicaSnapshot {
    const hints: [NodeId, string, VersionWire[]][] = [];
    for (const [owner, perOwner] of this.hints) for (const [key, obj] of perOwner) hints.push([owner, key, obj.toWire()]);
    return {
      objects: [...this.objects].map(([key, obj]) => [key, obj.toWire()]),
      hints,
      own: [...this.own].map(([key, s]) => [key, s.p, s.n]),
    };
  }

  restore(snap: ReplicaSnapshot): void {
    for (const [key, versions] of snap.objects) this.applyState({ key, mode: this.config.mode, versions }, true);
    for (const [owner, key, versions] of snap.hints) this.applyState({ key, mode: this.config.mode, versions, hintFor: owner }, true);
    for (const [key, p, n] of snap.own) this.setOwnSum(key, p, n);
  }

  private targetFor(
    key: string,
    hintFor: NodeId | undefined,
    recovering: boolean,
  ): { obj: VersionedObject; isNewHint: boolean } | RefusalReason {
    if (hintFor === undefined || hintFor === this.config.self) {
      const obj = this.objects.get(key);
      if (obj !== undefined) return { obj, isNewHint: false };
      if (!recovering && this.objects.size >= this.config.keysMax) return 'keys_full';
      return { obj: emptyObject(this.config.mode), isNewHint: false };
    }
    const obj = this.hints.get(hintFor)?.get(key);
    if (obj !== undefined) return { obj, isNewHint: false };
    if (!recovering && this.hintTotal >= this.config.hintMax) return 'hints_full';
    return { obj: emptyObject(this.config.mode), isNewHint: true };
  }

  private install(key: string, hintFor: NodeId | undefined, obj: VersionedObject, isNewHint: boolean): void {
    if (hintFor === undefined || hintFor === this.config.self) {
      this.objects.set(key, obj);
      return;
    }
    let perOwner = this.hints.get(hintFor);
    if (perOwner === undefined) this.hints.set(hintFor, (perOwner = new Map()));
    perOwner.set(key, obj);
    if (isNewHint) this.hintTotal++;
  }
}

export function joinInto(into: VersionedObject, other: VersionedObject, siblingsMax: number): void {
  if (into instanceof MergeObject) {
    assert(other instanceof MergeObject, 'objects of one mode');
    into.joinObject(other, siblingsMax);
  } else {
    assert(other instanceof LwwObject, 'objects of one mode');
    into.joinObject(other);
  }
}
