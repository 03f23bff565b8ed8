import { assert, vclock } from '@playground/core';
import type { NodeId, RpcFailure, VClock } from '@playground/core';
import type { PutReply } from './messages.js';
import { objectFromWire } from './versioned.js';
import type { ResolveMode, VersionedObject, VersionWire } from './versioned.js';
import { joinInto } from './replica.js';

/**
 * The coordinator of one request (Dynamo §4.5), as pure state machines: they are told what
 * came back and what time it is (ticks), and answer what to send next and what to decide.
 * The driver does the sending and the waiting; the simulator can do the same.
 */

/** Where one copy of a request goes; `hintFor` names the owner a stand-in holds it for (§4.6). */
export interface Target {
  readonly node: NodeId;
  readonly hintFor?: NodeId;
}

/**
 * Chooses the targets of a request: the key's N preference-list nodes that are up and, with a
 * sloppy quorum, a stand-in from further along the ring for each one that is down. `spare` are
 * the remaining healthy stand-ins, for owners that fail during the request.
 */
export function planTargets(walk: readonly NodeId[], n: number, isUp: (node: NodeId) => boolean, sloppy: boolean): { targets: Target[]; spare: NodeId[] } {
  assert(n >= 1 && n <= walk.length, `n=${n} needs at least n nodes on the ring`);
  const spare = walk.slice(n).filter(isUp);
  const targets: Target[] = [];
  for (const owner of walk.slice(0, n)) {
    if (isUp(owner)) targets.push({ node: owner });
    else if (sloppy && spare.length > 0) targets.push({ node: spare.shift() as NodeId, hintFor: owner });
  }
  return { targets, spare };
}

/** Whether a failed copy may have been applied: only what was never sent, or was refused, surely was not. */
export function mayHaveApplied(failure: RpcFailure): boolean {
  switch (failure.kind) {
    case 'circuit_open':
    case 'overloaded':
      return false;
    case 'remote_error':
      // Our handlers validate before they change anything: a 4xx changed nothing.
      return failure.status >= 500;
    case 'timeout':
    case 'unreachable':
      return true;
  }
}

export type QuorumDecision =
  | { kind: 'ok'; acks: number }
  /** 503: surely not applied anywhere. */
  | { kind: 'unavailable'; acks: 0; reason: string }
  /** 504: the outcome is unknown, some replicas may hold it. */
  | { kind: 'timeout'; acks: number; reason: string };

type CopyState = 'pending' | 'acked' | 'not-applied' | 'unknown';

/**
 * One write: counts acknowledgements (each one a promise that the copy is on disk) until W,
 * and with a sloppy quorum replaces copies that fail by hinted copies on stand-ins.
 */
export class WriteRound {
  private readonly copies = new Map<NodeId, { target: Target; state: CopyState }>();
  private readonly spare: NodeId[];
  private decided: QuorumDecision | undefined;
  readonly replies: { node: NodeId; reply: Extract<PutReply, { status: 'stored' | 'duplicate' }>; hinted: boolean }[] = [];

  constructor(
    readonly w: number,
    targets: readonly Target[],
    spare: readonly NodeId[],
    private readonly sloppy: boolean,
    readonly deadlineTick: number,
  ) {
    assert(w >= 1, 'w >= 1');
    for (const t of targets) this.copies.set(t.node, { target: t, state: 'pending' });
    this.spare = [...spare];
    if (targets.length < w) {
      this.decided = { kind: 'unavailable', acks: 0, reason: `only ${targets.length} of the ${w} replicas needed are reachable` };
    }
  }

  /** What to send first. Nothing when the round was refused up front. */
  initialTargets(): Target[] {
    return this.decided === undefined ? [...this.copies.values()].map((c) => c.target) : [];
  }

  get decision(): QuorumDecision | undefined {
    return this.decided;
  }

  get acks(): number {
    return this.replies.length;
  }

  get hinted(): number {
    return this.replies.filter((r) => r.hinted).length;
  }

  /** All copies answered or failed: nothing more can change the outcome. */
  get settled(): boolean {
    return [...this.copies.values()].every((c) => c.state !== 'pending');
  }

  onReply(node: NodeId, reply: PutReply): Target[] {
    const copy = this.pendingCopy(node);
    if (copy === undefined) return [];
    if (reply.status === 'refused') {
      copy.state = 'not-applied';
      return this.replace(copy.target);
    }
    copy.state = 'acked';
    this.replies.push({ node, reply, hinted: copy.target.hintFor !== undefined });
    this.maybeDecide();
    return [];
  }

  onFailure(node: NodeId, failure: RpcFailure): Target[] {
    const copy = this.pendingCopy(node);
    if (copy === undefined) return [];
    copy.state = mayHaveApplied(failure) ? 'unknown' : 'not-applied';
    return this.replace(copy.target);
  }

  /** The deadline passed: whatever is still pending is unknown. */
  onTick(nowTick: number): void {
    if (this.decided !== undefined || nowTick < this.deadlineTick) return;
    const pending = [...this.copies.values()].filter((c) => c.state === 'pending').length;
    this.decided = this.failure(`${this.acks} of ${this.w} acknowledgements before the deadline, ${pending} replies outstanding`);
  }

