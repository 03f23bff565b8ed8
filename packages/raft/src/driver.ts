/**
 * The Raft driver: the small, impure shell around the pure core (etcd-io/raft's "node" loop).
 *
 * One loop turns the core's Ready into I/O, always in this order:
 *   1. persist hard state and entries as ONE atomic record with ONE fsync (group commit: everything
 *      proposed while the previous fsync ran goes into the next one);
 *   2. only then send messages (a vote or an append acknowledgement is a promise about disk),
 *      except a leader's appends and heartbeats, which go out while it persists (§10.2.1);
 *   3. apply committed entries to the counter state machine and answer waiting clients;
 *   4. serve linearizable reads whose read index has been applied;
 *   5. advance().
 * Timers tick the core; peer messages and client requests step it and wake the loop.
 *
 * A peer's batch of messages is answered when the Ready cycle it caused is done: what this node
 * says back to that peer in step 2 (an append acknowledged once durable, a vote once recorded)
 * rides on the HTTP reply instead of a request of its own. One exchange per round trip halves
 * the HTTP requests replication costs, and every wake-up of a process is dear on 2 vCPUs.
 */
import { join } from 'node:path';
import {
  BadRequestError,
  Rng,
  reply,
  type ClientReply,
  type CountRequest,
  type IncrRequest,
  type NodeId,
  type Result,
  type RpcFailure,
  type TopologyContext,
  type TopologyNode,
} from '@playground/core';
import { RaftCore } from './core/index.js';
import type { Command, Entry, Message, Ready } from './core/types.js';
import { RaftMetrics } from './metrics.js';
import { PeerSender } from './peer-sender.js';
import { ReadQueue } from './reads.js';
import { CounterStateMachine, type ApplyResult } from './statemachine.js';
import { RaftLogFile } from './storage/index.js';
import { parseMessages } from './wire.js';
import { parseForwardIncr, type ForwardIncr, type ForwardReply } from './forward.js';

export interface RaftKnobs {
  readonly tickMs: number;
  readonly electionMinMs: number;
  readonly electionMaxMs: number;
  readonly heartbeatMs: number;
  readonly fsync: boolean;
  readonly maxInflightAppends: number;
  readonly maxBatch: number;
  readonly requestTimeoutMs: number;
  readonly raftRpcTimeoutMs: number;
  readonly forwardTimeoutMs: number;
  readonly dedupMaxEntries: number;
  readonly dedupTtlMs: number;
  readonly maxPendingProposals: number;
  /** The log's bound (no snapshots in v1: every entry stays in memory and on disk); a full log refuses proposals. */
  readonly maxLogEntries: number;
  readonly seed: number;
}

/** callLeader: how long an open breaker to the leader is waited out (two 250 ms breaker resets), and the first pause. */
const CIRCUIT_WAIT_MS = 500;
const CIRCUIT_RETRY_MIN_MS = 20;

/** A peer request waiting for the Ready cycle that its messages caused. */
interface ReplyWaiter {
  readonly from: NodeId;
  /** Done once this many Ready cycles have been handled. */
  readonly cycle: number;
  readonly resolve: () => void;
}

interface PendingProposal {
  readonly term: number;
  readonly resolve: (outcome: ApplyResult | 'overwritten') => void;
}

export class RaftNode implements TopologyNode {
  private core!: RaftCore;
  private log!: RaftLogFile;
  private readonly sm: CounterStateMachine;
  private readonly senders = new Map<NodeId, PeerSender>();
  private readonly pending = new Map<number, PendingProposal>();
  private readonly reads: ReadQueue;
  private readonly metrics: RaftMetrics;
  private readonly leaderWaiters = new Set<() => void>();
  private ticker: NodeJS.Timeout | undefined;
  private loopRunning = false;
  private loopAgain = false;
  private loopScheduled = false;
  private stopped = false;
  private lastLeader: NodeId | null = null;
  private lastRole = 'follower';
  private fatal: Error | null = null;
  private readiesTaken = 0;
  private readiesDone = 0;
  private replyWaiters: ReplyWaiter[] = [];
  /** Messages to peers whose requests are waiting: sent back on those replies. */
  private readonly replyBox = new Map<NodeId, Message[]>();
  /** Jitter for the waits of callLeader (never the core's RNG: that one drives elections). */
  private readonly jitter = new Rng(seedFrom('jitter', process.hrtime.bigint()));

