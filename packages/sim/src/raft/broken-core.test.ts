/**
 * A test that cannot fail is a defect: these break the real core on purpose, through a test-only
 * factory that patches one private method of a RaftCore instance (the core itself is untouched),
 * and check that the simulator catches each bug within a bounded number of seeds — while the
 * unpatched core passes the very same seeds.
 */
import { describe, expect, it } from 'vitest';
import type { RunOverrides } from '../options.js';
import type { CoreFactory } from './adapter.js';
import { RaftCore, type Message, type RaftConfig, type RaftRestoreState } from './deps.js';
import { runRaftSeed } from './run.js';
import type { RaftTopologyOptions } from './topology.js';
import { RaftCluster } from './harness.js';

/** The private parts of RaftCore the patches touch (names as in packages/raft/src/core/raft.ts). */
interface CoreInternals {
  id: string;
  config: RaftConfig;
  quorum: number;
  currentTerm: number;
  vote: string | null;
  currentLeader: string | null;
  electionElapsed: number;
  log: { persistedIndex: number; commitIndex: number; commitTo(index: number): boolean };
  replication: { quorumMatch(own: number, quorum: number): number } | null;
  send(m: Message): void;
  maybeCommit(): void;
  handleVoteRequest(m: Message & { type: 'vote' | 'prevote' }): void;
}

/** Bug: the leader commits whatever a quorum holds, entries of earlier terms included (Figure 8). */
const commitByCounting: CoreFactory = (config, restored) => {
  const core = new RaftCore(config, restored);
  const c = core as unknown as CoreInternals;
  c.maybeCommit = function (this: CoreInternals): void {
    if (this.replication === null) return;
    const candidate = this.replication.quorumMatch(this.log.persistedIndex, this.quorum);
    if (candidate > this.log.commitIndex) {
      this.log.commitTo(candidate); // missing: && termAt(candidate) === currentTerm (§5.4.2)
    }
  };
  return core;
};

/** Bug: votes granted without the up-to-date check (§5.4.1). */
const voteForAnyLog: CoreFactory = (config: RaftConfig, restored: RaftRestoreState) => {
  const core = new RaftCore(config, restored);
  const c = core as unknown as CoreInternals;
  c.handleVoteRequest = function (this: CoreInternals, m): void {
    const preVote = m.type === 'prevote';
    const canVote = this.vote === m.from || (this.vote === null && this.currentLeader === null) || (preVote && m.term > this.currentTerm);
    const leaderAlive = preVote && this.currentLeader !== null && this.electionElapsed < this.config.electionTimeoutMinTicks;
    const type = preVote ? 'prevote_resp' : 'vote_resp';
    if (canVote && !leaderAlive) {
      if (!preVote) {
        this.vote = m.from;
        this.electionElapsed = 0;
      }
      this.send({ type, from: this.id, to: m.from, term: m.term, granted: true });
    } else {
      this.send({ type, from: this.id, to: m.from, term: this.currentTerm, granted: false });
    }
  };
  return core;
};

/** The first seed in [1, maxSeeds] whose run fails, with its message; null if none. */
function firstFailure(topology: RaftTopologyOptions, overrides: RunOverrides, maxSeeds: number): { seed: number; failure: string } | null {
  for (let seed = 1; seed <= maxSeeds; seed++) {
    const result = runRaftSeed(seed, overrides, topology);
    if (!result.ok) return { seed, failure: result.failure as string };
  }
  return null;
}

const harsh: RunOverrides = { crashWeight: 4, partitionWeight: 3, faultEveryMs: 150, safetyMs: 4_000 };

/**
 * Figure 8 of the Raft paper, staged with partitions in 5 nodes. Returns the cluster's fate:
 * the message of the violation the simulator raised, or null if the run stayed safe.
 */
