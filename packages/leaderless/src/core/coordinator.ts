import { assert, vclock } from '@playground/core';
import type { NodeId, RpcFailure, VClock } from '@playground/core';
import { REFUSAL_MEANING } from './messages.js';
import type { PutReply, RefusalReason } from './messages.js';

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
 * Chooses the targets of a request: the key's N preference-list nodes and, with a sloppy
 * quorum, a stand-in from further along the ring in place of each one that is down. Without a
 * sloppy quorum a suspected owner is still tried (suspicion may be wrong; a copy there costs
 * nothing) but does not count as `reachable`. `spare` are the remaining healthy stand-ins, for
 * owners that fail during the request.
 */
export function planTargets(
  walk: readonly NodeId[],
  n: number,
  isUp: (node: NodeId) => boolean,
  sloppy: boolean,
): { targets: Target[]; reachable: number; spare: NodeId[] } {
  assert(n >= 1 && n <= walk.length, `n=${n} needs at least n nodes on the ring`);
  const spare = walk.slice(n).filter(isUp);
  const targets: Target[] = [];
  let reachable = 0;
  for (const owner of walk.slice(0, n)) {
    if (isUp(owner)) {
      targets.push({ node: owner });
      reachable++;
    } else if (sloppy && spare.length > 0) {
      targets.push({ node: spare.shift() as NodeId, hintFor: owner });
      reachable++;
    } else if (!sloppy) {
      targets.push({ node: owner });
    }
  }
  return { targets, reachable, spare };
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
  /** Replicas that refused their copy, and why (a bound): what a 503 must explain. */
  private readonly refusals = new Map<NodeId, RefusalReason>();
  private decided: QuorumDecision | undefined;
  readonly replies: { node: NodeId; reply: Extract<PutReply, { status: 'stored' | 'duplicate' }>; hinted: boolean }[] = [];

  constructor(
    readonly w: number,
    plan: { readonly targets: readonly Target[]; readonly reachable: number; readonly spare: readonly NodeId[] },
    private readonly sloppy: boolean,
    readonly deadlineTick: number,
  ) {
    assert(w >= 1, 'w >= 1');
    for (const t of plan.targets) this.copies.set(t.node, { target: t, state: 'pending' });
    this.spare = [...plan.spare];
    if (plan.reachable < w) {
      // Refused before anything is sent: the one quorum failure that is surely not applied.
      this.decided = { kind: 'unavailable', acks: 0, reason: `only ${plan.reachable} of the ${w} replicas needed are reachable` };
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
      this.refusals.set(node, reply.reason);
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
    else if (this.settled) this.decided = this.failure(`${this.acks} of ${this.w} acknowledgements, no replica left to try${this.refusalText()}`);
  }

  /** "; n1, n2 refused: <what the bound means>" per reason, or nothing. */
  private refusalText(): string {
    const byReason = new Map<RefusalReason, NodeId[]>();
    for (const [node, reason] of this.refusals) byReason.set(reason, [...(byReason.get(reason) ?? []), node]);
    return [...byReason].map(([reason, nodes]) => `; ${nodes.join(', ')} refused: ${REFUSAL_MEANING[reason]}`).join('');
  }

  /** 503 only when no copy can have been applied; otherwise the honest answer is "unknown". */
  private failure(reason: string): QuorumDecision {
    const states = [...this.copies.values()].map((c) => c.state);
    const maybeApplied = this.acks > 0 || states.some((s) => s === 'unknown' || s === 'pending');
    return maybeApplied ? { kind: 'timeout', acks: this.acks, reason } : { kind: 'unavailable', acks: 0, reason };
  }
}

/**
 * The clock of a new version this coordinator writes (Dynamo §4.4): the context the client
 * read (if any) joined with what this node holds locally, advanced at this node's entry.
 */
export function nextClock(self: NodeId, context: VClock, local: VClock): VClock {
  return vclock.increment(vclock.merge(context, local), self);
}
