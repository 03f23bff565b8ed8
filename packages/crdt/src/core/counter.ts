/**
 * A replicated counter map (key -> PN- or G-counter) that counts a retried increment once,
 * whichever nodes the retries went through. Pure: no I/O, no timers, no clock.
 *
 * State, per origin node o (every node is a leader and an origin):
 *   plain[key][o]  = {p, n}            increments WITHOUT an Idempotency-Key: the classic
 *                                      PN-counter entry (Shapiro et al. 2011, §3.1.2), merged by max.
 *   live[o][seq]   = dot               increments WITH a key: a dot (o, seq) -> {idem, key, delta,
 *                                      deps}, seqs contiguous per origin, merged by union.
 *   compacted[o]   = {upToSeq, sums}   o's dots with seq <= upToSeq folded into per-key sums,
 *                                      merged by the larger upToSeq (dots at or below it are dropped).
 *   value(key) = sum(plain) + sum(compacted sums) + sum(delta of live dots that count).
 *
 * Exactly-once. A client that times out at n1 (which may have applied the increment) and
 * retries through n2 makes two dots with the same idem. Rule: a dot D counts unless some dot E
 * with the same idem is CONCURRENT with D (neither creator had seen the other, told by `deps`)
 * and smaller in (origin, seq). A node never creates a dot for an idem it already holds (as a
 * live dot or a tombstone), and never two for one idem (the driver serves one request per key
 * at a time, LocalWriter asserts it), so same-idem dots are concurrent retries, except after a
 * tombstone was forgotten (below): then the new dot is causally after the old one and counts again.
 *
 * Compaction (causal stability, Baquero et al. 2017 "Pure operation-based CRDTs", §5). Let
 * stable[o] = min over every member m of what m reported it holds of o (the driver only takes a
 * report from m once it holds everything of m's own that the report covers: stableVector()).
 * If dot X=(o,s) has s <= stable[o], every member has seen X, so any dot concurrent with X was
 * created before its creator c saw X, i.e. has seq <= c's report of itself, which this replica
 * holds. (A dot m has prepared but not yet made durable is not in m's report of itself, so
 * while one is on its way to disk m reports no more of any other origin than that dot's deps:
 * reportedSeen(). Else m could report holding X while its concurrent retry D of X was still
 * being written, every replica would fold X as counting, and D would count when it came too.)
 * So the set of dots concurrent with X, and therefore whether X counts, is fixed and the
 * same at every replica that folds X: two replicas folding o's prefix up to w compute the same
 * sums, and merging compacted records by max(upToSeq) never counts a dot twice (a dot at or
 * below upToSeq is ignored, it is in the sums) nor loses one (upToSeq only covers held dots).
 *
 * Tombstones. Folding drops the dots, but their idem must still (a) answer a retry with
 * "duplicate" and (b) keep suppressing a concurrent loser still live here. So folded dots move
 * to a FIFO of tombstones. Bound: at most maxTombstones idempotency keys; the oldest is forgotten
 * first, and never while a live dot with that idem is here (b). Meaning of the bound: a retry
 * that arrives after maxTombstones newer keyed increments were folded counts again. (One more
 * corner of the same bound: a replica that adopts another's fold of E before it has received a
 * concurrent loser D, and then folds maxTombstones newer keys before D arrives, would count D.)
 * Live dots are bounded by the driver (maxLiveDots: a keyed increment beyond it is refused with
 * 503, nothing applied); they pile up only while some member is unreachable (nothing is stable).
 */
import { assert, type NodeId } from '@playground/core';
import { ChangeLog } from './changelog.js';
import { concurrent, dotBefore, sameDot, sameSums } from './dots.js';
import type { Compacted, CounterMode, Dot, Halves, PlainCell, SeenVector, StateDelta } from './types.js';

export { concurrent, depOf, dotBefore, sameDot } from './dots.js';

export interface CounterOptions {
  readonly self: NodeId;
  readonly members: readonly NodeId[];
  readonly mode: CounterMode;
  /** Idempotency keys remembered after their dots were folded. */
  readonly maxTombstones: number;
  /** Changes remembered for delta-state replication; a peer further behind gets full state. */
  readonly maxChangeLog: number;
}

interface CompactedEntry {
  readonly upToSeq: number;
  readonly sums: ReadonlyMap<string, Halves>;
}

export interface IdemOutcome {
  /** The dot whose increment stands for this idem (the one that counts, if any is live here). */
  readonly dot: Dot;
  readonly folded: boolean;
}

const ZERO: Halves = { p: 0, n: 0 };

