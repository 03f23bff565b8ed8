import { afterEach, describe, expect, it } from 'vitest';
import type { FaultSpec } from './faults.js';
import { eventually, startCluster, type TestNode } from './test-cluster.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

const NO_FAULT: FaultSpec = { partition: [], direction: 'both', mode: 'blackhole', delayMs: 0, jitterMs: 0, dropRate: 0, duplicateRate: 0 };

async function cluster(extra: Parameters<typeof startCluster>[1] = {}, listen?: string[]) {
  const c = await startCluster(['n1', 'n2'], extra, listen ?? ['n1', 'n2']);
  cleanup = c.close;
  return { ...c, n1: c.nodes['n1'] as TestNode, n2: c.nodes['n2'] as TestNode };
}

async function timed<T>(p: Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await p;
  return [v, performance.now() - t];
}

function metric(text: string, pattern: RegExp): number {
  const m = pattern.exec(text);
  return m ? Number(m[1]) : 0;
}

describe('outbound faults', () => {
  it('blackhole: the call hangs until the timeout, then `timeout`, and nothing arrives', async () => {
    const { n1, n2 } = await cluster();
    n1.server.faults.set({ ...NO_FAULT, partition: ['n2'], direction: 'out' });
    const [r, ms] = await timed(n1.server.transport.call('n2', 'x', 1, { timeoutMs: 150 }));
    expect(r.ok === false && r.error.kind).toBe('timeout');
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(ms).toBeLessThan(600);
    expect(n2.received).toHaveLength(0);
  });

  it('reject: the call fails at once with `unreachable`', async () => {
    const { n1, n2 } = await cluster();
    n1.server.faults.set({ ...NO_FAULT, partition: ['n2'], mode: 'reject' });
    const [r, ms] = await timed(n1.server.transport.call('n2', 'x', 1, { timeoutMs: 2000 }));
    expect(r.ok === false && r.error.kind).toBe('unreachable');
    expect(ms).toBeLessThan(100);
    expect(n2.received).toHaveLength(0);
  });

  it('drop: every message lost shows as `timeout` and is counted', async () => {
    const { n1, n2 } = await cluster();
    n1.server.faults.set({ ...NO_FAULT, dropRate: 1 });
    const [r, ms] = await timed(n1.server.transport.call('n2', 'x', 1, { timeoutMs: 100 }));
    expect(r.ok === false && r.error.kind).toBe('timeout');
    expect(ms).toBeGreaterThanOrEqual(90);
    expect(n2.received).toHaveLength(0);
    const text = await n1.registry.metrics();
    expect(metric(text, /peer_messages_dropped_total\{peer="n2",type="x",direction="out",cause="drop"\} (\d+)/)).toBe(1);
  });

  it('duplicate: the handler runs twice, the caller sees one reply', async () => {
    const { n1, n2 } = await cluster();
    n1.server.faults.set({ ...NO_FAULT, duplicateRate: 1 });
    const r = await n1.server.transport.call('n2', 'x', 'once?');
    expect(r).toEqual({ ok: true, value: { echo: 'once?' } });
    await eventually(() => n2.received.length === 2, 2000, 'the duplicate');
    expect(metric(await n1.registry.metrics(), /peer_messages_duplicated_total\{peer="n2",type="x"\} (\d+)/)).toBe(1);
  });

  it('delay: each message takes delayMs ± jitterMs longer; past the timeout it is a `timeout`', async () => {
    const { n1 } = await cluster();
    n1.server.faults.set({ ...NO_FAULT, delayMs: 120, jitterMs: 20 });
    const [r, ms] = await timed(n1.server.transport.call('n2', 'x', 1));
    expect(r.ok).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(95);
    n1.server.faults.set({ ...NO_FAULT, delayMs: 300 });
    const [late, lateMs] = await timed(n1.server.transport.call('n2', 'x', 1, { timeoutMs: 100 }));
    expect(late.ok === false && late.error.kind).toBe('timeout');
    expect(lateMs).toBeLessThan(250);
    n1.server.faults.clear();
    const [fast, fastMs] = await timed(n1.server.transport.call('n2', 'x', 1));
    expect(fast.ok).toBe(true);
    expect(fastMs).toBeLessThan(90);
  });

  it('never faults a call to this node itself', async () => {
    const { n1 } = await cluster();
    n1.server.faults.set({ ...NO_FAULT, partition: ['n2'], dropRate: 1 });
    expect((await n1.server.transport.call('n1', 'x', 1, { timeoutMs: 500 })).ok).toBe(true);
  });
});

describe('inbound faults', () => {
  it('blackhole: the request is held until the sender times out, and the handler never runs', async () => {
    const { n1, n2 } = await cluster();
    n2.server.faults.set({ ...NO_FAULT, partition: ['n1'], direction: 'in' });
    const [r, ms] = await timed(n1.server.transport.call('n2', 'x', 1, { timeoutMs: 150 }));
    expect(r.ok === false && r.error.kind).toBe('timeout');
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(n2.received).toHaveLength(0);
    // n2's own calls out are not affected (direction in)
    expect((await n2.server.transport.call('n1', 'x', 1)).ok).toBe(true);
  });

  it('reject: the socket is destroyed at once, the sender sees `unreachable`', async () => {
    const { n1, n2 } = await cluster();
    n2.server.faults.set({ ...NO_FAULT, partition: ['n1'], direction: 'in', mode: 'reject' });
    const [r, ms] = await timed(n1.server.transport.call('n2', 'x', 1, { timeoutMs: 2000 }));
    expect(r.ok === false && r.error.kind).toBe('unreachable');
    expect(ms).toBeLessThan(200);
    expect(n2.received).toHaveLength(0);
    const res = await fetch(`${n2.url}/echo`, { method: 'POST', body: '{}' }); // clients still get through
    expect(res.status).toBe(200);
  });
});

