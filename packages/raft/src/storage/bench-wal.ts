/**
 * Measures RaftLogFile saves on this disk: `npx tsx packages/raft/src/storage/bench-wal.ts [dir]`.
 * Prints saves/s and latency percentiles for 1-entry and 64-entry saves awaited one at a time
 * (what a driver with one Ready in flight sees), and for 1-entry saves 32 at a time (group commit).
 * Prints, never asserts: timings belong to the machine.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry } from '../core/types.js';
import { RaftLogFile } from './wal.js';

const DURATION_MS = Number(process.env.BENCH_MS ?? 2000);

function makeEntries(from: number, count: number): Entry[] {
  return Array.from({ length: count }, (_, i) => ({
    term: 1,
    index: from + i,
    command: { kind: 'incr', key: 'counter', delta: 1, idem: `bench-${from + i}-0123456789abcdef`, proposedAtMs: Date.now() },
  }));
}

function percentile(sortedMs: readonly number[], p: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor((p / 100) * sortedMs.length))] ?? Number.NaN;
}

async function measure(parent: string, entriesPerSave: number, inFlight: number, fsync: boolean): Promise<string> {
  const dir = await mkdtemp(join(parent, 'raft-wal-bench-'));
  try {
    const { log } = await RaftLogFile.open(dir, { fsync });
    const latenciesMs: number[] = [];
    let next = 1;
    const started = performance.now();
    const worker = async () => {
      while (performance.now() - started < DURATION_MS) {
        const batch = makeEntries(next, entriesPerSave);
        next += entriesPerSave;
        const t0 = performance.now();
        await log.save({ term: 1, vote: 'n1', commit: 0 }, batch);
        latenciesMs.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    const elapsedS = (performance.now() - started) / 1000;
    await log.close();
    latenciesMs.sort((a, b) => a - b);
    const savesPerS = latenciesMs.length / elapsedS;
    return [
      `${entriesPerSave} entr${entriesPerSave === 1 ? 'y' : 'ies'}/save, ${inFlight} in flight, fsync ${fsync ? 'on ' : 'off'}:`,
      `${savesPerS.toFixed(0)} saves/s (${(savesPerS * entriesPerSave).toFixed(0)} entries/s),`,
      `p50 ${percentile(latenciesMs, 50).toFixed(2)} ms, p99 ${percentile(latenciesMs, 99).toFixed(2)} ms`,
    ].join(' ');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const parent = process.argv[2] ?? tmpdir();
console.log(`RaftLogFile on ${parent}, ${DURATION_MS} ms per case, node ${process.version}`);
for (const [entriesPerSave, inFlight, fsync] of [
  [1, 1, true],
  [64, 1, true],
  [1, 32, true],
  [1, 1, false],
  [64, 1, false],
] as const) {
  console.log(await measure(parent, entriesPerSave, inFlight, fsync));
}