export class CounterCrdt {
  readonly self: NodeId;
  readonly members: readonly NodeId[];
  readonly mode: CounterMode;
  private readonly plain = new Map<string, Map<NodeId, Halves>>();
  private readonly live = new Map<NodeId, Map<number, Dot>>();
  private readonly liveByIdem = new Map<string, Dot[]>();
  private readonly liveByKey = new Map<string, Set<Dot>>();
  private readonly compacted = new Map<NodeId, CompactedEntry>();
  private readonly tombstones = new Map<string, Dot[]>();
  private readonly seen = new Map<NodeId, number>();
  private readonly valueCache = new Map<string, number>();
  private liveCount = 0;
  /** The highest seq of an own dot ever merged (own seqs only grow; see highestOwnSeq). */
  private highestOwnMerged = 0;
  /** This node's dots prepared but not yet merged (seq -> deps), in the order they were prepared. */
  private readonly preparing = new Map<number, Readonly<Record<NodeId, number>>>();
  /** What changed, by local version (never replicated): drives delta-state replication. */
  private readonly changes: ChangeLog;

  constructor(private readonly options: CounterOptions) {
    assert(options.members.includes(options.self), `self ${options.self} is not a member`);
    assert(options.maxTombstones >= 0 && options.maxChangeLog > 0, 'bounds must be positive');
    this.self = options.self;
    this.members = options.members;
    this.mode = options.mode;
    this.changes = new ChangeLog(options.maxChangeLog);
    for (const m of options.members) this.seen.set(m, 0);
  }

  // ---- reading ---------------------------------------------------------------------------

  value(key: string): number {
    const cached = this.valueCache.get(key);
    if (cached !== undefined) return cached;
    let total = 0;
    for (const h of this.plain.get(key)?.values() ?? []) total += h.p - h.n;
    for (const c of this.compacted.values()) {
      const h = c.sums.get(key);
      if (h) total += h.p - h.n;
    }
    for (const dot of this.liveByKey.get(key) ?? []) if (this.counts(dot)) total += dot.delta;
    this.valueCache.set(key, total);
    return total;
  }

  keys(): string[] {
    const keys = new Set<string>([...this.plain.keys(), ...this.liveByKey.keys()]);
    for (const c of this.compacted.values()) for (const k of c.sums.keys()) keys.add(k);
    return [...keys].sort();
  }

  /** Whether a live dot counts (see the rule at the top). */
  counts(dot: Dot): boolean {
    for (const other of this.liveByIdem.get(dot.idem) ?? []) {
      if (other !== dot && concurrent(other, dot) && dotBefore(other, dot)) return false;
    }
    for (const other of this.tombstones.get(dot.idem) ?? []) {
      if (concurrent(other, dot) && dotBefore(other, dot)) return false;
    }
    return true;
  }

  /** What this replica knows of an Idempotency-Key, for answering a retry. */
  lookupIdem(idem: string): IdemOutcome | undefined {
    const live = this.liveByIdem.get(idem);
    if (live && live.length > 0) return { dot: live.find((d) => this.counts(d)) ?? (live[0] as Dot), folded: false };
    const folded = this.tombstones.get(idem);
    if (folded && folded.length > 0) return { dot: folded[0] as Dot, folded: true };
    return undefined;
  }

  /** Every dot held for an idempotency key, live or folded (answers a peer's IDEM question). */
  dotsForIdem(idem: string): Dot[] {
    return [...(this.liveByIdem.get(idem) ?? []), ...(this.tombstones.get(idem) ?? [])];
  }

  seenVector(): Map<NodeId, number> {
    return new Map(this.seen);
  }

  /**
   * What this node may tell peers it holds, for causal stability (and what it assumes of itself
   * when it folds): seenVector(), but while an own dot is prepared and not yet merged, no more of
   * any other origin than that dot's deps (see the top). The oldest such dot has the smallest deps.
   */
  reportedSeen(): Map<NodeId, number> {
    const seen = this.seenVector();
    const oldest = this.preparing.values().next();
    if (oldest.done) return seen;
    for (const [origin, s] of seen) {
      if (origin !== this.self) seen.set(origin, Math.min(s, Object.hasOwn(oldest.value, origin) ? (oldest.value[origin] as number) : 0));
    }
    return seen;
  }

  /** An own dot was prepared (LocalWriter): until it is merged, reportedSeen() is capped by its deps. */
  preparingDot(dot: Dot): void {
    assert(dot.origin === this.self, () => `${dot.origin}'s dot prepared at ${this.self}`);
    this.preparing.set(dot.seq, dot.deps);
  }