describe('bounds, breaker and retries', () => {
  it('fails at once with `overloaded` past maxInFlightPerPeer, without sending', async () => {
    const { n1, n2 } = await cluster({ maxInFlightPerPeer: 2 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    n2.handler = async () => gate;
    const slow = [n1.server.transport.call('n2', 'x', 1), n1.server.transport.call('n2', 'x', 2)];
    await eventually(() => n2.received.length === 2, 2000, 'two calls in flight');
    expect(n1.server.transport.stats()['n2']?.inFlight).toBe(2);
    const r = await n1.server.transport.call('n2', 'x', 3);
    expect(r.ok === false && r.error.kind).toBe('overloaded');
    release();
    expect((await Promise.all(slow)).every((x) => x.ok)).toBe(true);
    expect(n2.received).toHaveLength(2);
  });

  it('opens the breaker after repeated network failures and closes it when the peer is back', async () => {
    const { n1, n2 } = await cluster({ breaker: { resetTimeoutMs: 200 } });
    const t = n1.server.transport;
    n1.server.faults.set({ ...NO_FAULT, partition: ['n2'], mode: 'reject' });
    for (let i = 0; i < 5; i++) expect((await t.call('n2', 'x', i)).ok).toBe(false);
    expect(t.breakerState('n2')).toBe('open');
    const r = await t.call('n2', 'x', 1);
    expect(r.ok === false && r.error.kind).toBe('circuit_open');
    expect(metric(await n1.registry.metrics(), /peer_circuit_breaker_state\{peer="n2"\} (\d+)/)).toBe(2);
    n1.server.faults.clear();
    await eventually(async () => (await t.call('n2', 'x', 1)).ok, 3000, 'the breaker to let a call through');
    expect(t.breakerState('n2')).toBe('closed');
    expect(n2.received.length).toBeGreaterThan(0);
    // remote errors do not trip it
    n2.handler = async () => {
      throw new Error('boom');
    };
    for (let i = 0; i < 10; i++) await t.call('n2', 'x', i);
    expect(t.breakerState('n2')).toBe('closed');
  });

  it('pings a peer whose breaker is open and closes it at the first answer, long before resetTimeout', async () => {
    // resetTimeout of a minute: opossum's own half-open probe cannot be what closes it here.
    const { n1, n2 } = await cluster({ breaker: { resetTimeoutMs: 60_000 } });
    const t = n1.server.transport;
    const back: string[] = [];
    t.onReachable((peer) => back.push(peer));
    n1.server.faults.set({ ...NO_FAULT, partition: ['n2'] }); // blackhole: pings hang too
    await Promise.all(Array.from({ length: 5 }, (_, i) => t.call('n2', 'x', i, { timeoutMs: 50 })));
    expect(t.breakerState('n2')).toBe('open');
    const pings = async (): Promise<number> => metric(await n1.registry.metrics(), /peer_messages_dropped_total\{peer="n2",type="transport.ping",direction="out",cause="blackhole"\} (\d+)/);
    await eventually(async () => (await pings()) >= 2, 3000, 'pings into the blackhole');
    expect(t.breakerState('n2')).toBe('open');
    expect(back).toEqual([]);
    const healed = performance.now();
    n1.server.faults.clear();
    await eventually(() => t.breakerState('n2') === 'closed', 3000, 'a ping to close the breaker');
    expect(performance.now() - healed).toBeLessThan(1000);
    expect(back).toEqual(['n2']);
    // Answered by n2's transport: its topology never saw a ping.
    expect(n2.received).toHaveLength(0);
    expect((await t.call('n2', 'x', 'after')).ok).toBe(true);
  });

  it('a ping without a valid signature is refused like any peer message', async () => {
    const { n2 } = await cluster();
    const res = await fetch(`${n2.url}/peer/transport.ping`, {
      method: 'POST',
      body: new Uint8Array([0xc0]),
      headers: { 'content-type': 'application/msgpack', 'x-peer-from': 'n1', 'x-peer-to': 'n2', 'x-peer-ts': String(Date.now()) },
    });
    expect(res.status).toBe(401);
  });

  it('retries with backoff until the peer comes up', async () => {
    const c = await cluster({}, ['n1']); // n2 not listening yet: connection refused
    const t = c.n1.server.transport;
    const first = await t.call('n2', 'x', 1, { timeoutMs: 200 });
    expect(first.ok === false && first.error.kind).toBe('unreachable');
    const call = timed(t.call('n2', 'x', 'hi', { timeoutMs: 200, retries: 6 }));
    setTimeout(() => void c.start('n2'), 100);
    const [r, ms] = await call;
    expect(r).toEqual({ ok: true, value: { echo: 'hi' } });
    expect(ms).toBeGreaterThanOrEqual(90);
    expect(c.n2.received).toHaveLength(1);
  });

  it('does not retry a remote error', async () => {
    const { n1, n2 } = await cluster();
    n2.handler = async () => {
      throw new Error('boom');
    };
    const r = await n1.server.transport.call('n2', 'x', 1, { retries: 3 });
    expect(r.ok === false && r.error.kind).toBe('remote_error');
    expect(n2.received).toHaveLength(1);
  });
});
