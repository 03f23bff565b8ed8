import { assert, err, ok } from '@playground/core';
import type { NodeId, Result } from '@playground/core';
import { quorumOf, validateConfig } from './config.js';
import type { RaftConfig, RaftRestoreState } from './config.js';
import { receiveAppend, receiveHeartbeat } from './follower.js';
import { RaftLog } from './log.js';
import type { ProgressView } from './progress.js';
import type { NotLeader, RaftStatus, ReadIndexError } from './status.js';
import { ReadIndexQueue } from './read-index.js';
import { Replication } from './replication.js';
import type {
  Command,
  Entry,
  HardState,
  Message,
  ReadState,
  Ready,
  Role,
  SoftState,
  VoteRequest,
  VoteResponse,
} from './types.js';

/**
 * The pure Raft core (sans-I/O, etcd-io/raft style). The driver feeds it ticks, peer messages
 * and proposals, and drains Readys: persist hardState + entries, then send messages, then apply
 * committed entries, then serve read states once applied, then advance(). Readys are handled
 * strictly one after the other. Nothing here reads a clock, draws Math.random or does I/O.
 */
export class RaftCore {
  readonly id: NodeId;
  private readonly config: RaftConfig;
  private readonly peerSet: ReadonlySet<NodeId>;
  private readonly followers: readonly NodeId[];
  private readonly quorum: number;
  private readonly log: RaftLog;

  private currentTerm: number;
  private vote: NodeId | null;
  private currentRole: Role = 'follower';
  private currentLeader: NodeId | null = null;

  /** Ticks since the last reset: heard from the leader, granted a vote, or a CheckQuorum round. */
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private electionTimeoutTicks = 0;
  /** Votes received in the current (pre-)campaign: voter -> granted. */
  private readonly votes = new Map<NodeId, boolean>();
  /** Leader only. */
  private replication: Replication | null = null;
  private reads: ReadIndexQueue | null = null;

  private messages: Message[] = [];
  private readStates: ReadState[] = [];
  private handedSoftState: SoftState;
  private handedHardState: HardState;
  /** The last committed index handed to the driver to apply, and the last it reported applied. */
  private handedCommitted: number;
  private applied: number;

  constructor(config: RaftConfig, restored: RaftRestoreState) {
    validateConfig(config);
    this.id = config.id;
    this.config = config;
    this.peerSet = new Set(config.peers);
    this.followers = config.peers.filter((p) => p !== config.id);
    this.quorum = quorumOf(config.peers.length);
    const { hardState } = restored;
    this.log = new RaftLog(restored.entries, hardState.commit);
    assert(hardState.term >= this.log.lastTerm, () => `restored term ${hardState.term} is older than the log's last term ${this.log.lastTerm}`);
    this.currentTerm = hardState.term;
    this.vote = hardState.vote;
    this.applied = restored.appliedIndex ?? 0;
    assert(this.applied <= hardState.commit, () => `restored applied index ${this.applied} is beyond commit ${hardState.commit}`);
    this.handedCommitted = this.applied;
    this.handedSoftState = { role: 'follower', leader: null };
    this.handedHardState = { ...hardState };
    this.resetElectionTimeout();
  }

  // ---- inspection ----