  seenOf(origin: NodeId): number {
    return this.seen.get(origin) ?? 0;
  }

  /** The highest seq of this node's own dots held here (live or folded). */
  highestOwnSeq(): number {
    // An own dot merged and since folded is at or below the compacted upToSeq, so the highest
    // ever merged is the highest held: no walk over the live dots on every increment.
    return Math.max(this.seenOf(this.self), this.compacted.get(this.self)?.upToSeq ?? 0, this.highestOwnMerged);
  }

  plainOf(key: string, origin: NodeId): Halves {
    return this.plain.get(key)?.get(origin) ?? ZERO;
  }

  get liveDotCount(): number {
    return this.liveCount;
  }

  get tombstoneCount(): number {
    return this.tombstones.size;
  }

  get currentVersion(): number {
    return this.changes.version;
  }

  compactedUpTo(origin: NodeId): number {
    return this.compacted.get(origin)?.upToSeq ?? 0;
  }

  /**
   * Per idempotency key held here (live or folded), how many of its dots count: 1 when the
   * key was applied once, 0 never for a key held, 2+ would be a double count (for checkers).
   */
  countedByIdem(): Map<string, number> {
    const out = new Map<string, number>();
    for (const idem of new Set([...this.liveByIdem.keys(), ...this.tombstones.keys()])) {
      const all = [...(this.liveByIdem.get(idem) ?? []), ...(this.tombstones.get(idem) ?? [])];
      out.set(idem, all.filter((d) => !all.some((e) => e !== d && concurrent(e, d) && dotBefore(e, d))).length);
    }
    return out;
  }

  // ---- merging ---------------------------------------------------------------------------

  /**
   * A reason the delta contradicts what is held (same dot or same fold, different content),
   * or null. Checked before merging so that a bad message changes nothing.
   */
  conflictIn(delta: StateDelta): string | null {
    for (const dot of delta.dots) {
      const held = this.live.get(dot.origin)?.get(dot.seq);
      if (held && !sameDot(held, dot)) return `dot (${dot.origin}, ${dot.seq}) differs from the one held`;
    }
    for (const c of delta.compacted) {
      const held = this.compacted.get(c.origin);
      if (held && held.upToSeq === c.upToSeq && !sameSums(held.sums, c.sums)) {
        return `compacted (${c.origin}, ${c.upToSeq}) sums differ from the ones held`;
      }
    }
    return null;
  }

  /**
   * A reason a PEER's delta cannot be true: it claims increments of this node that this node
   * never made durable (it sends only what is on its disk), or it contradicts what is held.
   */
  refuseFromPeer(delta: StateDelta): string | null {
    const ownSeq = this.highestOwnSeq();
    for (const dot of delta.dots) {
      if (dot.origin === this.self && dot.seq > ownSeq) return `dot (${dot.origin}, ${dot.seq}) is ours, but we never made it`;
    }
    for (const c of delta.compacted) {
      if (c.origin === this.self && c.upToSeq > ownSeq) return `compacted (${c.origin}, ${c.upToSeq}) folds dots of ours we never made`;
    }
    for (const cell of delta.plain) {
      const held = this.plainOf(cell.key, this.self);
      if (cell.origin === this.self && (cell.p > held.p || cell.n > held.n)) return `plain (${cell.origin}, ${cell.key}) exceeds what we counted`;
    }
    return this.conflictIn(delta);
  }

  /** The part of a delta that would change this state (what is worth writing to disk). */
  novel(delta: StateDelta): StateDelta {
    return {
      plain: delta.plain.filter((c) => {
        const held = this.plainOf(c.key, c.origin);
        return c.p > held.p || c.n > held.n;
      }),
      dots: delta.dots.filter((d) => d.seq > this.compactedUpTo(d.origin) && !this.live.get(d.origin)?.has(d.seq)),
      compacted: delta.compacted.filter((c) => c.upToSeq > this.compactedUpTo(c.origin)),
    };
  }

  /** Joins a delta (or full state) into this state. Returns how many entries changed. */
  merge(delta: StateDelta, source: NodeId | null = null): number {
    const conflict = this.conflictIn(delta);
    assert(conflict === null, () => `merge of a conflicting delta: ${conflict}`);
    let changed = 0;
    // Folds first, so that dots they cover are not added only to be dropped.
    for (const c of delta.compacted) changed += this.mergeCompacted(c, source);
    for (const dot of delta.dots) changed += this.mergeDot(dot, source);
    for (const cell of delta.plain) changed += this.mergePlain(cell, source);
    this.evictTombstones();
    return changed;
  }

