import { Rng } from '@playground/core';
import { describe, expect, it } from 'vitest';
import { RAFT_DEFAULTS } from './config.js';
import { RaftLog } from './log.js';
import { RaftCore } from './raft.js';
import { EMPTY, Network, incr, logOfTerms } from './test-network.js';
import type { AppendRequest, AppendResponse, Entry, Message } from './types.js';

const terms = (node: RaftCore): number[] =>
  Array.from({ length: node.lastIndex }, (_, i) => node.termAt(i + 1) as number);

describe('log replication (Raft §5.3)', () => {
  it('a new leader appends a no-op of its term, and every node commits it', () => {
    const net = new Network();
    const leader = net.elect('n1');
    expect(leader.entryAt(1)).toEqual({ term: leader.term, index: 1, command: null });
    net.tick(RAFT_DEFAULTS.heartbeatTicks);
    for (const node of net.nodes.values()) {
      expect(node.commitIndex).toBe(1);
      expect(net.applied.get(node.id)).toEqual([{ term: leader.term, index: 1, command: null }]);
    }
  });

  it('commits proposals on a quorum and every node applies the same entries in order', () => {
    const net = new Network({ ids: ['n1', 'n2', 'n3', 'n4', 'n5'] });
    const leader = net.elect('n1');
    net.isolate('n5');
    for (let i = 1; i <= 5; i++) expect(leader.propose(incr(i)).ok).toBe(true);
    net.stabilize();
    expect(leader.commitIndex).toBe(6);
    net.heal();
    net.tick(RAFT_DEFAULTS.heartbeatTicks * 2);
    const reference = net.applied.get('n1') as Entry[];
    expect(reference.map((e) => e.command?.delta ?? 0)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const id of net.ids) expect(net.applied.get(id)).toEqual(reference);
  });

  it('followers learn a new commit index with the next append, or within one tick, not at the next heartbeat', () => {
    const net = new Network();
    const leader = net.elect('n1');
    net.tick(1);
    leader.propose(incr());
    net.stabilize();
    expect(leader.commitIndex).toBe(2);
    // Nothing else to send: no message of its own for a commit index alone (§5.3)...
    for (const id of ['n2', 'n3']) expect(net.nodes.get(id)?.commitIndex).toBe(1);
    // ...until the next append carries it,
    leader.propose(incr());
    net.stabilize();
    for (const id of ['n2', 'n3']) expect(net.nodes.get(id)?.commitIndex).toBe(2);
    // or the next tick does, well before a heartbeat is due.
    expect(RAFT_DEFAULTS.heartbeatTicks).toBeGreaterThan(1);
    net.tick(1);
    for (const node of net.nodes.values()) expect(node.commitIndex).toBe(3);
  });

  it('a follower acknowledges in the same Ready that carries the entries to persist', () => {
    const node = new RaftCore({ ...RAFT_DEFAULTS, id: 'n2', peers: ['n1', 'n2', 'n3'], rng: new Rng(1) }, EMPTY);
    const entries: Entry[] = [{ term: 1, index: 1, command: null }];
    node.step({ type: 'app', from: 'n1', to: 'n2', term: 1, prevIndex: 0, prevTerm: 0, entries, commit: 0 });
    const ready = node.ready();
    expect(ready.entries).toEqual(entries);
    expect(ready.hardState).toEqual({ term: 1, vote: null, commit: 0 });
    expect(ready.messages).toEqual([
      { type: 'app_resp', from: 'n2', to: 'n1', term: 1, reject: false, index: 1, hintTerm: 0, hintIndex: 0 },
    ]);
  });

  it('a follower commits no further than the last entry the leader vouched for (Figure 2)', () => {
    // n2 still holds two uncommitted entries of term 2 that the leader of term 3 never wrote.
    const node = new RaftCore(
      { ...RAFT_DEFAULTS, id: 'n2', peers: ['n1', 'n2', 'n3'], rng: new Rng(1) },
      { hardState: { term: 2, vote: null, commit: 1 }, entries: logOfTerms([1, 1, 2, 2]) },
    );
    node.step({ type: 'app', from: 'n1', to: 'n2', term: 3, prevIndex: 2, prevTerm: 1, entries: [], commit: 4 });
    expect(node.commitIndex).toBe(2);
  });

  it('a follower’s conflicting suffix is overwritten by the leader’s log', () => {
    const restore = (t: number[], term: number) => ({ hardState: { term, vote: null, commit: 2 }, entries: logOfTerms(t) });
    const net = new Network({
      config: { preVote: false },
      restored: { n1: restore([1, 1, 3], 3), n2: restore([1, 1, 3], 3), n3: restore([1, 1, 2, 2, 2], 2) },
    });
    const seenByN3: Entry[][] = [];
    net.filters.push((m) => {
      if (m.type === 'app' && m.to === 'n3' && m.entries.length > 0) seenByN3.push([...m.entries]);
      return true;
    });
    const leader = net.elect('n1');
    expect(leader.term).toBe(4);
    net.tick(RAFT_DEFAULTS.heartbeatTicks);
    expect(terms(net.node('n3'))).toEqual([1, 1, 3, 4]);
    expect(net.node('n3').commitIndex).toBe(4);
    // The overwrite starts at the first conflicting index, 3, never at a committed one.
    expect(seenByN3.at(-1)?.[0]?.index).toBe(3);
  });

  it('fast backup skips a whole conflicting term per round trip', () => {
    const leaderLog = [1, ...Array<number>(10).fill(2), ...Array<number>(1000).fill(5)];
    const divergent = [1, ...Array<number>(10).fill(2), ...Array<number>(500).fill(3), ...Array<number>(500).fill(4)];
    const restore = (t: number[]) => ({ hardState: { term: 5, vote: null, commit: 11 }, entries: logOfTerms(t) });
    const net = new Network({
      config: { preVote: false },
      restored: { n1: restore(leaderLog), n2: restore(leaderLog), n3: restore(divergent) },
    });
    net.elect('n1');
    net.tick(RAFT_DEFAULTS.heartbeatTicks * 2);
    const rejects = net.delivered.filter((m) => m.type === 'app_resp' && m.from === 'n3' && m.reject);
    // One rejection per divergent term (4, then 3), not one per entry (1000).
    expect(rejects).toHaveLength(2);
    expect(terms(net.node('n3'))).toEqual(terms(net.node('n1')));
    expect(net.node('n3').commitIndex).toBe(net.node('n1').lastIndex);
  });

  it('a follower that fell behind while cut off catches up once the network heals', () => {
    const net = new Network({ config: { maxEntriesPerAppend: 8 } });
    const leader = net.elect('n1');
    net.isolate('n3');
    for (let i = 0; i < 100; i++) leader.propose(incr());
    net.tick(RAFT_DEFAULTS.heartbeatTicks);
    net.heal();
    net.tick(RAFT_DEFAULTS.heartbeatTicks * 2);
    expect(net.node('n3').lastIndex).toBe(101);
    expect(net.node('n3').commitIndex).toBe(101);
    expect(net.applied.get('n3')).toEqual(net.applied.get('n1'));
  });

  it('pipelines at most maxInflightAppends batches of at most maxEntriesPerAppend entries', () => {
    const net = new Network({ config: { maxEntriesPerAppend: 4, maxInflightAppends: 2 } });
    const leader = net.elect('n1');
    let dropAcks = true;
    net.filters.push((m) => !(dropAcks && m.type === 'app_resp'));
    const before = net.delivered.length;
    for (let i = 0; i < 20; i++) leader.propose(incr());
    net.stabilize();
    const appends = net.delivered.slice(before).filter((m): m is AppendRequest => m.type === 'app' && m.to === 'n2');
    expect(appends.map((m) => m.entries.length)).toEqual([4, 4]);
    expect(leader.commitIndex).toBe(1);
    // Heartbeat answers free a slot at a time, so a lost acknowledgement cannot stall the pipeline.
    dropAcks = false;
    net.tick(RAFT_DEFAULTS.heartbeatTicks);
    expect(leader.commitIndex).toBe(21);
  });
});

