import { describe, expect, it } from 'vitest';
import { ok, type PeerTransport, type Result, type RpcFailure } from '@playground/core';
import type { Message } from './core/types.js';
import { isOrderFree, PeerSender } from './peer-sender.js';

const app = (prevIndex: number, entries: number): Message => ({
  type: 'app',
  from: 'n1',
  to: 'n2',
  term: 1,
  prevIndex,
  prevTerm: 1,
  entries: Array.from({ length: entries }, (_, i) => ({ term: 1, index: prevIndex + 1 + i, command: null })),
  commit: 0,
});
const hb: Message = { type: 'hb', from: 'n1', to: 'n2', term: 1, commit: 0, context: null };

/** A transport whose calls stay open until released, recording each batch. */
function heldTransport() {
  const calls: { batch: Message[]; release: () => void }[] = [];
  const transport: PeerTransport = {
    call: <T>(_peer: string, _type: string, body: unknown) =>
      new Promise<Result<T, RpcFailure>>((resolve) => {
        calls.push({ batch: body as Message[], release: () => resolve(ok([] as unknown as T)) });
      }),
  };
  return { transport, calls };
}

const flush = () => new Promise((r) => setImmediate(r));

describe('PeerSender', () => {
  it('knows which messages mean the same whenever they arrive', () => {
    expect(isOrderFree(hb)).toBe(true);
    expect(isOrderFree(app(4, 0))).toBe(true);
    expect(isOrderFree(app(4, 2))).toBe(false);
  });

  it('keeps appends with entries in order, one request at a time, and lets heartbeats and commit updates pass', async () => {
    const { transport, calls } = heldTransport();
    const sender = new PeerSender({ transport, peer: 'n2', rpcTimeoutMs: 100, maxQueuedMessages: 100, onDropped: () => undefined, onReply: () => undefined });
    sender.send([app(0, 2)]);
    sender.send([app(2, 1), app(3, 0), hb]);
    // The ordered lane waits for its first request; the order-free messages do not.
    expect(calls.map((c) => c.batch.map((m) => (m.type === 'app' ? `app${m.prevIndex}+${m.entries.length}` : m.type)))).toEqual([['app0+2'], ['app3+0', 'hb']]);
    calls[0]?.release();
    await flush();
    expect(calls[2]?.batch.map((m) => (m.type === 'app' ? m.prevIndex : -1))).toEqual([2]);
    expect(sender.queued).toBe(0);
  });
});
