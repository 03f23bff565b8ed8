/**
 * Bad input never crashes a node and never changes its state: malformed client requests, forged
 * peer messages, and authenticated peer messages of the wrong shape, against a live Raft cluster.
 */
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeerSigner } from '@playground/transport';
import { TestCluster, waitFor } from '@playground/node/testing';
import { findLeader } from './client.js';

describe('Raft: bad input changes nothing', () => {
  let c: TestCluster;
  let leader: string;
  beforeAll(async () => {
    c = await TestCluster.start({ topology: 'raft' });
    leader = await waitFor(() => findLeader(c), { timeoutMs: 10_000, what: 'a leader' });
    expect((await c.incr(leader, { delta: 3 })).status).toBe(200);
  });
  afterAll(async () => {
    await c?.stop();
  });

  const peerPost = (to: string, from: string, body: Uint8Array, secret: string) => {
    const ts = String(Date.now());
    const sig = new PeerSigner(secret).sign(from, to, 'raft', ts, body);
    return fetch(`${c.node(to).url}/peer/raft`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/msgpack', 'x-peer-from': from, 'x-peer-to': to, 'x-peer-ts': ts, 'x-peer-sig': sig },
    });
  };

  it('answers each kind of bad input with its status and the contract error shape', async () => {
    const follower = c.nodes.find((n) => n.id !== leader)!.id;
    const before = await c.status(follower);

    const cases: [string, Promise<{ status: number; body?: unknown }>, number][] = [
      ['malformed JSON', c.request(leader, 'POST', '/incr', { body: '{"delta": ' }), 400],
      ['a fractional delta', c.incr(leader, { delta: 1.5 }), 400],
      ['a bad key', c.incr(leader, { key: 'no spaces' }), 400],
      ['an unknown parameter', c.request(leader, 'POST', '/incr?detla=5'), 400],
      ['a bad consistency', c.count(leader, { consistency: 'eventual' }), 400],
      ['a body over 64 KiB', c.request(leader, 'POST', '/incr', { body: { key: 'x', pad: 'y'.repeat(70_000) } }), 413],
      ['an unknown route', c.request(leader, 'GET', '/nope'), 404],
      ['a bad Idempotency-Key', c.request(leader, 'POST', '/incr', { headers: { 'idempotency-key': 'tab\there' } }), 400],
    ];
    for (const [what, pending, status] of cases) {
      const res = await pending;
      expect(res.status, what).toBe(status);
      expect((res.body as { error: { code: string; message: string } }).error.message, what).toBeTruthy();
    }

    // Peer protocol from outside: a forged signature, and a message signed by a wrong secret.
    const vote = pack([{ type: 'vote', from: leader, to: follower, term: 1000, lastLogIndex: 1000, lastLogTerm: 1000 }]);
    expect((await peerPost(follower, leader, vote, 'not-the-cluster-secret')).status).toBe(401);
    const unsigned = await fetch(`${c.node(follower).url}/peer/raft`, { method: 'POST', body: vote, headers: { 'x-peer-from': leader, 'x-peer-to': follower } });
    expect(unsigned.status).toBe(401);
    // Authenticated, but malformed: msgpack that does not decode, and a message of the wrong shape.
    expect((await peerPost(follower, leader, new Uint8Array([0xc1, 0xff, 0x00]), c.secret)).status).toBe(400);
    const wrongShape = pack([{ type: 'app', from: leader, to: follower, term: 1000, prevIndex: 0, prevTerm: 0, commit: 'all', entries: [] }]);
    expect((await peerPost(follower, leader, wrongShape, c.secret)).status).toBe(400);

    // Nothing changed: same term (the forged vote request for term 1000 never reached the core),
    // same count, and the cluster still serves.
    const after = await c.status(follower);
    expect(after?.term).toBe(before?.term);
    expect((await c.count(follower)).body.value).toBe(3);
    expect((await c.incr(follower)).status).toBe(200);
  }, 60_000);
});