  private pendingCopy(node: NodeId): { target: Target; state: CopyState } | undefined {
    const copy = this.copies.get(node);
    return copy?.state === 'pending' ? copy : undefined;
  }

  private replace(failed: Target): Target[] {
    const out: Target[] = [];
    if (this.sloppy && this.decided === undefined) {
      const node = this.spare.shift();
      if (node !== undefined) {
        const target: Target = { node, hintFor: failed.hintFor ?? failed.node };
        this.copies.set(node, { target, state: 'pending' });
        out.push(target);
      }
    }
    this.maybeDecide();
    return out;
  }

  private maybeDecide(): void {
    if (this.decided !== undefined) return;
    if (this.acks >= this.w) this.decided = { kind: 'ok', acks: this.acks };
    else if (this.settled) this.decided = this.failure(`${this.acks} of ${this.w} acknowledgements, no replica left to try`);
  }

  /** 503 only when no copy can have been applied; otherwise the honest answer is "unknown". */
  private failure(reason: string): QuorumDecision {
    const states = [...this.copies.values()].map((c) => c.state);
    const maybeApplied = this.acks > 0 || states.some((s) => s === 'unknown' || s === 'pending');
    return maybeApplied ? { kind: 'timeout', acks: this.acks, reason } : { kind: 'unavailable', acks: 0, reason };
  }
}

export type ReadDecision =
  | { kind: 'ok'; replies: number; object: VersionedObject; siblingsSeen: number }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'timeout'; reason: string };

/**
 * One read: waits for R replicas, answers their join (siblings merged by the resolve mode),
 * and afterwards names the replicas whose copy differs from the join, for read repair (§4.4).
 */
export class ReadRound {
  private readonly replies = new Map<NodeId, VersionWire[]>();
  private readonly failed = new Set<NodeId>();
  private decided: ReadDecision | undefined;
  private readonly targets: readonly Target[];

  constructor(
    readonly r: number,
    targets: readonly Target[],
    private readonly mode: ResolveMode,
    private readonly siblingsMax: number,
    readonly deadlineTick: number,
  ) {
    this.targets = targets;
    if (targets.length < r) this.decided = { kind: 'unavailable', reason: `only ${targets.length} of the ${r} replicas needed are reachable` };
  }

  initialTargets(): Target[] {
    return this.decided === undefined ? [...this.targets] : [];
  }

  get decision(): ReadDecision | undefined {
    return this.decided;
  }

  get settled(): boolean {
    return this.targets.every((t) => this.replies.has(t.node) || this.failed.has(t.node));
  }

  onReply(node: NodeId, versions: VersionWire[]): void {
    if (this.replies.has(node) || this.failed.has(node)) return;
    this.replies.set(node, versions);
    if (this.decided === undefined && this.replies.size >= this.r) {
      this.decided = { kind: 'ok', replies: this.replies.size, object: this.joined(), siblingsSeen: this.siblingsSeen() };
    }
  }

  onFailure(node: NodeId): void {
    if (this.replies.has(node)) return;
    this.failed.add(node);
    if (this.decided === undefined && this.targets.length - this.failed.size < this.r) {
      this.decided = { kind: 'timeout', reason: `${this.failed.size} of ${this.targets.length} replicas failed to answer` };
    }
  }

  onTick(nowTick: number): void {
    if (this.decided === undefined && nowTick >= this.deadlineTick) {
      this.decided = { kind: 'timeout', reason: `${this.replies.size} of ${this.r} replies before the deadline` };
    }
  }

  /** The join of every reply so far. */
  joined(): VersionedObject {
    const out = objectFromWire(this.mode, [], this.siblingsMax);
    for (const versions of this.replies.values()) joinInto(out, objectFromWire(this.mode, versions, this.siblingsMax), this.siblingsMax);
    return out;
  }

  /**
   * Read repair (Dynamo §4.4): the owners that answered with a copy other than the join of all
   * answers get the join. Stand-ins are left alone: they hold hints, not replicas.
   */
  repairs(): { node: NodeId; versions: VersionWire[] }[] {
    if (this.replies.size < 2) return [];
    const joined = this.joined();
    const digest = joined.digest();
    const out: { node: NodeId; versions: VersionWire[] }[] = [];
    for (const t of this.targets) {
      const versions = this.replies.get(t.node);
      if (versions === undefined || t.hintFor !== undefined) continue;
      if (objectFromWire(this.mode, versions, this.siblingsMax).digest() !== digest) out.push({ node: t.node, versions: joined.toWire() });
    }
    return out;
  }

  /** Distinct concurrent versions across the replies, before they are resolved. */
  private siblingsSeen(): number {
    const clocks: VClock[] = [];
    for (const versions of this.replies.values()) {
      for (const v of versions) if (!clocks.some((c) => vclock.compare(c, v.c) === 'equal')) clocks.push(v.c);
    }
    return clocks.filter((c) => !clocks.some((other) => vclock.compare(c, other) === 'before')).length;
  }
}

/**
 * The clock of a new version this coordinator writes (Dynamo §4.4): the context the client
 * read (if any) joined with what this node holds locally, advanced at this node's entry.
 */
export function nextClock(self: NodeId, context: VClock, local: VClock): VClock {
  return vclock.increment(vclock.merge(context, local), self);
}
