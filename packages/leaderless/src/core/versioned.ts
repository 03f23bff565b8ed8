import { assert, vclock } from '@playground/core';
import type { NodeId, VClock } from '@playground/core';
import { CounterCrdt, lwwDigest, lwwWins } from './counter.js';
import type { CounterWire, LwwRegister } from './counter.js';
import { digestHex, digestOf, xorInto } from './hash.js';

/**
 * Versioned objects (Dynamo §4.4): a key's value is a set of versions, each stamped with a
 * vector clock. A version another one dominates is dropped; versions that are concurrent are
 * kept side by side as siblings, until a write whose context has seen them all replaces them.
 */
export type ResolveMode = 'merge' | 'lww';
export const RESOLVE_MODES: readonly ResolveMode[] = ['merge', 'lww'];

export interface MergeVersion {
  readonly clock: VClock;
  readonly crdt: CounterCrdt;
}

export interface LwwVersion {
  readonly clock: VClock;
  readonly reg: LwwRegister;
}

/** On the wire and on disk. `c` is the clock; merge mode adds `d`/`s`, lww mode `v`/`t`/`w`. */
export type VersionWire = { c: VClock } & CounterWire & { v?: number; t?: number; w?: NodeId; k?: string[] };

/** Why an LWW replica threw a write's value away (the lesson the `lww` mode teaches). */
export type LwwLoss = 'concurrent' | 'skew';

/** Canonical text of a clock; zero entries are absent entries (equal clocks, equal text). */
function clockText(clock: VClock): string {
  return Object.keys(clock)
    .filter((node) => clock[node] !== 0)
    .sort()
    .map((node) => `${node}:${clock[node]}`)
    .join(',');
}

/**
 * `merge` mode. Invariant: each sibling's payload is the join of every version ever seen whose
 * clock it descends from. Dropping a dominated version therefore folds its payload into the
 * dominator instead of discarding it, which is what makes merge mode lossless even for blind
 * increments that did not read first (Riak's counters inside a versioned object).
 */
export class MergeObject {
  readonly mode = 'merge' as const;
  private versions: MergeVersion[] = [];
  private revisions = 0;
  /**
   * digest() of the current state, or undefined once it changed: building it hashes every
   * sibling's clock and sums, and digest reads and anti-entropy ask for it far more often than
   * the state changes.
   */
  private digestCache: string | undefined;

  /** Rises with every change of state (what a replica reads to tell whether a write changed anything). */
  get revision(): number {
    return this.revisions;
  }

  /** Takes ownership of `incoming.crdt`. Returns true when the sibling bound forced a collapse. */
  join(incoming: MergeVersion, siblingsMax: number): boolean {
    const dominators = this.versions.filter((v) => vclock.descends(v.clock, incoming.clock));
    if (dominators.length > 0) {
      // Nothing new unless the payload brings a dot or a sum a dominator lacks.
      let changed = false;
      for (const v of dominators) changed = v.crdt.join(incoming.crdt) || changed;
      if (changed) this.changed();
      return false;
    }
    // No version has seen it: its clock joins the set of siblings (and replaces those it dominates).
    this.changed();
    const dominated: MergeVersion[] = [];
    const kept: MergeVersion[] = [];
    for (const v of this.versions) (vclock.compare(v.clock, incoming.clock) === 'before' ? dominated : kept).push(v);
    let crdt = incoming.crdt;
    if (dominated.length > 0) {
      // Grow the biggest payload instead of copying it: O(new dots), not O(all dots).
      dominated.sort((a, b) => b.crdt.dotCount - a.crdt.dotCount);
      crdt = (dominated[0] as MergeVersion).crdt;
      for (const v of dominated.slice(1)) crdt.join(v.crdt);
      crdt.join(incoming.crdt);
    }
    kept.push({ clock: incoming.clock, crdt });
    this.versions = kept;
    if (kept.length > siblingsMax) {
      this.collapse();
      return true;
    }
    return false;
  }

  joinObject(other: MergeObject, siblingsMax: number): boolean {
    let collapsed = false;
    for (const v of other.versions) collapsed = this.join({ clock: v.clock, crdt: v.crdt.clone() }, siblingsMax) || collapsed;
    return collapsed;
  }

  /**
   * At the sibling bound, all siblings become one version whose clock is their merge and whose
   * payload is their join: nothing is lost, only the record that they were concurrent.
   */
  collapse(): void {
    if (this.versions.length <= 1) return;
    this.changed();
    const sorted = [...this.versions].sort((a, b) => b.crdt.dotCount - a.crdt.dotCount);
    const base = sorted[0] as MergeVersion;
    let clock = base.clock;
    for (const v of sorted.slice(1)) {
      base.crdt.join(v.crdt);
      clock = vclock.merge(clock, v.clock);
    }
    this.versions = [{ clock, crdt: base.crdt }];
  }

  hasDot(id: string): boolean {
    return this.versions.some((v) => v.crdt.hasDot(id));
  }

  sumOf(node: NodeId): { p: number; n: number } {
    let p = 0;
    let n = 0;
    for (const v of this.versions) {
      const s = v.crdt.sumOf(node);
      p = Math.max(p, s.p);
      n = Math.max(n, s.n);
    }
    return { p, n };
  }