  private mergePlain(cell: PlainCell, source: NodeId | null): number {
    this.assertMember(cell.origin);
    assert(this.mode === 'pn' || cell.n === 0, 'a G-counter has no negative half');
    let byOrigin = this.plain.get(cell.key);
    const held = byOrigin?.get(cell.origin) ?? ZERO;
    if (cell.p <= held.p && cell.n <= held.n) return 0;
    if (!byOrigin) this.plain.set(cell.key, (byOrigin = new Map()));
    byOrigin.set(cell.origin, { p: Math.max(held.p, cell.p), n: Math.max(held.n, cell.n) });
    this.valueCache.delete(cell.key);
    this.changes.record({ kind: 'plain', origin: cell.origin, key: cell.key }, source);
    return 1;
  }

  private mergeDot(dot: Dot, source: NodeId | null): number {
    this.assertMember(dot.origin);
    assert(this.mode === 'pn' || dot.delta >= 0, 'a G-counter dot cannot be negative');
    if (dot.origin === this.self) this.preparing.delete(dot.seq);
    if (dot.seq <= this.compactedUpTo(dot.origin)) return 0;
    let byOrigin = this.live.get(dot.origin);
    if (byOrigin?.has(dot.seq)) return 0;
    if (!byOrigin) this.live.set(dot.origin, (byOrigin = new Map()));
    byOrigin.set(dot.seq, dot);
    this.liveCount++;
    if (dot.origin === this.self && dot.seq > this.highestOwnMerged) this.highestOwnMerged = dot.seq;
    const sameIdem = this.liveByIdem.get(dot.idem);
    if (sameIdem) sameIdem.push(dot);
    else this.liveByIdem.set(dot.idem, [dot]);
    let byKey = this.liveByKey.get(dot.key);
    if (!byKey) this.liveByKey.set(dot.key, (byKey = new Set()));
    byKey.add(dot);
    if (sameIdem === undefined && !this.tombstones.has(dot.idem)) {
      // The only dot of its idem (every first try): it counts, and whether any other dot
      // counts depends only on dots of that other's idem, so the key's value moves by its
      // delta. No re-sum of the key's live dots on every increment.
      const cached = this.valueCache.get(dot.key);
      if (cached !== undefined) this.valueCache.set(dot.key, cached + dot.delta);
    } else {
      this.invalidateIdem(dot.idem);
    }
    this.advanceSeen(dot.origin, 0);
    this.changes.record({ kind: 'dot', origin: dot.origin, seq: dot.seq }, source);
    return 1;
  }

  private mergeCompacted(c: Compacted, source: NodeId | null): number {
    this.assertMember(c.origin);
    const held = this.compacted.get(c.origin);
    if (held && c.upToSeq <= held.upToSeq) return 0;
    this.compacted.set(c.origin, { upToSeq: c.upToSeq, sums: new Map(c.sums) });
    for (const k of c.sums.keys()) this.valueCache.delete(k);
    for (const k of held?.sums.keys() ?? []) this.valueCache.delete(k);
    const byOrigin = this.live.get(c.origin);
    for (const [seq, dot] of byOrigin ?? []) if (seq <= c.upToSeq) this.fold(dot);
    this.advanceSeen(c.origin, c.upToSeq);
    this.changes.record({ kind: 'compacted', origin: c.origin }, source);
    return 1;
  }

  /** Moves a live dot, now covered by its origin's sums, to the tombstones. */
  private fold(dot: Dot): void {
    this.invalidateIdem(dot.idem);
    this.live.get(dot.origin)?.delete(dot.seq);
    this.liveCount--;
    const sameIdem = (this.liveByIdem.get(dot.idem) ?? []).filter((d) => d !== dot);
    if (sameIdem.length > 0) this.liveByIdem.set(dot.idem, sameIdem);
    else this.liveByIdem.delete(dot.idem);
    const byKey = this.liveByKey.get(dot.key);
    byKey?.delete(dot);
    if (byKey?.size === 0) this.liveByKey.delete(dot.key);
    const folded = this.tombstones.get(dot.idem) ?? [];
    this.tombstones.delete(dot.idem); // re-inserted last: FIFO by the latest fold
    this.tombstones.set(dot.idem, [...folded, dot]);
  }

  private evictTombstones(): void {
    if (this.tombstones.size <= this.options.maxTombstones) return;
    for (const idem of this.tombstones.keys()) {
      if (this.tombstones.size <= this.options.maxTombstones) break;
      if (!this.liveByIdem.has(idem)) this.tombstones.delete(idem);
    }
  }

