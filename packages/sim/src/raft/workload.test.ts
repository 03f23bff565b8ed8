/**
 * Clients under faults: every history must be linearizable, within the counter bounds, and
 * converge with no acknowledged increment lost or applied twice (the run's checkers).
 */
import { describe, expect, it } from 'vitest';
import type { RunOverrides } from '../options.js';
import type { RunResult } from '../run.js';
import { runRaftSeed } from './run.js';

function expectClean(result: RunResult): void {
  expect(result.failure).toBeNull();
  for (const v of result.verdicts) expect(`${v.checker}: ${v.valid}`).toBe(`${v.checker}: true`);
  // Not vacuous: clients got real work acknowledged.
  expect(result.stats.ops.ok).toBeGreaterThan(50);
}

const calm: RunOverrides = { crashWeight: 0, partitionWeight: 0, nodes: 5, safetyMs: 10_000 };

describe('Raft counter histories in the simulator', () => {
  it('stay linearizable on an unreliable network (10% loss each way, jitter)', () => {
    const result = runRaftSeed(41, { ...calm, network: { lossRate: 0.1, jitterMs: 20, delayMs: 2, duplicateRate: 0.02, longDelayRate: 0 } });
    expectClean(result);
    expect(result.stats.messagesDropped).toBeGreaterThan(result.stats.messagesSent * 0.08);
  });

  it('stay linearizable under long reordering', () => {
    const result = runRaftSeed(42, { ...calm, network: { lossRate: 0, jitterMs: 30, delayMs: 1, duplicateRate: 0.05, longDelayRate: 0.1, longDelayMs: 2_000 } });
    expectClean(result);
  });

  it('keep every acknowledged increment through churn (crashes, restarts, partitions)', () => {
    const result = runRaftSeed(43, {
      nodes: 5,
      safetyMs: 10_000,
      crashWeight: 2, // as often a random node as the leader
      partitionWeight: 3,
      faultEveryMs: 300,
      network: { lossRate: 0.02, longDelayRate: 0.01 },
      client: { clients: 5 },
    });
    expectClean(result);
    expect(result.stats.crashes).toBeGreaterThan(5);
    expect(result.stats.ops.info).toBeGreaterThan(0); // some outcomes were unknown, and handled as such
  });
});
