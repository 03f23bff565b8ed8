import { afterEach, describe, expect, it } from 'vitest';
import { BadRequestError, err, ok } from '@playground/core';
import type { Result, RpcFailure } from '@playground/core';
import { MSG } from './core/messages.js';
import type { PutMessage, PutReply } from './core/messages.js';
import { PutBatcher } from './put-batcher.js';
import { FakeCluster } from './testing.js';

const put = (i: number): PutMessage => ({ key: 'k', mode: 'merge', version: { c: { n1: i }, d: [[`k:d${i}`, 1]] } });
const stored = (value: number): PutReply => ({ status: 'stored', value, clock: {}, siblings: 1 });

/** A peer whose batch RPCs answer when the test says so. */
function fakePeer(): {
  sent: PutMessage[][];
  answer: (i: number, res: Result<PutReply[], RpcFailure>) => void;
  batcher: (queuedMax?: number, batchMax?: number) => PutBatcher;
} {
  const sent: PutMessage[][] = [];
  const pending: ((res: Result<PutReply[], RpcFailure>) => void)[] = [];
  return {
    sent,
    answer: (i, res) => pending[i]?.(res),
    batcher: (queuedMax = 100, batchMax = 100) =>
      new PutBatcher(
        (_peer, puts) => {
          sent.push(puts);
          return new Promise((resolve) => pending.push(resolve));
        },
        { inFlightMax: 1, queuedMax, batchMax, lateTimeoutMs: 1000 },
      ),
  };
}

const flushMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('PutBatcher', () => {
  it('sends at once when idle, and the puts that arrive meanwhile together, each with its own reply', async () => {
    const peer = fakePeer();
    const b = peer.batcher();
    const first = b.put('n2', put(1), 1000);
    await flushMicrotasks();
    expect(peer.sent.map((x) => x.length)).toEqual([1]);
    const later = [2, 3, 4].map((i) => b.put('n2', put(i), 1000));
    await flushMicrotasks();
    expect(peer.sent).toHaveLength(1); // still waiting for the first batch
    peer.answer(0, ok([stored(1)]));
    expect(await first).toEqual(ok(stored(1)));
    await flushMicrotasks();
    expect(peer.sent[1]?.map((m) => m.version.c.n1)).toEqual([2, 3, 4]);
    peer.answer(1, ok([stored(2), stored(3), stored(4)]));
    expect((await Promise.all(later)).map((r) => (r.ok && r.value.status === 'stored' ? r.value.value : -1))).toEqual([2, 3, 4]);
  });

  it('a failed batch is the failure of every put in it (a timeout stays unknown for each)', async () => {
    const peer = fakePeer();
    const b = peer.batcher();
    const a = b.put('n2', put(1), 1000);
    const c = b.put('n2', put(2), 1000);
    await flushMicrotasks();
    expect(peer.sent.map((x) => x.length)).toEqual([2]);
    peer.answer(0, err({ kind: 'timeout', message: 'no reply' }));
    expect(await a).toEqual(err({ kind: 'timeout', message: 'no reply' }));
    expect(await c).toEqual(err({ kind: 'timeout', message: 'no reply' }));
  });

  it('at the queue bound a put is not sent and fails overloaded (surely not applied); batches respect batchMax', async () => {
    const peer = fakePeer();
    const b = peer.batcher(3, 2);
    void b.put('n2', put(0), 1000);
    await flushMicrotasks(); // in flight now
    const queued = [1, 2, 3].map((i) => b.put('n2', put(i), 1000));
    const refused = await b.put('n2', put(4), 1000);
    expect(refused.ok === false && refused.error.kind).toBe('overloaded');
    expect(b.queued('n2')).toBe(3);
    peer.answer(0, ok([stored(0)]));
    await flushMicrotasks();
    expect(peer.sent.map((x) => x.length)).toEqual([1, 2]);
    peer.answer(1, ok([stored(1), stored(2)]));
    await flushMicrotasks();
    expect(peer.sent.map((x) => x.length)).toEqual([1, 2, 1]);
    peer.answer(2, ok([])); // a reply short of a put: that put gets a 5xx (may have applied)
    const last = await queued[2];
    expect(last?.ok === false && last.error.kind === 'remote_error' && last.error.status).toBe(502);
  });
});

describe('put batch message', () => {
  let cluster: FakeCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('applies every put of a batch and replies in order; one malformed put refuses the whole batch, nothing applied', async () => {
    cluster = await FakeCluster.start(3, { 'anti-entropy-ms': 0 });
    const n2 = cluster.node('n2');
    const good = { key: 'b', mode: 'merge', version: { c: { n1: 1 }, d: [['k:x', 2]] } };
    const bad = { key: 'c', mode: 'merge', version: { c: { n1: 1 }, d: 'nope' } };
    await expect(n2.handlePeer('n1', MSG.putBatch, { puts: [good, bad] })).rejects.toThrow(BadRequestError);
    await expect(n2.handlePeer('n1', MSG.putBatch, { puts: [good, bad] })).rejects.toThrow(/puts\[1\]/);
    expect(n2.replica.keyCount).toBe(0);
    await expect(n2.handlePeer('n1', MSG.putBatch, { puts: [] })).rejects.toThrow(BadRequestError);
    const second = { key: 'b', mode: 'merge', version: { c: { n1: 2 }, d: [['k:y', 3]] } };
    const reply = (await n2.handlePeer('n1', MSG.putBatch, { puts: [good, second, good] })) as { replies: PutReply[] };
    expect(reply.replies.map((r) => r.status)).toEqual(['stored', 'stored', 'duplicate']);
    expect(reply.replies.map((r) => (r.status === 'refused' ? -1 : r.value))).toEqual([2, 5, 5]);
    expect(n2.store.records).toBe(3);
  });
});
