/**
 * Random runs: each seed picks the cluster size, the network's weather, the faults and the
 * workload; a failure names the seed and the command that replays it. Nightly size:
 *   npm run sim -- --topology raft --seeds 10000
 */
import { describe, expect, it } from 'vitest';
import { runRaftSeed } from './run.js';

const SEEDS = Number(process.env.SIM_SEEDS ?? 200);
const FIRST_SEED = Number(process.env.SIM_FIRST_SEED ?? 1);

describe(`Raft under ${SEEDS} random seeds`, () => {
  it('keeps every safety property, converges after healing, and passes the history checkers', () => {
    const failures: string[] = [];
    let acknowledged = 0;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const result = runRaftSeed(seed);
      acknowledged += result.stats.ops.ok;
      if (!result.ok) failures.push(result.failure as string);
    }
    expect(failures.slice(0, 3).join('\n\n')).toBe('');
    expect(acknowledged).toBeGreaterThan(SEEDS * 20);
  });
});

describe('a seed', () => {
  it('replays exactly: same seed, same history, same messages', () => {
    const a = runRaftSeed(7);
    const b = runRaftSeed(7);
    expect(a.history.length).toBeGreaterThan(20);
    expect(JSON.stringify(b.history)).toBe(JSON.stringify(a.history));
    expect(b.stats.messagesSent).toBe(a.stats.messagesSent);
    expect(runRaftSeed(8).stats.messagesSent).not.toBe(a.stats.messagesSent);
  });
});
