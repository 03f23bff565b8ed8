import { describe, expect, it } from 'vitest';
import { awaitConvergence } from './runner.js';

/** Nodes whose values are a function of the time since the fake started. */
function fakeNodes(valueAt: (node: string, elapsedMs: number) => number | null) {
  const started = performance.now();
  return {
    nodes: ['n1', 'n2', 'n3'],
    ownValue: async (node: string) => valueAt(node, performance.now() - started),
  };
}

describe('awaitConvergence', () => {
  // The last three increments still spreading: each node misses a different one, all read 316.
  const lateIncrements = () => fakeNodes((_node, ms) => (ms < 60 ? 316 : 317));

  it('does not take a passing coincidence of equal values for the end state', async () => {
    const result = await awaitConvergence(lateIncrements(), 'k', 5_000, 150);
    expect(result.values).toEqual({ n1: 317, n2: 317, n3: 317 });
    expect(result.ms).toBeGreaterThanOrEqual(55);
  });

  it('would have, without the settle time (the harness bug this guards against)', async () => {
    const result = await awaitConvergence(lateIncrements(), 'k', 5_000, 0);
    expect(result.values).toEqual({ n1: 316, n2: 316, n3: 316 });
  });

  it('keeps polling while nodes disagree, and says so at the deadline', async () => {
    const result = await awaitConvergence(fakeNodes((node) => (node === 'n2' ? 4 : 5)), 'k', 100, 50);
    expect(result.ms).toBeNull();
    expect(result.values).toEqual({ n1: 5, n2: 4, n3: 5 });
  });

  it('treats a node that cannot answer as not agreeing', async () => {
    const result = await awaitConvergence(fakeNodes((node, ms) => (node === 'n3' && ms < 80 ? null : 7)), 'k', 5_000, 50);
    expect(result.values).toEqual({ n1: 7, n2: 7, n3: 7 });
    expect(result.ms).toBeGreaterThanOrEqual(75);
  });
});
