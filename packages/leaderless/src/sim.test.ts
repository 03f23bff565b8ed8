/**
 * The leaderless core in the deterministic simulator (packages/sim): each seed picks the cluster
 * (3-7 nodes, N=3, any W and R, sloppy or strict quorums, read repair on or off), the network's
 * weather, partitions, crashes with disks that lose unsynced writes, and the clients. After the
 * heal, hinted handoff and anti-entropy must bring every owner of every key to the same object,
 * and the shared checkers judge the history (Maelstrom's convergence rule, Jepsen's counter
 * bounds with stale reads allowed, each Idempotency-Key applied as promised).
 * A failure prints the command that replays it; more seeds (nightly):
 *   npm run sim -- --topology leaderless --seeds 10000
 *   LEADERLESS_SIM_SEEDS=2000 npx vitest run packages/leaderless/src/sim.test.ts
 */
import { optionsForSeed, runSeed, runTopologySeed, type RunResult } from '@playground/sim';
import { describe, expect, it } from 'vitest';
import { leaderlessSimTopology } from './sim-adapter.js';

const SEEDS = Number(process.env.LEADERLESS_SIM_SEEDS ?? 200);
const FIRST_SEED = Number(process.env.LEADERLESS_SIM_FIRST_SEED ?? 1);
// A 2 s safety phase (the seeded default is 2-6 s) keeps 200 seeds near 10 s of CPU; the CLI's
// nightly runs use the seeded length. A failure's replay command carries --safety-ms 2000.
const OVERRIDES = { safetyMs: 2_000 };

describe(`leaderless (merge) under ${SEEDS} random seeds`, () => {
  it('ends, after heal and anti-entropy, with every replica at the acknowledged increments plus a subset of the indeterminate ones', () => {
    const failures: string[] = [];
    let acknowledged = 0;
    let indeterminate = 0;
    for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
      const result = runTopologySeed('leaderless', seed, OVERRIDES);
      acknowledged += result.stats.ops.ok;
      indeterminate += result.stats.ops.info;
      if (!result.ok) failures.push(result.failure as string);
    }
    expect(failures.slice(0, 3).join('\n\n')).toBe('');
    // The runs did work, and faults made some outcomes unknown (or the test proves little).
    expect(acknowledged).toBeGreaterThan(SEEDS * 20);
    expect(indeterminate).toBeGreaterThan(0);
  });

  it('replays exactly: same seed, same history, same messages', () => {
    const a = runTopologySeed('leaderless', 7);
    const b = runTopologySeed('leaderless', 7);
    expect(a.history.length).toBeGreaterThan(20);
    expect(JSON.stringify(b.history)).toBe(JSON.stringify(a.history));
    expect(b.stats.messagesSent).toBe(a.stats.messagesSent);
    expect(runTopologySeed('leaderless', 8).stats.messagesSent).not.toBe(a.stats.messagesSent);
  });
});

describe('leaderless (lww) under concurrent increments', () => {
  // Five clients incrementing one key through different coordinators: read-modify-writes race.
  const concurrent = { client: { clients: 5, keys: ['counter'], readRate: 0.1, thinkMs: 5 } };
  const convergence = (r: RunResult) => r.verdicts.find((v) => v.checker === 'final-convergence');

  it('loses acknowledged increments; the convergence checker detects and measures the loss, the replicas count it', () => {
    const seeds = [1, 2, 3, 4, 5];
    const lost = seeds.map((seed) => {
      const lww = runTopologySeed('leaderless', seed, concurrent, { resolve: 'lww' });
      const verdict = convergence(lww);
      if (verdict?.valid !== false) return 0;
      expect(lww.ok).toBe(false);
      expect(lww.failure).toContain(`npm run sim -- --topology leaderless --seed ${seed}`);
      expect(lww.failure).toContain('--resolve lww');
      expect(verdict.summary).toMatch(/lost increments/);
      // The replicas counted the values they threw away (the driver's lww_overwritten metric).
      expect(lww.failure).toMatch(/lwwOverwritten=[1-9]/);
      return (verdict.details as { lostTotal: number }).lostTotal;
    });
    // Not a quirk of one schedule: most of them lose something.
    expect(lost.filter((n) => n > 0).length).toBeGreaterThanOrEqual(3);
    // The same schedules with merge lose nothing: the lesson is the resolution, not the schedule.
    for (const seed of seeds) {
      const merge = runTopologySeed('leaderless', seed, concurrent);
      expect(merge.failure).toBeNull();
      expect(convergence(merge)?.valid).toBe(true);
    }
  });
});

describe('the checkers catch a broken leaderless driver', () => {
  it('a replica that acknowledges a put before its fsync loses acknowledged increments in crashes', () => {
    // W=1, R=1 and frequent crashes: one acknowledgement is the only promise, and it was not on disk.
    const heavyCrashes = { crashWeight: 4, client: { clients: 4 } };
    for (const seed of [5, 9]) {
      const options = optionsForSeed(seed, heavyCrashes);
      const run = (ackBeforeSync: boolean): RunResult =>
        runSeed({ topology: leaderlessSimTopology({ w: 1, r: 1, ackBeforeSync }), options, replay: `seed ${seed} (broken driver test)` });
      const broken = run(true);
      expect(broken.ok).toBe(false);
      expect(broken.failure).toMatch(/final-convergence: .*lost increments/);
      expect(run(false).failure).toBeNull();
    }
  });
});