function stageFigure8(makeCore: CoreFactory | undefined): string | null {
  // One entry per append, so that a follower can hold an old entry without the leader's no-op.
  const cluster = new RaftCluster({ nodes: 5, seed: 8, config: { maxEntriesPerAppend: 1 }, ...(makeCore ? { makeCore } : {}) });
  try {
    const first = cluster.waitForLeader();
    cluster.incrUntilAcknowledged();
    const k = first.core.lastIndex + 1; // where the contested entry will sit
    // (a) The leader and one follower are cut off; the leader appends X at k, replicated to its buddy only.
    const buddy = cluster.ids.find((id) => id !== first.id) as string;
    const others = cluster.ids.filter((id) => id !== first.id && id !== buddy);
    cluster.partition([first.id, buddy], others);
    cluster.incr({ node: first.id, delta: 100 });
    cluster.runUntil('X on the buddy', () => cluster.node(buddy).core.entryAt(k) !== undefined, 500);
    const termX = first.core.term;
    // (b) The other three elect B, whose no-op at k (a newer term) never leaves B.
    cluster.runUntil('a leader B among the others', () => cluster.leaders().some((n) => others.includes(n.id)), 3_000);
    const b = cluster.leaders().find((n) => others.includes(n.id))?.id as string;
    cluster.isolate(b);
    const [s3, s4] = others.filter((id) => id !== b) as [string, string];
    // (c) The first leader's side rejoins s3 and s4; one of the X holders leads a newer term and
    //     replicates X to s3. A correct leader must not count that as committed (§5.4.2).
    cluster.heal();
    cluster.isolate(b);
    cluster.runUntil('s3 holds X', () => cluster.node(s3).core.entryAt(k)?.term === termX && cluster.leader()?.core.term !== termX, 3_000);
    const leader = cluster.leader()?.id as string;
    const holder = leader === first.id ? buddy : first.id;
    cluster.sim.network.cutLink(leader, s3);
    cluster.sim.network.cutLink(leader, s4);
    cluster.run(50); // the leader applies whatever it believes committed
    // (d) The X holders go away; B returns and, with a newer last term than s3 and s4, leads them.
    cluster.crash(leader);
    cluster.heal();
    cluster.isolate(holder);
    cluster.runUntil('B leads again', () => cluster.leader()?.id === b || cluster.leaders().some((n) => [s3, s4].includes(n.id)), 3_000);
    cluster.run(1_000);
    cluster.heal();
    cluster.converge();
    return cluster.checkLogs();
  } catch (e) {
    return (e as Error).message;
  }
}

describe('the simulator catches a deliberately broken Raft core', () => {
  it('that commits entries of earlier terms by counting replicas (Figure 8, staged)', () => {
    const violation = stageFigure8(commitByCounting);
    console.log(`commit-by-counting: ${violation}`);
    expect(violation).toMatch(/state machine safety|leader completeness/);
    // The real core survives the very same schedule.
    expect(stageFigure8(undefined)).toBeNull();
  });

  it('that grants votes to candidates with stale logs (§5.4.1), within a few random seeds', () => {
    const found = firstFailure({ makeCore: voteForAnyLog }, harsh, 150);
    expect(found, 'no seed caught the bug').not.toBeNull();
    const { seed, failure } = found as { seed: number; failure: string };
    console.log(`vote-for-any-log caught at seed ${seed}:\n${failure.split('\n').slice(0, 3).join('\n')}`);
    expect(failure).toMatch(/SEED=\d+/);
    expect(failure).toMatch(/replay: npm run sim/);
    // The unpatched core passes the same seeds.
    expect(firstFailure({}, harsh, seed)).toBeNull();
  });

  it('and a driver that reads its local state instead of using ReadIndex (stale reads)', () => {
    const found = firstFailure({ driverFaults: { unsafeLocalReads: true } }, {}, 50);
    expect(found, 'no seed caught the bug').not.toBeNull();
    console.log(`local reads caught at seed ${found?.seed}: ${found?.failure.split('\n')[0]}`);
    expect(found?.failure).toMatch(/linearizable|counter-bounds/);
  });

  it('and a state machine whose dedup table is too small to stop retries applying twice', () => {
    const found = firstFailure({ driverFaults: { dedupMaxEntries: 1 } }, {}, 50);
    expect(found, 'no seed caught the bug').not.toBeNull();
    console.log(`tiny dedup table caught at seed ${found?.seed}: ${found?.failure.split('\n')[0]}`);
    expect(found?.failure).toMatch(/no-duplicates|final-convergence|linearizable/);
  });
});
