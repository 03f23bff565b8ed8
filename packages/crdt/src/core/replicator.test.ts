/**
 * The replicator's hedging, message by message: a message out too long is superseded by a fresh
 * one, and the superseded one's outcome is news only when it is a success.
 */
import { Rng } from '@playground/core';
import { describe, expect, it } from 'vitest';
import { CounterCrdt } from './counter.js';
import { LocalWriter } from './local.js';
import { Replicator, type OutgoingMessage } from './replicator.js';

const members = ['n1', 'n2', 'n3'];

function setup(hedgeAfterMs: number | null) {
  const clock = { now: 0 };
  const crdt = new CounterCrdt({ self: 'n1', members, mode: 'pn', maxTombstones: 100, maxChangeLog: 100 });
  const writer = new LocalWriter(crdt);
  const replicator = new Replicator({
    self: 'n1',
    members,
    fanout: 2,
    replication: 'delta',
    heartbeatRounds: 10,
    rng: new Rng(7),
    ...(hedgeAfterMs === null ? {} : { hedge: { afterMs: hedgeAfterMs, now: () => clock.now } }),
  });
  const incr = (): void => void crdt.merge(writer.preparePlain('k', 1));
  const send = (peer: string): OutgoingMessage => replicator.message(peer, crdt);
  /** A push to both peers; 60 ms later (and `moreFirst`: one more increment) the hedges, n2's sent. */
  const hedgeN2 = (moreFirst = false): { first: OutgoingMessage; hedge: OutgoingMessage; hedged: string[] } => {
    incr();
    replicator.push();
    const first = send('n2');
    clock.now = 60;
    if (moreFirst) incr();
    const hedged = replicator.hedge();
    return { first, hedge: send('n2'), hedged };
  };
  return { clock, crdt, replicator, incr, send, hedgeN2 };
}

describe('Replicator hedging', () => {
  it('hedges a message once it has been out for hedge.afterMs, with at most one superseded message per peer', () => {
    const { clock, replicator, incr, send } = setup(50);
    incr();
    expect(replicator.push()).toEqual(['n2', 'n3']);
    const first = send('n2');
    send('n3');
    clock.now = 49;
    expect(replicator.hedge()).toEqual([]);
    clock.now = 50;
    expect(replicator.hedge()).toEqual(['n2', 'n3']);
    const hedge = send('n2');
    expect(hedge.token).not.toBe(first.token);
    expect(hedge.version).toBe(first.version);
    // Both still out: the hedge is not hedged again, however late.
    clock.now = 1000;
    expect(replicator.hedge()).toEqual([]);
  });

  it('never hedges without the hedge option', () => {
    const { clock, replicator, incr, send } = setup(null);
    incr();
    replicator.push();
    send('n2');
    clock.now = 10_000;
    expect(replicator.hedge()).toEqual([]);
    expect(replicator.isCut('n2')).toBe(false);
  });

  it("ignores a superseded message's timeout: a peer that answered the hedge stays reachable and holds the version", () => {
    const { crdt, replicator, hedgeN2 } = setup(50);
    const { first, hedge } = hedgeN2();
    expect(replicator.sent(hedge, crdt.reportedSeen(), crdt)).toBe(false);
    // The first one hung until the transport's timeout. Without tokens this would mark n2
    // unreachable, and a w=majority write would answer 503 with n2 answering.
    expect(replicator.failed(first, true)).toBe(false);
    expect(replicator.reachablePeers()).toContain('n2');
    expect(replicator.holders(hedge.version)).toBe(1);
    expect(replicator.isCut('n2')).toBe(false);
  });

  it("counts a superseded message's success: the peer holds its version, while the hedge is still out", () => {
    const { crdt, replicator, incr, send, hedgeN2 } = setup(50);
    const { first, hedge, hedged } = hedgeN2(true);
    expect(hedged).toEqual(['n2', 'n3']);
    const toN3 = send('n3');
    expect(replicator.sent(toN3, crdt.reportedSeen(), crdt)).toBe(false);
    expect(hedge.version).toBeGreaterThan(first.version);
    expect(replicator.sent(first, crdt.reportedSeen(), crdt)).toBe(false);
    // n3 acknowledged the newer version; n2 the older one, from the superseded message.
    expect(replicator.holders(first.version)).toBe(2);
    expect(replicator.holders(hedge.version)).toBe(1);
    // The hedge is still the current message: a push waits for it instead of sending a third.
    incr();
    expect(replicator.push()).toEqual(['n3']);
    // ...and goes when it completes.
    expect(replicator.sent(hedge, crdt.reportedSeen(), crdt)).toBe(true);
  });

  it('a failure of the current message still counts after a superseded one succeeded', () => {
    const { crdt, replicator, hedgeN2 } = setup(50);
    const { first, hedge } = hedgeN2();
    replicator.sent(first, crdt.reportedSeen(), crdt);
    expect(replicator.failed(hedge)).toBe(false);
    expect(replicator.reachablePeers()).not.toContain('n2');
  });

  it('a late message makes the peer look cut, and hearing from it then sends a hedge at once', () => {
    const { clock, replicator, incr, send } = setup(50);
    incr();
    replicator.push();
    const first = send('n2');
    clock.now = 20;
    expect(replicator.isCut('n2')).toBe(false);
    expect(replicator.heardFrom('n2')).toBe(false);
    clock.now = 80;
    expect(replicator.isCut('n2')).toBe(true);
    expect(replicator.heardFrom('n2')).toBe(true);
    const hedge = send('n2');
    expect(hedge.token).not.toBe(first.token);
    // One superseded message at most: hearing again while both hang sends nothing more.
    clock.now = 200;
    expect(replicator.heardFrom('n2')).toBe(false);
    expect(replicator.isCut('n2')).toBe(true);
  });
});
