import type { NodeId } from '@playground/core';
import { describe, expect, it } from 'vitest';
import type { Dot } from './core/types.js';
import { IdemChecker, type AskPeer } from './idem-check.js';

const dot = (idem: string): Dot => ({ origin: 'n2', seq: 1, idem, key: 'c', delta: 1, deps: {} });

function checker(ask: AskPeer, deadlineMs = 1000, rpcTimeoutMs = 1000) {
  const absorbed: [NodeId, string[]][] = [];
  const c = new IdemChecker(
    () => ['n2', 'n3'],
    deadlineMs,
    rpcTimeoutMs,
    ask,
    async (from, dots) => void absorbed.push([from, dots.map((d) => d.idem)]),
    () => undefined,
  );
  return { c, absorbed };
}

describe('batched idempotency checks', () => {
  it('asks each peer once for the keys of one turn, merges what they hold before releasing them', async () => {
    const asked: [NodeId, string[]][] = [];
    const { c, absorbed } = checker(async (peer, keys) => {
      asked.push([peer, [...keys]]);
      return peer === 'n3' ? [dot('b')] : [];
    });
    await Promise.all(['a', 'b', 'c', 'a'].map((k) => c.check(k)));
    expect(asked).toEqual([
      ['n2', ['a', 'b', 'c']],
      ['n3', ['a', 'b', 'c']],
    ]);
    expect(absorbed).toEqual([['n3', ['b']]]);
    expect(c.batches).toBe(1);
  });

  it('gathers the keys that arrive while a batch is in flight into the next one', async () => {
    const asked: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { c } = checker(async (peer, keys) => {
      if (peer === 'n2') asked.push([...keys]);
      if (keys.includes('first')) await gate;
      return [];
    });
    const first = c.check('first');
    await new Promise((r) => setImmediate(r));
    const later = ['x', 'y', 'z'].map((k) => c.check(k));
    release();
    await Promise.all([first, ...later]);
    expect(asked).toEqual([['first'], ['x', 'y', 'z']]);
  });

  it('waits for a silent peer only until the deadline, and leaves it out while two questions to it are open', async () => {
    const asked: [NodeId, string[]][] = [];
    const { c } = checker(
      (peer, keys) => {
        asked.push([peer, [...keys]]);
        return peer === 'n3' ? new Promise<never>(() => undefined) : Promise.resolve([]);
      },
      20,
      60_000,
    );
    const started = Date.now();
    await c.check('one');
    await c.check('two');
    await c.check('three');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(asked).toEqual([
      ['n2', ['one']],
      ['n3', ['one']],
      ['n2', ['two']],
      ['n3', ['two']],
      ['n2', ['three']],
    ]);
  });
});