  constructor(
    private readonly ctx: TopologyContext,
    private readonly knobs: RaftKnobs,
  ) {
    this.sm = new CounterStateMachine({ dedupMaxEntries: knobs.dedupMaxEntries, dedupTtlMs: knobs.dedupTtlMs });
    this.metrics = new RaftMetrics(ctx.metrics);
    this.reads = new ReadQueue({
      readIndex: (context) => this.core.readIndex(context),
      appliedIndex: () => this.sm.appliedIndex,
      wake: () => this.schedule(),
    });
  }

  async start(): Promise<void> {
    const opened = await RaftLogFile.open(join(this.ctx.dataDir, 'raft'), { fsync: this.knobs.fsync });
    this.log = opened.log;
    if (opened.recovered.truncatedTailBytes > 0) {
      this.ctx.log.warn('log had a torn tail (a write cut short by a crash); truncated it', {
        bytes: opened.recovered.truncatedTailBytes,
      });
    }
    const { hardState, entries } = opened.state;
    const tick = this.knobs.tickMs;
    this.core = new RaftCore(
      {
        id: this.ctx.id,
        peers: this.ctx.peers.map((p) => p.id),
        electionTimeoutMinTicks: Math.max(2, Math.round(this.knobs.electionMinMs / tick)),
        electionTimeoutMaxTicks: Math.max(3, Math.round(this.knobs.electionMaxMs / tick)),
        heartbeatTicks: Math.max(1, Math.round(this.knobs.heartbeatMs / tick)),
        // Seeded from the node id and the clock: nodes must NOT share a seed, or their election
        // timeouts would collide every term (the split votes of Raft §9.3, Figure 16).
        rng: new Rng(this.knobs.seed || seedFrom(this.ctx.id, process.hrtime.bigint())),
        preVote: true,
        checkQuorum: true,
        maxInflightAppends: this.knobs.maxInflightAppends,
        maxEntriesPerAppend: this.knobs.maxBatch,
        maxPendingReads: 10_000,
      },
      { hardState, entries },
    );
    this.ctx.log.info('recovered Raft state', { term: hardState.term, vote: hardState.vote, commit: hardState.commit, lastIndex: entries.length });
    for (const peer of this.ctx.peers) {
      if (peer.id === this.ctx.id) continue;
      this.senders.set(
        peer.id,
        new PeerSender({
          transport: this.ctx.transport,
          peer: peer.id,
          rpcTimeoutMs: this.knobs.raftRpcTimeoutMs,
          maxQueuedMessages: 4 * this.knobs.maxInflightAppends + 64,
          onDropped: (n) => this.metrics.messagesDropped.inc({ peer: peer.id }, n),
          onReply: (reply) => this.onPeerReply(peer.id, reply),
        }),
      );
    }
    this.ticker = setInterval(() => {
      this.core.tick();
      this.schedule();
    }, tick);
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.ticker) clearInterval(this.ticker);
    // Let the loop finish the Ready it is persisting, so that what was acknowledged stays durable.
    while (this.loopRunning) await new Promise((r) => setTimeout(r, 5));
    for (const s of this.senders.values()) s.close();
    this.releaseReplies(true);
    for (const p of this.pending.values()) p.resolve('overwritten');
    this.pending.clear();
    this.reads.failAll();
    await this.log.close();
  }

  // ---- the loop ---------------------------------------------------------------------------

  private schedule(): void {
    if (this.stopped || this.loopScheduled) return;
    this.loopScheduled = true;
    setImmediate(() => {
      this.loopScheduled = false;
      void this.runLoop();
    });
  }

  private async runLoop(): Promise<void> {
    if (this.loopRunning) {
      this.loopAgain = true;
      return;
    }
    this.loopRunning = true;
    try {
      do {
        this.loopAgain = false;
        while (this.core.hasReady() && !this.fatal) {
          const rd = this.core.ready();
          this.readiesTaken++;
          await this.handleReady(rd);
          this.readiesDone++;
          this.releaseReplies(false);
        }
      } while (this.loopAgain && !this.stopped);
    } catch (e) {
      // A failed fsync or a broken invariant: the node must stop (fail-stop), never limp on.
      this.fatal = e as Error;
      this.ctx.log.error(`fatal: ${(e as Error).message}`);
      setImmediate(() => {
        throw e;
      });
    } finally {
      this.loopRunning = false;
      // Nothing left to do: whatever the waiting requests caused has been handled.
      this.releaseReplies(true);
    }
  }

  /** Resolves once the Ready cycle that includes what was just stepped is handled (or none was needed). */
  private cycleDone(from: NodeId): Promise<void> {
    return new Promise((resolve) => {
      this.replyWaiters.push({ from, cycle: this.readiesTaken + 1, resolve });
      this.schedule();
    });
  }

  private releaseReplies(all: boolean): void {
    if (this.replyWaiters.length === 0) return;
    const done = all ? this.replyWaiters : this.replyWaiters.filter((w) => w.cycle <= this.readiesDone);
    if (done.length === 0) return;
    this.replyWaiters = all ? [] : this.replyWaiters.filter((w) => w.cycle > this.readiesDone);
    for (const w of done) w.resolve();
  }

  /** A peer's answer to our batch: its messages to us, untrusted until parsed. */
  private onPeerReply(peer: NodeId, reply: unknown): void {
    if (this.stopped || reply === null || (Array.isArray(reply) && reply.length === 0)) return;
    let messages: Message[];
    try {
      messages = parseMessages(reply, peer, this.ctx.id);
    } catch (e) {
      this.ctx.log.warn('peer answered with malformed Raft messages; ignored', { peer, error: (e as Error).message });
      return;
    }
    for (const m of messages) this.core.step(m);
    this.metrics.messagesReceived.inc(messages.length);
    this.schedule();
  }

  private async handleReady(rd: Ready): Promise<void> {
    // A leader's appends and heartbeats may leave BEFORE its own fsync (Raft dissertation
    // §10.2.1): the core counts the leader's own log toward commit only after advance(), so an
    // entry commits on a majority of durable logs either way, and the leader's disk write
    // overlaps the followers' round trip instead of preceding it. Everything else (votes, vote
    // requests, acknowledgements) is a promise about this node's disk and waits for the fsync.
    const early = rd.messages.filter(isLeaderTraffic);
    const late = early.length === rd.messages.length ? [] : rd.messages.filter((m) => !isLeaderTraffic(m));
    this.sendMessages(early);
    if (rd.hardState !== null || rd.entries.length > 0) {
      const started = performance.now();
      await this.log.save(rd.hardState, rd.entries);
      this.metrics.observeSave(performance.now() - started, rd.entries.length);
    }
    this.sendMessages(late, true);
    for (const entry of rd.committed) this.applyEntry(entry);
    if (rd.softState) this.onSoftState(rd.softState.leader, rd.softState.role);
    this.core.advance(rd);
    this.reads.onReadStates(rd.readStates);
    this.reads.serveApplied();
  }

  private sendMessages(messages: readonly Message[], mayReply = false): void {
    if (messages.length === 0) return;
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      if (mayReply && this.replyWaiters.some((w) => w.from === m.to)) {
        const box = this.replyBox.get(m.to);
        if (box) box.push(m);
        else this.replyBox.set(m.to, [m]);
        continue;
      }
      let list = byPeer.get(m.to);
      if (!list) byPeer.set(m.to, (list = []));
      list.push(m);
    }
    for (const [peer, messages] of byPeer) this.senders.get(peer)?.send(messages);
    this.metrics.messagesSent.inc(messages.length);
  }

  private applyEntry(entry: Entry): void {
    const result = this.sm.apply(entry);
    const waiting = this.pending.get(entry.index);
    if (!waiting) return;
    this.pending.delete(entry.index);
    // Another term's entry at our index: ours was overwritten, so it is surely not in the log.
    waiting.resolve(waiting.term === entry.term && result ? result : 'overwritten');
  }

  private onSoftState(leader: NodeId | null, role: string): void {
    if (role !== 'leader' && this.lastRole === 'leader') this.reads.onLostLeadership(leader);
    this.lastRole = role;
    if (leader !== this.lastLeader) {
      this.ctx.log.info(leader === null ? 'no leader' : `leader is ${leader}`, { term: this.core.term, role });
      if (leader !== null) this.metrics.leaderChanges.inc();
      if (role === 'leader') this.metrics.elected.inc();
      this.lastLeader = leader;
    }
    if (leader !== null) {
      for (const wake of this.leaderWaiters) wake();
      this.leaderWaiters.clear();
    }
  }

  /** Resolves when a leader is known or the deadline passes. */
  private async awaitLeader(deadlineMs: number): Promise<NodeId | null> {
    for (;;) {
      const leader = this.core.leader;
      if (leader !== null || Date.now() >= deadlineMs || this.stopped) return leader;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadlineMs - Date.now()));
        this.leaderWaiters.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  // ---- client API --------------------------------------------------------------------------

  async incr(request: IncrRequest): Promise<ClientReply> {
    const command: Command = {
      kind: 'incr',
      key: request.key,
      delta: request.delta,
      ...(request.idempotencyKey === undefined ? {} : { idem: request.idempotencyKey }),
      proposedAtMs: Date.now(),
    };
    const deadline = Date.now() + this.knobs.requestTimeoutMs;
    const reply0 = await this.proposeOrForward(command, deadline, true);
    return toClientReply(reply0, request, this.ctx.id);
  }

  /** The leader proposes; a follower forwards to the leader (one hop, never onward). */
  private async proposeOrForward(command: Command, deadlineMs: number, mayForward: boolean): Promise<ForwardReply> {
    if (this.fatal || this.stopped) return { kind: 'unavailable', message: 'this node is stopping' };
    if (this.core.role === 'leader') return this.propose(command, deadlineMs);
    if (!mayForward) return { kind: 'not_leader', leader: this.core.leader };
    const leader = await this.awaitLeader(Math.min(deadlineMs, Date.now() + this.knobs.electionMaxMs * 2));
    if (leader === null) return { kind: 'unavailable', message: 'no leader is known (an election may be under way, or no quorum is reachable)' };
    if (leader === this.ctx.id) return this.propose(command, deadlineMs);
    const body: ForwardIncr = { command, deadlineMs };
    const result = await this.callLeader(leader, 'forward_incr', body, deadlineMs);
    if (result.ok) return result.value;
    switch (result.error.kind) {
      case 'circuit_open':
      case 'overloaded':
        return { kind: 'unavailable', message: `leader ${leader} is unreachable (${result.error.kind}); not sent` };
      case 'remote_error':
        if (result.error.status === 400) return { kind: 'unavailable', message: `leader ${leader} refused: ${result.error.message}` };
        return { kind: 'unknown', message: `leader ${leader} failed: ${result.error.message}` };
      default:
        // The leader may have received it: unknown (contract: retry with the same Idempotency-Key).
        return { kind: 'unknown', message: `forward to leader ${leader}: ${result.error.kind}` };
    }
  }

  /**
   * A follower's request to the leader (a forwarded increment, a ReadIndex). An open breaker
   * means it was not sent, and right after a partition heals the breaker is often open for no
   * reason left: requests that hung in the cut time out after the heal and reopen it. The
   * transport's pings close it again within about a probe interval (peer-client.ts), so an open
   * breaker is waited out, with jittered backoff, for at most CIRCUIT_WAIT_MS within the
   * deadline rather than answered with a 503 at once; a leader that is really gone still gets a
   * 503 that soon, and by then an election is under way.
   */
  private async callLeader(leader: NodeId, type: string, body: unknown, deadlineMs: number): Promise<Result<ForwardReply, RpcFailure>> {
    const waitUntil = Math.min(deadlineMs, Date.now() + CIRCUIT_WAIT_MS);
    for (let delayMs = CIRCUIT_RETRY_MIN_MS; ; delayMs *= 2) {
      const timeoutMs = Math.max(1, Math.min(this.knobs.forwardTimeoutMs, deadlineMs - Date.now()));
      const result = await this.ctx.transport.call<ForwardReply>(leader, type, body, { timeoutMs });
      const pause = delayMs * (1 + this.jitter.float());
      if (result.ok || result.error.kind !== 'circuit_open' || this.stopped || Date.now() + pause >= waitUntil) return result;
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }

  private propose(command: Command, deadlineMs: number): Promise<ForwardReply> {
    if (this.pending.size >= this.knobs.maxPendingProposals) {
      return Promise.resolve({ kind: 'unavailable', message: `too many increments in flight (${this.pending.size}); retry` });
    }
    if (this.core.lastIndex >= this.knobs.maxLogEntries) return Promise.resolve(this.logFull(command));
    const proposed = this.core.propose(command);
    if (!proposed.ok) return Promise.resolve({ kind: 'not_leader', leader: proposed.error.leader });
    this.metrics.proposals.inc();
    const { index, term } = proposed.value;
    this.schedule();
    return new Promise<ForwardReply>((resolve) => {
      const timer = setTimeout(() => {
        if (this.pending.get(index)?.term === term) this.pending.delete(index);
        resolve({ kind: 'unknown', message: `not committed within ${this.knobs.requestTimeoutMs} ms; it may still be` });
      }, Math.max(1, deadlineMs - Date.now()));
      this.pending.set(index, {
        term,
        resolve: (outcome) => {
          clearTimeout(timer);
          resolve(
            outcome === 'overwritten'
              ? { kind: 'unavailable', message: 'leadership changed before the increment committed; it was not applied' }
              : { kind: 'applied', result: outcome },
          );
        },
      });
    });
  }

  /**
   * The answer to an increment that finds the log full (--max-log-entries): nothing new is
   * proposed, but a retry still learns its first outcome. A key the applied state remembers
   * answers as a duplicate would (what is applied stays applied); a key in the tail not applied
   * yet may still commit, so that is unknown (504); any other increment is surely not applied: 503.
   */
  private logFull(command: Command): ForwardReply {
    if (command.idem !== undefined) {
      const first = this.sm.firstOutcome(command.idem);
      if (first !== null) return { kind: 'applied', result: first };
      for (let i = this.sm.appliedIndex + 1; i <= this.core.lastIndex; i++) {
        if (this.core.entryAt(i)?.command?.idem === command.idem) {
          return { kind: 'unknown', message: `an increment with this Idempotency-Key is in the log (index ${i}) and not yet applied; retry with the same key` };
        }
      }
    }
    return {
      kind: 'unavailable',
      message:
        `the Raft log holds ${this.core.lastIndex} entries, as many as --max-log-entries allows: not applied. ` +
        'This version keeps every entry (no snapshots); start the cluster on fresh data directories, or raise --max-log-entries on every node',
    };
  }

  async count(request: CountRequest): Promise<ClientReply> {
    const consistency = request.params.consistency ?? 'linearizable';
    if (consistency !== 'linearizable' && consistency !== 'local') {
      return reply.badRequest('consistency', 'must be linearizable or local');
    }
    if (consistency === 'local') {
      return reply.ok({
        key: request.key,
        value: this.sm.value(request.key),
        node: this.ctx.id,
        consistency: 'local',
        stale: 'possible: this node\'s applied state, without asking the leader',
        appliedIndex: this.sm.appliedIndex,
        role: this.core.role,
      });
    }
    const deadline = Date.now() + this.knobs.requestTimeoutMs;
    const readIndex = await this.linearizableReadIndex(deadline);
    if (readIndex.kind !== 'index') return toClientReply(readIndex, undefined, this.ctx.id);
    const applied = await this.reads.waitApplied(readIndex.index, deadline);
    if (!applied) return reply.timeout(`this node had not applied up to the read index ${readIndex.index} in time`);
    return reply.ok({
      key: request.key,
      value: this.sm.value(request.key),
      node: this.ctx.id,
      consistency: 'linearizable',
      readIndex: readIndex.index,
    });
  }

  /** ReadIndex (dissertation §6.4): from the leader itself, or asked of it by a follower. */
  private async linearizableReadIndex(deadlineMs: number, mayForward = true): Promise<ForwardReply> {
    if (this.fatal || this.stopped) return { kind: 'unavailable', message: 'this node is stopping' };
    if (this.core.role === 'leader') return this.reads.request(deadlineMs);
    if (!mayForward) return { kind: 'not_leader', leader: this.core.leader };
    const leader = await this.awaitLeader(Math.min(deadlineMs, Date.now() + this.knobs.electionMaxMs * 2));
    if (leader === null) return { kind: 'unavailable', message: 'no leader is known; a linearizable read needs one' };
    if (leader === this.ctx.id) return this.reads.request(deadlineMs);
    const result = await this.callLeader(leader, 'read_index', { deadlineMs }, deadlineMs);
    if (result.ok) return result.value;
    // A read changes nothing: whatever happened, the client may simply retry.
    return { kind: 'unavailable', message: `read index from leader ${leader}: ${result.error.kind}` };
  }

  status(): Record<string, unknown> {
    const s = this.core.status();
    return {
      role: s.role,
      term: s.term,
      leader: s.leader,
      commitIndex: s.commitIndex,
      lastApplied: this.sm.appliedIndex,
      lastLogIndex: s.lastIndex,
      progress: s.progress,
      dedup: this.sm.snapshotForStatus(),
      pendingProposals: this.pending.size,
      queuedToPeers: Object.fromEntries([...this.senders].map(([id, s2]) => [id, s2.queued])),
    };
  }

  async handlePeer(from: NodeId, type: string, body: unknown): Promise<unknown> {
    switch (type) {
      case 'raft': {
        const messages = parseMessages(body, from, this.ctx.id);
        if (this.stopped) return [];
        for (const m of messages) this.core.step(m);
        this.metrics.messagesReceived.inc(messages.length);
        await this.cycleDone(from);
        const answer = this.replyBox.get(from) ?? [];
        this.replyBox.delete(from);
        this.metrics.messagesSent.inc(answer.length);
        return answer;
      }
      case 'forward_incr': {
        const { command, deadlineMs } = parseForwardIncr(body);
        // Re-stamp with this leader's clock: the dedup TTL runs on leader clocks only.
        return this.proposeOrForward({ ...command, proposedAtMs: Date.now() }, clampDeadline(deadlineMs, this.knobs.requestTimeoutMs), false);
      }
      case 'read_index': {
        const deadlineMs = clampDeadline((body as { deadlineMs?: unknown } | null)?.deadlineMs, this.knobs.requestTimeoutMs);
        return this.linearizableReadIndex(deadlineMs, false);
      }
      default:
        throw new BadRequestError('type', `unknown Raft peer message type ${type}`);
    }
  }
}

