import { describe, expect, it } from 'vitest';
import { RAFT_DEFAULTS } from './config.js';
import { Network, incr } from './test-network.js';
import type { Message } from './types.js';

describe('ReadIndex (dissertation §6.4)', () => {
  it('answers not_ready until the leader has committed an entry of its own term', () => {
    const net = new Network();
    let dropAcks = true;
    net.filters.push((m) => !(dropAcks && m.type === 'app_resp'));
    const leader = net.elect('n1');
    expect(leader.role).toBe('leader');
    expect(leader.readIndex('r1')).toEqual({ ok: false, error: { kind: 'not_ready' } });
    dropAcks = false;
    net.tick(RAFT_DEFAULTS.heartbeatTicks);
    expect(leader.commitIndex).toBe(1);
    expect(leader.readIndex('r1')).toEqual({ ok: true, value: undefined });
  });

  it('serves the commit index at request time, once a quorum confirms leadership', () => {
    const net = new Network();
    const leader = net.elect('n1');
    leader.propose(incr());
    net.stabilize();
    net.isolate('n3');
    expect(leader.readIndex('r1').ok).toBe(true);
    net.stabilize();
    expect(net.readStates.get('n1')).toEqual([{ context: 'r1', index: 2 }]);
  });

  it('without a quorum the read is never served', () => {
    const net = new Network();
    const leader = net.elect('n1');
    net.isolate('n1');
    expect(leader.readIndex('r1').ok).toBe(true);
    net.tick(RAFT_DEFAULTS.electionTimeoutMinTicks - 1);
    expect(net.readStates.get('n1')).toEqual([]);
    // CheckQuorum deposes the leader, and the pending read goes with it.
    net.tickUntil(() => leader.role !== 'leader', 100);
    expect(leader.status().pendingReads).toBe(0);
    net.heal();
    net.tick(RAFT_DEFAULTS.electionTimeoutMaxTicks * 2);
    expect(net.readStates.get('n1')).toEqual([]);
  });

  it('needs answers from a majority of the cluster, not merely from one follower', () => {
    const net = new Network({ ids: ['n1', 'n2', 'n3', 'n4', 'n5'] });
    const leader = net.elect('n1');
    for (const id of ['n3', 'n4', 'n5']) net.isolate(id);
    expect(leader.readIndex('r1').ok).toBe(true);
    net.stabilize();
    expect(net.readStates.get('n1')).toEqual([]); // n1 + n2 are 2 of 5
    net.heal();
    net.isolate('n4');
    net.isolate('n5');
    net.tick(RAFT_DEFAULTS.heartbeatTicks);
    expect(net.readStates.get('n1')).toEqual([{ context: 'r1', index: 1 }]);
  });

  it('one quorum of heartbeat answers confirms every read queued before it, in order', () => {
    const net = new Network();
    const leader = net.elect('n1');
    const heartbeats: Message[] = [];
    net.filters.push((m) => {
      if (m.type === 'hb') heartbeats.push(m);
      return !(m.type === 'hb_resp' && m.context === 'r1'); // r1's own confirmation is lost
    });
    leader.readIndex('r1');
    net.stabilize();
    expect(net.readStates.get('n1')).toEqual([]);
    leader.readIndex('r2');
    net.stabilize();
    expect(net.readStates.get('n1')).toEqual([
      { context: 'r1', index: 1 },
      { context: 'r2', index: 1 },
    ]);
    expect(heartbeats.filter((m) => m.type === 'hb' && m.context === 'r2')).toHaveLength(2);
  });

  it('a single-node cluster confirms at once', () => {
    const net = new Network({ ids: ['solo'] });
    const leader = net.elect('solo');
    expect(leader.readIndex('r1').ok).toBe(true);
    net.stabilize();
    expect(net.readStates.get('solo')).toEqual([{ context: 'r1', index: 1 }]);
  });

  it('bounds pending reads: at the bound it answers overloaded and queues nothing', () => {
    const net = new Network({ config: { maxPendingReads: 2 } });
    const leader = net.elect('n1');
    net.isolate('n1');
    expect(leader.readIndex('a').ok).toBe(true);
    expect(leader.readIndex('b').ok).toBe(true);
    expect(leader.readIndex('c')).toEqual({ ok: false, error: { kind: 'overloaded' } });
    expect(leader.status().pendingReads).toBe(2);
  });

  it('a follower is told who leads, so that its driver can forward the read there', () => {
    const net = new Network();
    net.elect('n1');
    expect(net.node('n2').readIndex('r1')).toEqual({ ok: false, error: { kind: 'not_leader', leader: 'n1' } });
  });
});