  get term(): number {
    return this.currentTerm;
  }
  get role(): Role {
    return this.currentRole;
  }
  get leader(): NodeId | null {
    return this.currentLeader;
  }
  get commitIndex(): number {
    return this.log.commitIndex;
  }
  get lastIndex(): number {
    return this.log.lastIndex;
  }
  get appliedIndex(): number {
    return this.applied;
  }
  entryAt(index: number): Entry | undefined {
    return this.log.entryAt(index);
  }
  termAt(index: number): number | undefined {
    return this.log.termAt(index);
  }

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.currentRole,
      term: this.currentTerm,
      vote: this.vote,
      leader: this.currentLeader,
      commitIndex: this.log.commitIndex,
      appliedIndex: this.applied,
      persistedIndex: this.log.persistedIndex,
      lastIndex: this.log.lastIndex,
      lastTerm: this.log.lastTerm,
      pendingReads: this.reads?.size ?? 0,
      progress: this.replication === null ? null : { ...this.replication.views(), [this.id]: this.selfProgress() },
    };
  }

  /** The leader's own row: it matches through what its driver has persisted. */
  private selfProgress(): ProgressView {
    const match = this.log.persistedIndex;
    return { match, next: this.log.lastIndex + 1, state: 'replicate', inflight: 0, recentActive: true };
  }

  // ---- inputs ----

  tick(): void {
    if (this.currentRole === 'leader') this.tickLeader();
    else this.tickElection();
  }

  /** Starts an election now, as if the election timer had fired (tests, leadership hand-off). */
  campaign(): void {
    if (this.currentRole === 'leader') return;
    if (this.config.preVote) this.becomePreCandidate();
    else this.becomeCandidate();
  }

  propose(command: Command): Result<{ index: number; term: number }, NotLeader> {
    if (this.currentRole !== 'leader') return err(this.notLeader());
    const index = this.log.lastIndex + 1;
    this.log.append({ term: this.currentTerm, index, command });
    return ok({ index, term: this.currentTerm });
  }

  /** Appends several commands as consecutive entries (one batch for the disk and the wire). */
  proposeBatch(commands: readonly Command[]): Result<{ firstIndex: number; lastIndex: number; term: number }, NotLeader> {
    if (this.currentRole !== 'leader') return err(this.notLeader());
    const firstIndex = this.log.lastIndex + 1;
    for (const command of commands) this.log.append({ term: this.currentTerm, index: this.log.lastIndex + 1, command });
    return ok({ firstIndex, lastIndex: this.log.lastIndex, term: this.currentTerm });
  }

  /**
   * ReadIndex (dissertation §6.4): record commitIndex for `context` and confirm leadership with
   * a quorum of heartbeat answers; Ready.readStates then carries {context, index}. The read is
   * linearizable once the state machine has applied `index`. A leader that has not committed an
   * entry of its own term yet does not know the true commit index: not_ready (retry shortly).
   * Contexts must be unique among pending reads.
   */
  readIndex(context: string): Result<void, ReadIndexError> {
    if (this.currentRole !== 'leader' || this.reads === null || this.replication === null) {
      return err(this.notLeader());
    }
    if (this.log.termAt(this.log.commitIndex) !== this.currentTerm) return err({ kind: 'not_ready' });
    if (this.quorum === 1) {
      this.readStates.push({ context, index: this.log.commitIndex });
      return ok(undefined);
    }
    if (this.reads.full) return err({ kind: 'overloaded' });
    this.reads.add(context, this.log.commitIndex);
    this.replication.requestHeartbeat();
    return ok(undefined);
  }

  step(m: Message): void {
    // Not for us, or not from a member, or no sane term: ignore (the wire layer validates the rest).
    if (m.to !== this.id || m.from === this.id || !this.peerSet.has(m.from)) return;
    if (!Number.isSafeInteger(m.term) || m.term < 0) return;
    if (m.term > this.currentTerm) {
      if ((m.type === 'vote' || m.type === 'prevote') && this.inLease()) return;
      if (m.type === 'prevote' || (m.type === 'prevote_resp' && m.granted)) {
        // A pre-vote is about a future term: answering or winning one changes no term (§9.6).
      } else {
        this.becomeFollower(m.term, m.type === 'app' || m.type === 'hb' ? m.from : null);
      }
    } else if (m.term < this.currentTerm) {
      this.answerStale(m);
      return;
    }
    switch (m.type) {
      case 'vote':
      case 'prevote':
        this.handleVoteRequest(m);
        return;
      case 'vote_resp':
      case 'prevote_resp':
        this.handleVoteResponse(m);
        return;
      case 'app':
      case 'hb':
        assert(this.currentRole !== 'leader', () => `two leaders in term ${m.term}: ${this.id} and ${m.from}`);
        if (this.currentRole !== 'follower') this.becomeFollower(this.currentTerm, m.from);
        this.currentLeader = m.from;
        this.electionElapsed = 0;
        if (m.type === 'app') {
          const answer = receiveAppend(this.log, m, this.currentTerm);
          if (answer !== null) this.send(answer);
        } else {
          this.send(receiveHeartbeat(this.log, m, this.currentTerm));
        }
        return;
      case 'app_resp':
        if (this.replication === null) return;
        if (this.replication.onAppendResponse(m, this.log)) this.maybeCommit();
        return;
      case 'hb_resp':
        if (this.replication === null || this.reads === null) return;
        this.replication.onHeartbeatResponse(m.from);
        if (m.context !== null) this.readStates.push(...this.reads.confirm(m.context, m.from));
        return;
    }
  }

  // ---- output ----

  hasReady(): boolean {
    this.flush();
    return (
      this.messages.length > 0 ||
      this.log.hasUnstable() ||
      this.log.commitIndex > this.handedCommitted ||
      this.readStates.length > 0 ||
      this.softStateChanged() ||
      this.hardStateChanged()
    );
  }

  ready(): Ready {
    this.flush();
    const softState = this.softStateChanged() ? { role: this.currentRole, leader: this.currentLeader } : null;
    const hardState = this.hardStateChanged() ? this.hardState() : null;
    if (softState !== null) this.handedSoftState = softState;
    if (hardState !== null) this.handedHardState = hardState;
    const committed = this.log.slice(this.handedCommitted + 1, this.log.commitIndex);
    this.handedCommitted = this.log.commitIndex;
    const ready: Ready = {
      softState,
      hardState,
      entries: this.log.takeUnstable(),
      messages: this.messages,
      committed,
      readStates: this.readStates,
    };
    this.messages = [];
    this.readStates = [];
    return ready;
  }

  /** The driver has persisted `ready` (fsync), sent its messages and applied its committed entries. */
  advance(ready: Ready): void {
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) this.log.persistedThrough(lastEntry);
    const lastApplied = ready.committed[ready.committed.length - 1];
    if (lastApplied !== undefined && lastApplied.index > this.applied) this.applied = lastApplied.index;
    // The leader's own vote in the commit count is its durable log (§10.2.1).
    if (this.currentRole === 'leader') this.maybeCommit();
  }

  // ---- roles ----

  private becomeFollower(term: number, leader: NodeId | null): void {
    if (term !== this.currentTerm) {
      assert(term > this.currentTerm, () => `term must not go back: ${this.currentTerm} -> ${term}`);
      this.currentTerm = term;
      this.vote = null;
    }
    this.currentRole = 'follower';
    this.currentLeader = leader;
    this.leaveLeadership();
  }

  private becomePreCandidate(): void {
    this.currentRole = 'pre-candidate';
    this.currentLeader = null;
    this.leaveLeadership();
    this.startPoll('prevote', this.currentTerm + 1);
  }

  private becomeCandidate(): void {
    this.currentTerm += 1;
    this.vote = this.id;
    this.currentRole = 'candidate';
    this.currentLeader = null;
    this.leaveLeadership();
    this.startPoll('vote', this.currentTerm);
  }

  private becomeLeader(): void {
    assert(this.currentRole === 'candidate', () => `${this.id} became leader from ${this.currentRole}`);
    this.currentRole = 'leader';
    this.currentLeader = this.id;
    this.resetTimers();
    this.replication = new Replication(this.id, this.followers, this.log.lastIndex + 1, this.config);
    this.reads = new ReadIndexQueue(this.id, this.quorum, this.config.maxPendingReads);
    // Figure 8 / §5.4.2: entries of earlier terms commit only under an entry of this term.
    this.log.append({ term: this.currentTerm, index: this.log.lastIndex + 1, command: null });
  }

  /** Common to every non-leader role: drop leader state, reset the timers and the poll. */
  private leaveLeadership(): void {
    this.replication = null;
    this.reads = null;
    this.votes.clear();
    this.resetTimers();
  }

  private resetTimers(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetElectionTimeout();
  }

  private resetElectionTimeout(): void {
    const { electionTimeoutMinTicks: min, electionTimeoutMaxTicks: max } = this.config;
    this.electionTimeoutTicks = this.config.rng.int(min, max - 1);
  }

  // ---- elections (§5.2, §5.4.1, §9.6) ----

  private tickElection(): void {
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeoutTicks) this.campaign();
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    const replication = this.replication as Replication;
    if (this.electionElapsed >= this.config.electionTimeoutMinTicks) {
      this.electionElapsed = 0;
      // CheckQuorum (§6.2): a leader cut off from a quorum steps down rather than lingering.
      if (this.config.checkQuorum && !replication.quorumActive(this.quorum)) {
        this.becomeFollower(this.currentTerm, null);
        return;
      }
      replication.resetActivity();
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      replication.broadcastHeartbeat(this.log, this.currentTerm, this.reads?.lastContext() ?? null, this.send);
    }
    replication.sendCommitUpdates(this.log, this.currentTerm, this.send);
  }

  private startPoll(type: 'vote' | 'prevote', term: number): void {
    this.votes.set(this.id, true);
    if (this.tallyVotes()) return;
    for (const to of this.followers) {
      this.send({ type, from: this.id, to, term, lastLogIndex: this.log.lastIndex, lastLogTerm: this.log.lastTerm });
    }
  }

  /** Counts the poll; moves on when it is won or lost. Returns true if the role changed. */
  private tallyVotes(): boolean {
    let granted = 0;
    let rejected = 0;
    for (const g of this.votes.values()) g ? granted++ : rejected++;
    if (granted >= this.quorum) {
      if (this.currentRole === 'pre-candidate') this.becomeCandidate();
      else this.becomeLeader();
      return true;
    }
    if (rejected >= this.quorum) {
      this.becomeFollower(this.currentTerm, null);
      return true;
    }
    return false;
  }

  /**
   * etcd's "in lease" rule: a node that heard from a live leader within the minimum election
   * timeout ignores (pre-)votes for a higher term, so a node rejoining from a partition cannot
   * depose a healthy leader (dissertation §4.2.3, §9.6).
   */
  private inLease(): boolean {
    return this.config.checkQuorum && this.currentLeader !== null && this.electionElapsed < this.config.electionTimeoutMinTicks;
  }

  private handleVoteRequest(m: VoteRequest): void {
    const preVote = m.type === 'prevote';
    // At most one vote per term (§5.2); a pre-vote binds nothing, so any future term may ask.
    const canVote =
      this.vote === m.from || (this.vote === null && this.currentLeader === null) || (preVote && m.term > this.currentTerm);
    // §5.4.1: only a candidate whose log is at least as up to date as ours.
    const upToDate =
      m.lastLogTerm > this.log.lastTerm || (m.lastLogTerm === this.log.lastTerm && m.lastLogIndex >= this.log.lastIndex);
    // §9.6: no pre-vote while a leader was heard from within the election timeout.
    const leaderAlive = preVote && this.currentLeader !== null && this.electionElapsed < this.config.electionTimeoutMinTicks;
    const type = preVote ? 'prevote_resp' : 'vote_resp';
    if (canVote && upToDate && !leaderAlive) {
      if (!preVote) {
        this.vote = m.from; // persisted in this Ready's hardState before the answer leaves
        this.electionElapsed = 0;
      }
      this.send({ type, from: this.id, to: m.from, term: m.term, granted: true });
    } else {
      this.send({ type, from: this.id, to: m.from, term: this.currentTerm, granted: false });
    }
  }

  private handleVoteResponse(m: VoteResponse): void {
    const polling =
      (this.currentRole === 'candidate' && m.type === 'vote_resp') ||
      (this.currentRole === 'pre-candidate' && m.type === 'prevote_resp');
    if (!polling) return;
    this.votes.set(m.from, m.granted);
    this.tallyVotes();
  }

  /**
   * A message from an older term. A stale leader's append or heartbeat gets an answer in our
   * term so that it steps down: with CheckQuorum or Pre-Vote this node may never win an election
   * in the higher term it reached while partitioned, and this answer is what un-wedges it.
   * A stale pre-vote is refused so that its sender learns our term.
   */
  private answerStale(m: Message): void {
    if ((m.type === 'app' || m.type === 'hb') && (this.config.checkQuorum || this.config.preVote)) {
      this.send({ type: 'hb_resp', from: this.id, to: m.from, term: this.currentTerm, context: null });
    } else if (m.type === 'prevote') {
      this.send({ type: 'prevote_resp', from: this.id, to: m.from, term: this.currentTerm, granted: false });
    }
  }

  // ---- leader ----

  /** §5.4.2: advance commitIndex to the quorum's durable match, only for an entry of this term. */
  private maybeCommit(): void {
    const replication = this.replication as Replication;
    const candidate = replication.quorumMatch(this.log.persistedIndex, this.quorum);
    if (candidate > this.log.commitIndex && this.log.termAt(candidate) === this.currentTerm) {
      this.log.commitTo(candidate);
    }
  }

  private flush(): void {
    if (this.replication === null) return;
    this.replication.flush(this.log, this.currentTerm, this.reads?.lastContext() ?? null, this.send);
  }

  private readonly send = (m: Message): void => {
    this.messages.push(m);
  };

  private notLeader(): NotLeader {
    return { kind: 'not_leader', leader: this.currentLeader === this.id ? null : this.currentLeader };
  }

  private hardState(): HardState {
    return { term: this.currentTerm, vote: this.vote, commit: this.log.commitIndex };
  }

  private hardStateChanged(): boolean {
    const h = this.handedHardState;
    return h.term !== this.currentTerm || h.vote !== this.vote || h.commit !== this.log.commitIndex;
  }

  private softStateChanged(): boolean {
    const s = this.handedSoftState;
    return s.role !== this.currentRole || s.leader !== this.currentLeader;
  }
}