  /** The most dots any sibling holds: the size the dedup bound applies to. */
  dotCount(): number {
    return Math.max(0, ...this.versions.map((v) => v.crdt.dotCount));
  }

  siblingCount(): number {
    return this.versions.length;
  }

  clock(): VClock {
    return this.versions.reduce<VClock>((c, v) => vclock.merge(c, v.clock), vclock.emptyClock);
  }

  /** The value a reader sees: the join of every sibling (siblings merge without loss). */
  value(): number {
    if (this.versions.length === 1) return (this.versions[0] as MergeVersion).crdt.value();
    const all = new CounterCrdt();
    for (const v of this.versions) all.join(v.crdt);
    return all.value();
  }

  digest(): string {
    if (this.digestCache !== undefined) return this.digestCache;
    const d = { hi: 0, lo: 0 };
    for (const v of this.versions) xorInto(d, digestOf(`${clockText(v.clock)}|${v.crdt.digest()}`));
    return (this.digestCache = digestHex(d));
  }

  toWire(): VersionWire[] {
    return this.versions.map((v) => ({ c: v.clock, ...v.crdt.toWire() }));
  }

  private changed(): void {
    this.revisions++;
    this.digestCache = undefined;
  }

  static fromWire(wire: readonly VersionWire[], siblingsMax: number): MergeObject {
    const obj = new MergeObject();
    for (const v of wire) obj.join({ clock: v.c, crdt: CounterCrdt.fromWire(v) }, siblingsMax);
    return obj;
  }
}

/**
 * `lww` mode: one version per replica, the winner by wall-clock timestamp (Cassandra). Its
 * clock becomes the merge of both, so the loser counts as seen; whether the loser's value was
 * really lost is decided by the clocks and reported, because this loss is the lesson.
 */
export class LwwObject {
  readonly mode = 'lww' as const;
  private version: LwwVersion | undefined;
  private revisions = 0;

  /** Rises with every change of state (what a replica reads to tell whether a write changed anything). */
  get revision(): number {
    return this.revisions;
  }

  /** Returns why the losing value was lost, or undefined when nothing was (stale or same write). */
  join(incoming: LwwVersion): LwwLoss | undefined {
    const current = this.version;
    if (current === undefined) {
      this.version = incoming;
      this.revisions++;
      return undefined;
    }
    const incomingWins = lwwWins(incoming.reg, current.reg);
    const winner = incomingWins ? incoming : current;
    const loser = incomingWins ? current : incoming;
    const registerChanges = incomingWins && lwwDigest(incoming.reg) !== lwwDigest(current.reg);
    const clockChanges = !vclock.descends(current.clock, incoming.clock); // the new clock is their merge
    if (registerChanges || clockChanges) this.revisions++;
    this.version = { clock: vclock.merge(winner.clock, loser.clock), reg: winner.reg };
    const sameWrite = loser.reg.tsUs === winner.reg.tsUs && loser.reg.writer === winner.reg.writer && loser.reg.value === winner.reg.value;
    if (sameWrite) return undefined;
    const order = vclock.compare(loser.clock, winner.clock);
    if (order === 'before') return undefined; // the winner had seen it: an overwrite, not a loss
    return order === 'after' ? 'skew' : 'concurrent';
  }

  joinObject(other: LwwObject): LwwLoss | undefined {
    return other.version === undefined ? undefined : this.join(other.version);
  }

  register(): LwwRegister | undefined {
    return this.version?.reg;
  }

  siblingCount(): number {
    return this.version === undefined ? 0 : 1;
  }

  clock(): VClock {
    return this.version?.clock ?? vclock.emptyClock;
  }

  value(): number {
    return this.version?.reg.value ?? 0;
  }

  digest(): string {
    if (this.version === undefined) return digestHex({ hi: 0, lo: 0 });
    return digestHex(digestOf(`${clockText(this.version.clock)}|${lwwDigest(this.version.reg)}`));
  }

  toWire(): VersionWire[] {
    if (this.version === undefined) return [];
    const { clock, reg } = this.version;
    const wire: VersionWire = { c: clock, v: reg.value, t: reg.tsUs, w: reg.writer };
    if (reg.keys !== undefined && reg.keys.length > 0) wire.k = [...reg.keys];
    return [wire];
  }

  static fromWire(wire: readonly VersionWire[]): LwwObject {
    const obj = new LwwObject();
    for (const v of wire) {
      assert(v.v !== undefined && v.t !== undefined && v.w !== undefined, 'an lww version needs v, t and w');
      obj.join({ clock: v.c, reg: lwwRegisterOf(v) });
    }
    return obj;
  }
}

export function lwwRegisterOf(v: VersionWire): LwwRegister {
  assert(v.v !== undefined && v.t !== undefined && v.w !== undefined, 'an lww version needs v, t and w');
  return v.k === undefined ? { value: v.v, tsUs: v.t, writer: v.w } : { value: v.v, tsUs: v.t, writer: v.w, keys: v.k };
}

export type VersionedObject = MergeObject | LwwObject;

export function emptyObject(mode: ResolveMode): VersionedObject {
  return mode === 'merge' ? new MergeObject() : new LwwObject();
}

export function objectFromWire(mode: ResolveMode, wire: readonly VersionWire[], siblingsMax: number): VersionedObject {
  return mode === 'merge' ? MergeObject.fromWire(wire, siblingsMax) : LwwObject.fromWire(wire);
}
