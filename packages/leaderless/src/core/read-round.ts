import { vclock } from '@playground/core';
import type { NodeId, VClock } from '@playground/core';
import type { Target } from './coordinator.js';
import type { ReplicaSummary } from './messages.js';
import { joinInto } from './replica.js';
import { LwwObject, objectFromWire } from './versioned.js';
import type { ResolveMode, VersionedObject, VersionWire } from './versioned.js';

export interface ReadResult {
  readonly value: number;
  readonly clock: VClock;
  /** Versions left after resolution (lww: 1). */
  readonly siblings: number;
  /** Distinct concurrent versions the replies held before they were resolved. */
  readonly siblingsSeen: number;
  readonly replies: number;
  /** lww: the Idempotency-Keys folded into `value` (see LwwRegister.keys). */
  readonly keys?: readonly string[];
}

export type ReadDecision =
  | ({ kind: 'ok' } & { -readonly [K in keyof ReadResult]: ReadResult[K] })
  | { kind: 'unavailable'; reason: string }
  | { kind: 'timeout'; reason: string };

/**
 * One read (Dynamo §4.5) with digest reads (as Cassandra does): replicas first answer a summary
 * (digest, value, clock); when the first R summaries agree, their value is the answer and no
 * state crosses the network, which keeps reads O(1) however many dots a counter holds. When they
 * disagree, the round asks those replicas for their full state and answers the join. Once
 * every target has answered, replicas whose digest differs from the join of all states get it
 * (read repair, §4.4).
 */
export class ReadRound {
  private readonly summaries = new Map<NodeId, ReplicaSummary>();
  private readonly states = new Map<NodeId, VersionWire[]>();
  private readonly failed = new Set<NodeId>();
  /** Replicas whose full state the decision waits for, once the summaries disagreed. */
  private fetching: NodeId[] | undefined;
  private decided: ReadDecision | undefined;
  private readonly targets: readonly Target[];

  constructor(
    readonly r: number,
    plan: { readonly targets: readonly Target[]; readonly reachable: number },
    private readonly mode: ResolveMode,
    private readonly siblingsMax: number,
    readonly deadlineTick: number,
  ) {
    this.targets = plan.targets;
    if (plan.reachable < r) this.decided = { kind: 'unavailable', reason: `only ${plan.reachable} of the ${r} replicas needed are reachable` };
  }

  /** Where to send the summary requests. Nothing when the round was refused up front. */
  initialTargets(): Target[] {
    return this.decided === undefined ? [...this.targets] : [];
  }

  get decision(): ReadDecision | undefined {
    return this.decided;
  }

  /** Every target has answered its summary or failed: read repair can tell who is stale. */
  get settled(): boolean {
    return this.targets.every((t) => this.summaries.has(t.node) || this.failed.has(t.node));
  }

  /** Returns the replicas to ask for their full state, if the summaries disagree. */
  onSummary(node: NodeId, summary: ReplicaSummary): NodeId[] {
    if (this.summaries.has(node) || this.failed.has(node)) return [];
    this.summaries.set(node, summary);
    if (this.decided !== undefined || this.fetching !== undefined || this.summaries.size < this.r) return [];
    const replied = [...this.summaries.values()];
    const first = replied[0] as ReplicaSummary;
    if (replied.every((s) => s.digest === first.digest)) {
      this.decided = { kind: 'ok', value: first.value, clock: first.clock, siblings: first.siblings, siblingsSeen: first.siblings, replies: replied.length };
      if (first.keys !== undefined) this.decided.keys = first.keys;
      return [];
    }
    this.fetching = [...this.summaries.keys()];
    return this.fetching.filter((n) => !this.states.has(n));
  }

  onState(node: NodeId, versions: VersionWire[]): void {
    this.states.set(node, versions);
    this.maybeDecideFromStates();
  }

  onFailure(node: NodeId): void {
    if (!this.summaries.has(node)) this.failed.add(node);
    else if (this.fetching?.includes(node) && !this.states.has(node)) this.fetching = this.fetching.filter((n) => n !== node);
    if (this.decided === undefined && this.targets.length - this.failed.size < this.r) {
      this.decided = { kind: 'timeout', reason: `${this.failed.size} of ${this.targets.length} replicas failed to answer` };
    }
    this.maybeDecideFromStates();
  }

  onTick(nowTick: number): void {
    if (this.decided === undefined && nowTick >= this.deadlineTick) {
      this.decided = { kind: 'timeout', reason: `${this.summaries.size} of ${this.r} replies before the deadline` };
    }
  }

  /** Replicas whose full state read repair needs: all that answered, unless they all agree. */
  repairFetches(): NodeId[] {
    const digests = new Set([...this.summaries.values()].map((s) => s.digest));
    if (digests.size <= 1) return [];
    return [...this.summaries.keys()].filter((n) => !this.states.has(n));
  }

  /**
   * Read repair (Dynamo §4.4): the owners whose copy differs from the join of every state
   * fetched get the join. Stand-ins are left alone: they hold hints, not replicas.
   */
  repairs(): { node: NodeId; versions: VersionWire[] }[] {
    if (this.states.size < 2) return [];
    const joined = this.join([...this.states.values()]);
    const digest = joined.digest();
    const out: { node: NodeId; versions: VersionWire[] }[] = [];
    for (const t of this.targets) {
      const summary = this.summaries.get(t.node);
      if (summary === undefined || t.hintFor !== undefined || summary.digest === digest) continue;
      out.push({ node: t.node, versions: joined.toWire() });
    }
    return out;
  }

  private maybeDecideFromStates(): void {
    if (this.decided !== undefined || this.fetching === undefined) return;
    if (!this.fetching.every((n) => this.states.has(n))) return;
    if (this.fetching.length < this.r) {
      this.decided = { kind: 'timeout', reason: `only ${this.fetching.length} of ${this.r} replicas sent their state` };
      return;
    }
    const states = this.fetching.map((n) => this.states.get(n) as VersionWire[]);
    const joined = this.join(states);
    const decided: ReadDecision = {
      kind: 'ok',
      value: joined.value(),
      clock: joined.clock(),
      siblings: joined.siblingCount(),
      siblingsSeen: siblingsSeen(states),
      replies: states.length,
    };
    if (joined instanceof LwwObject && joined.register()?.keys !== undefined) decided.keys = joined.register()?.keys;
    this.decided = decided;
  }

  private join(states: readonly VersionWire[][]): VersionedObject {
    const out = objectFromWire(this.mode, [], this.siblingsMax);
    for (const versions of states) joinInto(out, objectFromWire(this.mode, versions, this.siblingsMax), this.siblingsMax);
    return out;
  }
}

/** Distinct concurrent versions across states, before they are resolved. */
function siblingsSeen(states: readonly VersionWire[][]): number {
  const clocks: VClock[] = [];
  for (const versions of states) {
    for (const v of versions) if (!clocks.some((c) => vclock.compare(c, v.c) === 'equal')) clocks.push(v.c);
  }
  return clocks.filter((c) => !clocks.some((other) => vclock.compare(c, other) === 'before')).length;
}
