import { Rng } from '@playground/core';
import { describe, expect, it } from 'vitest';
import { RAFT_DEFAULTS } from './config.js';
import { RaftCore } from './raft.js';
import { EMPTY, Network, logOfTerms } from './test-network.js';
import type { Message, VoteResponse } from './types.js';

describe('leader election (Raft §5.2)', () => {
  it('elects exactly one leader, and every node agrees on it and its term', () => {
    const net = new Network({ ids: ['n1', 'n2', 'n3', 'n4', 'n5'] });
    const ticks = net.tickUntil(() => net.leaders().length === 1);
    expect(ticks).toBeLessThanOrEqual(RAFT_DEFAULTS.electionTimeoutMaxTicks * 3);
    net.tick(RAFT_DEFAULTS.heartbeatTicks);
    const [leader] = net.leaders();
    for (const node of net.nodes.values()) {
      expect(node.leader).toBe(leader?.id);
      expect(node.term).toBe(leader?.term);
    }
  });

  it('a single-node cluster elects itself', () => {
    const net = new Network({ ids: ['solo'] });
    net.tickUntil(() => net.node('solo').role === 'leader');
    expect(net.node('solo').commitIndex).toBe(1); // its no-op, once persisted
  });

  it('elects a new leader in a higher term after the leader is cut off', () => {
    const net = new Network();
    net.tickUntil(() => net.leaders().length === 1);
    const old = net.leaders()[0] as RaftCore;
    net.isolate(old.id);
    const rest = net.ids.filter((id) => id !== old.id);
    net.tickUntil(() => rest.some((id) => net.node(id).role === 'leader'), 200);
    const fresh = rest.map((id) => net.node(id)).find((n) => n.role === 'leader') as RaftCore;
    expect(fresh.term).toBeGreaterThan(old.term);
    // Healed, the old leader (stepped down by CheckQuorum meanwhile) follows the new one.
    net.heal();
    net.tick(RAFT_DEFAULTS.heartbeatTicks);
    expect(old.role).toBe('follower');
    expect(old.leader).toBe(fresh.id);
    expect(old.term).toBe(fresh.term);
  });

  it('elects no leader without a quorum', () => {
    const net = new Network({ ids: ['n1', 'n2', 'n3', 'n4', 'n5'] });
    for (const id of ['n3', 'n4', 'n5']) net.isolate(id);
    net.tick(500);
    expect(net.leaders()).toHaveLength(0);
    // ... and Pre-Vote kept every term where it was: nobody could even start a real election.
    for (const node of net.nodes.values()) expect(node.term).toBe(0);
  });

  it('without Pre-Vote a minority still elects no leader, though terms climb', () => {
    const net = new Network({ config: { preVote: false } });
    net.isolate('n2');
    net.isolate('n3');
    net.tick(300);
    expect(net.leaders()).toHaveLength(0);
    expect(net.node('n1').term).toBeGreaterThan(1);
  });
});

describe('RequestVote (Raft §5.2, §5.4.1)', () => {
  const voter = (restoredTerms: readonly number[] = [], term = restoredTerms.at(-1) ?? 0): RaftCore =>
    new RaftCore(
      { ...RAFT_DEFAULTS, id: 'n1', peers: ['n1', 'n2', 'n3'], rng: new Rng(7), preVote: false },
      { hardState: { term, vote: null, commit: 0 }, entries: logOfTerms(restoredTerms) },
    );
  const ask = (node: RaftCore, from: string, term: number, lastLogIndex: number, lastLogTerm: number): VoteResponse => {
    node.step({ type: 'vote', from, to: node.id, term, lastLogIndex, lastLogTerm });
    const ready = node.ready();
    node.advance(ready);
    const answer = ready.messages.find((m): m is VoteResponse => m.type === 'vote_resp' && m.to === from);
    if (answer === undefined) throw new Error('no answer');
    return answer;
  };

  it('grants at most one vote per term, and the vote is in the same Ready as the answer', () => {
    const node = voter();
    node.step({ type: 'vote', from: 'n2', to: 'n1', term: 1, lastLogIndex: 0, lastLogTerm: 0 });
    const ready = node.ready();
    expect(ready.hardState).toEqual({ term: 1, vote: 'n2', commit: 0 });
    expect(ready.messages).toEqual([{ type: 'vote_resp', from: 'n1', to: 'n2', term: 1, granted: true }]);
    node.advance(ready);
    expect(ask(node, 'n3', 1, 5, 1).granted).toBe(false);
    expect(ask(node, 'n2', 1, 0, 0).granted).toBe(true); // the same candidate asking again
  });

  it('remembers its vote across a restart', () => {
    const node = new RaftCore(
      { ...RAFT_DEFAULTS, id: 'n1', peers: ['n1', 'n2', 'n3'], rng: new Rng(7), preVote: false },
      { hardState: { term: 4, vote: 'n2', commit: 0 }, entries: [] },
    );
    expect(ask(node, 'n3', 4, 0, 0).granted).toBe(false);
  });

  it('refuses a candidate whose log is less up to date', () => {
    const node = voter([1, 1, 2]);
    expect(ask(node, 'n2', 3, 5, 1).granted).toBe(false); // older last term, longer log
    expect(ask(node, 'n3', 3, 2, 2).granted).toBe(false); // same last term, shorter log
    expect(ask(node, 'n2', 4, 3, 2).granted).toBe(true); // same last entry
  });

  it('steps down and adopts a higher term it sees in any message', () => {
    const net = new Network({ config: { preVote: false } });
    const leader = net.elect('n1');
    expect(leader.role).toBe('leader');
    leader.step({ type: 'vote_resp', from: 'n2', to: 'n1', term: 9, granted: false });
    expect(leader.role).toBe('follower');
    expect(leader.term).toBe(9);
  });
});