/** What a leader sends about its own log: safe to send before that log is on disk. */
function isLeaderTraffic(m: Message): boolean {
  return m.type === 'app' || m.type === 'hb';
}

/** A peer's deadline, trusted only within our own bound (clocks differ between machines). */
function clampDeadline(value: unknown, maxMs: number): number {
  const now = Date.now();
  if (typeof value !== 'number' || !Number.isFinite(value)) return now + maxMs;
  return Math.min(Math.max(value, now + 1), now + maxMs);
}

function seedFrom(id: string, salt: bigint): number {
  let h = Number(salt & 0xffffffffn) >>> 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

function toClientReply(r: ForwardReply, request: IncrRequest | undefined, node: NodeId): ClientReply {
  switch (r.kind) {
    case 'applied':
      return reply.ok({
        ok: true,
        key: r.result.key,
        delta: r.result.delta,
        node,
        duplicate: r.result.duplicate,
        value: r.result.value,
        index: r.result.index,
      });
    case 'unavailable':
      return reply.unavailable(r.message, 1);
    case 'not_leader':
      return reply.unavailable(`not the leader; the leader is ${r.leader ?? 'unknown'}`, 1, { leader: r.leader });
    case 'unknown':
      return reply.timeout(`${r.message}; retry with the same Idempotency-Key${request?.idempotencyKey ? '' : ' (this request had none)'}`);
    case 'index':
      return reply.timeout('internal: a read index is not a reply');
  }
}