  private invalidateIdem(idem: string): void {
    for (const d of this.liveByIdem.get(idem) ?? []) this.valueCache.delete(d.key);
    for (const d of this.tombstones.get(idem) ?? []) this.valueCache.delete(d.key);
  }

  private advanceSeen(origin: NodeId, atLeast: number): void {
    let s = Math.max(this.seen.get(origin) ?? 0, atLeast);
    const byOrigin = this.live.get(origin);
    while (byOrigin?.has(s + 1)) s++;
    this.seen.set(origin, s);
  }

  private assertMember(origin: NodeId): void {
    assert(this.seen.has(origin), () => `origin ${origin} is not a member`);
  }

  // ---- compaction ------------------------------------------------------------------------

  /**
   * The folds that causal stability allows: for each origin, its dots up to
   * min(stable[o], seen[o]). Pure: the caller makes the result durable, then merges it.
   */
  planCompaction(stable: SeenVector): Compacted[] {
    const folds: Compacted[] = [];
    for (const origin of this.members) {
      const from = this.compactedUpTo(origin);
      const upTo = Math.min(stable.get(origin) ?? 0, this.seenOf(origin));
      if (upTo <= from) continue;
      const sums = new Map(this.compacted.get(origin)?.sums ?? []);
      const byOrigin = this.live.get(origin);
      for (let seq = from + 1; seq <= upTo; seq++) {
        const dot = byOrigin?.get(seq);
        assert(dot, () => `dot (${origin}, ${seq}) is below seen ${this.seenOf(origin)} but not held`);
        if (!this.counts(dot)) continue;
        const h = sums.get(dot.key) ?? ZERO;
        sums.set(dot.key, dot.delta >= 0 ? { p: h.p + dot.delta, n: h.n } : { p: h.p, n: h.n - dot.delta });
      }
      folds.push({ origin, upToSeq: upTo, sums });
    }
    return folds;
  }

  // ---- delta-state replication -------------------------------------------------------------

  /** Forgets changes every peer has acknowledged (the minimum of their acknowledged versions). */
  trimChanges(acknowledgedByAll: number): void {
    this.changes.trim(acknowledgedByAll);
  }

  get changeLogLength(): number {
    return this.changes.length;
  }

  /**
   * What changed after `acknowledged` that `peer` did not send us itself, or null when those
   * changes are no longer remembered (the caller sends full state instead).
   */
  deltaSince(acknowledged: number, peer: NodeId | null): StateDelta | null {
    const refs = this.changes.since(acknowledged, peer);
    if (refs === null) return null;
    const plain: PlainCell[] = [];
    const dots: Dot[] = [];
    const compacted: Compacted[] = [];
    for (const ref of refs) {
      if (ref.kind === 'plain') {
        plain.push({ origin: ref.origin, key: ref.key, ...this.plainOf(ref.key, ref.origin) });
      } else if (ref.kind === 'dot') {
        const dot = this.live.get(ref.origin)?.get(ref.seq);
        if (dot) dots.push(dot); // folded since: the compacted record carries it
      } else {
        const c = this.compacted.get(ref.origin);
        if (c) compacted.push({ origin: ref.origin, upToSeq: c.upToSeq, sums: c.sums });
      }
    }
    return { plain, dots, compacted };
  }

  fullState(): StateDelta {
    const plain: PlainCell[] = [];
    for (const [key, byOrigin] of this.plain) for (const [origin, h] of byOrigin) plain.push({ origin, key, p: h.p, n: h.n });
    const dots: Dot[] = [];
    for (const byOrigin of this.live.values()) dots.push(...byOrigin.values());
    const compacted: Compacted[] = [];
    for (const [origin, c] of this.compacted) compacted.push({ origin, upToSeq: c.upToSeq, sums: c.sums });
    return { plain, dots, compacted };
  }

  // ---- snapshots ---------------------------------------------------------------------------

  /** Folded dots, oldest first (local state: tombstones are not replicated). */
  exportTombstones(): Dot[][] {
    return [...this.tombstones.values()].map((dots) => [...dots]);
  }

  importTombstones(groups: readonly (readonly Dot[])[]): void {
    for (const group of groups) {
      const first = group[0];
      if (!first) continue;
      const held = this.tombstones.get(first.idem) ?? [];
      const added = group.filter((d) => !held.some((h) => h.origin === d.origin && h.seq === d.seq));
      this.tombstones.delete(first.idem);
      this.tombstones.set(first.idem, [...held, ...added]);
      this.invalidateIdem(first.idem);
    }
    this.evictTombstones();
  }
}