describe('commitment (Raft §5.4.2, Figure 8; dissertation §10.2.1)', () => {
  const figure8Leader = (): RaftCore => {
    // S1 led term 2 and wrote index 2 in term 2; it comes back and wins term 4.
    const s1 = new RaftCore(
      { ...RAFT_DEFAULTS, id: 's1', peers: ['s1', 's2', 's3', 's4', 's5'], rng: new Rng(8), preVote: false },
      { hardState: { term: 3, vote: null, commit: 1 }, entries: logOfTerms([1, 2]) },
    );
    s1.campaign();
    s1.advance(s1.ready());
    for (const from of ['s2', 's3']) s1.step({ type: 'vote_resp', from, to: 's1', term: 4, granted: true });
    expect(s1.role).toBe('leader');
    s1.advance(s1.ready()); // persists the no-op at index 3, term 4
    return s1;
  };
  const ack = (leader: RaftCore, from: string, index: number): void =>
    leader.step({ type: 'app_resp', from, to: leader.id, term: leader.term, reject: false, index, hintTerm: 0, hintIndex: 0 });

  it('a leader does not commit an entry of a previous term by counting replicas', () => {
    const s1 = figure8Leader();
    ack(s1, 's2', 2);
    ack(s1, 's3', 2);
    s1.advance(s1.ready());
    // Index 2 (term 2) is on S1, S2, S3, a majority, and still not committed: S5 could overwrite it.
    expect(s1.commitIndex).toBe(1);
    ack(s1, 's2', 3);
    ack(s1, 's3', 3);
    // The no-op of term 4 on a majority commits it, and index 2 with it.
    expect(s1.commitIndex).toBe(3);
  });

  it('a leader counts itself only once its own log is persisted', () => {
    const net = new Network();
    const leader = net.elect('n1');
    net.isolate('n3');
    net.holdPersistence('n1');
    const proposed = leader.propose(incr());
    expect(proposed.ok && proposed.value.index).toBe(2);
    net.stabilize();
    expect(leader.status().progress?.n2?.match).toBe(2); // n2 has it on disk
    expect(leader.commitIndex).toBe(1); // n2 + the leader's memory is not a quorum of disks
    net.releasePersistence('n1');
    expect(leader.commitIndex).toBe(2);
  });

  it('refuses to propose on a follower, naming the leader', () => {
    const net = new Network();
    net.elect('n1');
    expect(net.node('n2').propose(incr())).toEqual({ ok: false, error: { kind: 'not_leader', leader: 'n1' } });
  });
});

