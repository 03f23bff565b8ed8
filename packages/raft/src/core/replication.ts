import { assert } from '@playground/core';
import type { NodeId } from '@playground/core';
import type { RaftLog } from './log.js';
import { Progress } from './progress.js';
import type { ProgressView } from './progress.js';
import type { AppendResponse, Message } from './types.js';

export interface ReplicationLimits {
  readonly maxInflightAppends: number;
  readonly maxEntriesPerAppend: number;
}

/**
 * The leader's half of log replication (Raft §5.3): one Progress per follower, appends
 * batched and pipelined, fast backup on rejection, and the commit rule of §5.4.2.
 *
 * Sending is deferred to flush(), called when the driver asks for a Ready: every proposal,
 * acknowledgement and commit advance between two Readys then costs at most one batch per
 * follower instead of one message each.
 */
export class Replication {
  private readonly progress = new Map<NodeId, Progress>();
  /** commitIndex moved: followers not otherwise sent anything this round get a commit update. */
  private commitAdvanced = false;
  /** A ReadIndex request arrived: send a heartbeat with its context at once (§6.4). */
  private heartbeatRequested = false;

  constructor(
    private readonly self: NodeId,
    followers: readonly NodeId[],
    nextIndex: number,
    private readonly limits: ReplicationLimits,
  ) {
    for (const id of followers) this.progress.set(id, new Progress(nextIndex, limits.maxInflightAppends));
  }

  noteCommitAdvanced(): void {
    this.commitAdvanced = true;
  }

  requestHeartbeat(): void {
    this.heartbeatRequested = true;
  }

  flush(log: RaftLog, term: number, readContext: string | null, send: (m: Message) => void): void {
    for (const [id, pr] of this.progress) {
      let sentAppend = false;
      if (pr.state === 'probe') {
        if (!pr.probeSent) {
          this.sendAppend(id, pr, log, term, send);
          sentAppend = true;
        }
      } else {
        while (!pr.paused && pr.next <= log.lastIndex) {
          this.sendAppend(id, pr, log, term, send);
          sentAppend = true;
        }
        // All sent, yet the follower lags: re-probe at next - 1; a rejection sends it back to probe.
        if (!sentAppend && pr.resendRequested && !pr.paused && pr.match < log.lastIndex) {
          this.sendAppend(id, pr, log, term, send);
          sentAppend = true;
        }
      }
      pr.resendRequested = false;
      if (this.heartbeatRequested) {
        this.sendHeartbeat(id, pr, log, term, readContext, send);
      } else if (this.commitAdvanced && !sentAppend && pr.state === 'replicate') {
        this.sendCommitUpdate(id, pr, log, term, send);
      }
    }
    this.commitAdvanced = false;
    this.heartbeatRequested = false;
  }

  broadcastHeartbeat(log: RaftLog, term: number, readContext: string | null, send: (m: Message) => void): void {
    for (const [id, pr] of this.progress) this.sendHeartbeat(id, pr, log, term, readContext, send);
  }

  /**
   * An AppendEntries answer. Returns true when the follower's match moved (the caller then
   * tries to advance commitIndex). Stale answers (reordered, duplicated) change nothing.
   */
  onAppendResponse(m: AppendResponse, log: RaftLog): boolean {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return false;
    pr.recentActive = true;
    if (m.reject) {
      const stale = pr.state === 'replicate' ? m.index <= pr.match : m.index !== pr.next - 1;
      if (!stale) pr.becomeProbe(this.nextAfterReject(m, pr, log));
      return false;
    }
    assert(m.index <= log.lastIndex, () => `${m.from} acknowledged ${m.index} beyond the leader's last index ${log.lastIndex}`);
    const moved = pr.onAccepted(m.index);
    if (pr.state === 'probe' && m.index >= pr.match) pr.becomeReplicate();
    return moved;
  }

  onHeartbeatResponse(from: NodeId): void {
    this.progress.get(from)?.onHeartbeatResponse();
  }

  /**
   * Fast backup (Raft §5.3, last paragraphs): skip a whole conflicting term per round trip.
   * If the follower's log is too short, resume at its end. If the leader has entries of the
   * follower's conflicting term, the logs may agree up to the leader's last entry of that term;
   * otherwise the whole term is foreign and the leader resumes where the follower's term began.
   * Always strictly below the rejected prevIndex, and above what is known to match.
   */
  private nextAfterReject(m: AppendResponse, pr: Progress, log: RaftLog): number {
    let next = m.hintIndex;
    if (m.hintTerm > 0) {
      const leaderLast = log.lastIndexOfTerm(m.hintTerm);
      if (leaderLast > 0) next = leaderLast + 1;
    }
    return Math.max(pr.match + 1, Math.min(next, m.index));
  }

  /** CheckQuorum (dissertation §6.2): did a quorum, this leader included, answer since the last round? */
  quorumActive(quorum: number): boolean {
    let active = 1;
    for (const pr of this.progress.values()) if (pr.recentActive) active++;
    return active >= quorum;
  }

  resetActivity(): void {
    for (const pr of this.progress.values()) pr.recentActive = false;
  }

  /**
   * The highest index durable on a quorum. The leader counts itself only through what its own
   * driver has persisted (`ownPersisted`), never through what it merely proposed.
   */
  quorumMatch(ownPersisted: number, quorum: number): number {
    const matches = [ownPersisted];
    for (const pr of this.progress.values()) matches.push(pr.match);
    matches.sort((a, b) => b - a);
    return matches[quorum - 1] as number;
  }

  views(): Record<NodeId, ProgressView> {
    const out: Record<NodeId, ProgressView> = {};
    for (const [id, pr] of this.progress) out[id] = pr.view();
    return out;
  }

  private sendAppend(to: NodeId, pr: Progress, log: RaftLog, term: number, send: (m: Message) => void): void {
    const prevIndex = pr.next - 1;
    const prevTerm = log.termAt(prevIndex);
    assert(prevTerm !== undefined, () => `next index ${pr.next} for ${to} is beyond the leader's log`);
    const last = Math.min(log.lastIndex, prevIndex + this.limits.maxEntriesPerAppend);
    const entries = last > prevIndex ? log.slice(pr.next, last) : [];
    send({ type: 'app', from: this.self, to, term, prevIndex, prevTerm, entries, commit: log.commitIndex });
    pr.onSent(last, entries.length);
  }

  /**
   * Tells a follower the new commitIndex without waiting for the next heartbeat: an empty
   * append anchored at its match, which it surely holds, so it cannot be rejected and does not
   * disturb the pipeline (an answer at match is a no-op for the leader).
   */
  private sendCommitUpdate(to: NodeId, pr: Progress, log: RaftLog, term: number, send: (m: Message) => void): void {
    const prevTerm = log.termAt(pr.match) as number;
    send({ type: 'app', from: this.self, to, term, prevIndex: pr.match, prevTerm, entries: [], commit: log.commitIndex });
  }

  private sendHeartbeat(
    to: NodeId,
    pr: Progress,
    log: RaftLog,
    term: number,
    context: string | null,
    send: (m: Message) => void,
  ): void {
    // Never tell a follower to commit past what it is known to hold (etcd: min(commit, match)).
    const commit = Math.min(log.commitIndex, pr.match);
    send({ type: 'hb', from: this.self, to, term, commit, context });
  }
}