describe('Pre-Vote and CheckQuorum (dissertation §9.6, §6.2)', () => {
  it('a partitioned node rejoining neither bumps terms nor deposes the leader', () => {
    const net = new Network();
    net.tickUntil(() => net.leaders().length === 1);
    const leader = net.leaders()[0] as RaftCore;
    const term = leader.term;
    const loner = net.ids.find((id) => id !== leader.id) as string;
    net.isolate(loner);
    net.tick(400); // many election timeouts: it pre-votes alone, over and over
    expect(net.node(loner).term).toBe(term);
    expect(net.node(loner).role).toBe('pre-candidate');
    net.heal();
    net.tick(50);
    expect(leader.role).toBe('leader');
    expect(leader.term).toBe(term);
    expect(net.node(loner).leader).toBe(leader.id);
  });

  it('without Pre-Vote, a leader in lease ignores the rejoining node’s higher-term votes', () => {
    const net = new Network({ config: { preVote: false } });
    const leader = net.elect('n1');
    net.node('n3').campaign(); // n3 times out early (say, a long GC pause) and asks for term 2
    const n3 = net.node('n3');
    expect(n3.term).toBe(leader.term + 1);
    const asked = net.delivered.length;
    net.stabilize();
    // n1 and n2 heard from their leader recently: they ignore n3's vote request.
    const answers = net.delivered.slice(asked).filter((m) => m.type === 'vote_resp');
    expect(answers).toHaveLength(0);
  });

  it('an isolated leader steps down after an election timeout without a quorum', () => {
    const net = new Network();
    net.tickUntil(() => net.leaders().length === 1);
    const leader = net.leaders()[0] as RaftCore;
    net.isolate(leader.id);
    const ticks = net.tickUntil(() => leader.role !== 'leader', 100);
    expect(ticks).toBeLessThanOrEqual(2 * RAFT_DEFAULTS.electionTimeoutMinTicks);
    expect(leader.leader).toBe(null);
  });

  it('a pre-vote is refused by a node that heard from its leader within the election timeout', () => {
    const net = new Network({ config: { checkQuorum: false } });
    const leader = net.elect('n1');
    net.node('n2').step({ type: 'prevote', from: 'n3', to: 'n2', term: leader.term + 1, lastLogIndex: 99, lastLogTerm: 99 });
    const ready = net.node('n2').ready();
    expect(ready.messages).toContainEqual({ type: 'prevote_resp', from: 'n2', to: 'n3', term: leader.term, granted: false });
    expect(ready.hardState).toBe(null); // no term change, no vote
  });
});

describe('determinism', () => {
  it('the same seed gives the same run, message for message', () => {
    const run = (): Message[] => {
      const net = new Network({ ids: ['a', 'b', 'c', 'd', 'e'], seed: 42 });
      net.tick(100);
      net.isolate(net.leaders()[0]?.id ?? 'a');
      net.tick(100);
      return net.delivered;
    };
    expect(run()).toEqual(run());
  });

  it('draws election timeouts in [min, max) and only from the injected Rng', () => {
    const node = new RaftCore({ ...RAFT_DEFAULTS, id: 'a', peers: ['a', 'b', 'c'], rng: new Rng(3) }, EMPTY);
    let ticks = 0;
    while (node.role === 'follower') {
      node.tick();
      ticks++;
    }
    expect(ticks).toBeGreaterThanOrEqual(RAFT_DEFAULTS.electionTimeoutMinTicks);
    expect(ticks).toBeLessThan(RAFT_DEFAULTS.electionTimeoutMaxTicks);
  });
});