describe('the log’s own invariants', () => {
  it('never truncates a committed entry, and stays contiguous with non-decreasing terms', () => {
    const log = new RaftLog(logOfTerms([1, 1, 2]), 2);
    expect(() => log.appendFromLeader([{ term: 3, index: 2, command: null }])).toThrow(/committed/);
    expect(() => log.append({ term: 2, index: 5, command: null })).toThrow(/contiguous/);
    expect(() => log.append({ term: 1, index: 4, command: null })).toThrow(/terms must not decrease/);
    expect(() => log.commitTo(9)).toThrow(/beyond/);
    log.appendFromLeader([{ term: 3, index: 3, command: null }]);
    expect(log.termAt(3)).toBe(3);
  });

  it('finds term boundaries by binary search', () => {
    const log = new RaftLog(logOfTerms([1, 1, 3, 3, 3, 6]), 0);
    expect(log.lastIndexOfTerm(3)).toBe(5);
    expect(log.lastIndexOfTerm(2)).toBe(0);
    expect(log.firstIndexOfTerm(3)).toBe(3);
    expect(log.firstIndexOfTerm(4)).toBe(6);
  });

  it('ignores ill-formed appends', () => {
    const node = new RaftCore({ ...RAFT_DEFAULTS, id: 'n2', peers: ['n1', 'n2', 'n3'], rng: new Rng(1) }, EMPTY);
    const gap: Message = {
      type: 'app', from: 'n1', to: 'n2', term: 1, prevIndex: 0, prevTerm: 0, commit: 0,
      entries: [{ term: 1, index: 2, command: null }],
    };
    node.step(gap);
    expect(node.lastIndex).toBe(0);
    expect(node.ready().messages.filter((m): m is AppendResponse => m.type === 'app_resp')).toHaveLength(0);
  });
});
