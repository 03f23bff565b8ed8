/**
 * End to end: the bench against real node processes, with tiny durations. Checks the files it
 * writes and the verdicts in them, not the timings. Also: bad arguments exit 2 and start nothing.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { fromJsonLines } from '@playground/checkers';
import { parseBenchArgs } from './args.js';
import { availableModules, knobsOf, resolvePlan, runBench } from './bench.js';
import { Progress } from './progress.js';
import type { RunSummary } from './summary.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('npm run bench (end to end)', () => {
  it('runs isolate-leader against raft (and crdt when present), writes history, summary, report, charts and README', async () => {
    const out = await mkdtemp(join(tmpdir(), 'bench-e2e-'));
    dirs.push(out);
    const modules = await availableModules();
    const topologies = modules.has('crdt') ? 'raft,crdt' : 'raft';
    const knobs = knobsOf(modules).map((k) => k.spec);
    const options = parseBenchArgs(['--topology', topologies, '--scenario', 'isolate-leader', '--duration', '3', '--rate', '40', '--connections', '2', '--seed', '5', '--out', out], knobs);
    const plan = resolvePlan(options, modules, true);
    const outcomes = await runBench(options, plan.topologies, plan.flags, { progress: new Progress(false), signal: new AbortController().signal });
    expect(outcomes.map((o) => o.summary.topology)).toEqual(plan.topologies);

    for (const { dir } of outcomes) {
      const files = await readdir(dir);
      expect(files.sort()).toEqual(['availability.svg', 'history.jsonl', 'latency.svg', 'report.md', 'summary.json']);
      const summary = JSON.parse(await readFile(join(dir, 'summary.json'), 'utf8')) as RunSummary;
      const history = fromJsonLines(await readFile(join(dir, 'history.jsonl'), 'utf8'));
      expect(history.length).toBe(summary.operations.total);
      expect(history.length).toBeGreaterThan(60);
      expect(history.every((op) => op.phase !== undefined && op.side !== undefined)).toBe(true);
      // The isolated node is the minority; both sides appear in the history.
      expect(new Set(history.map((op) => op.side))).toEqual(new Set(['minority', 'majority']));
      expect(summary.consistency.verdict).toBe(true);
      expect(summary.consistency.lostIncrements).toBe(0);
      expect(summary.consistency.duplicatedIncrements).toBe(0);
      const checkers = summary.consistency.verdicts.map((v) => v.checker);
      expect(checkers).toEqual(expect.arrayContaining(['counter-bounds', 'final-convergence', 'no-duplicates']));
      if (summary.topology === 'raft') expect(checkers).toContain('linearizable');
      expect(summary.faultWindow).not.toBeNull();
      expect(summary.events.map((e) => e.what).join(' ')).toMatch(/partition.*fault in force.*heal requested.*healed/);
      // Phases as they happened tile the run, and the shaded fault is the during phase.
      const [b, d, a] = summary.phases;
      expect(b?.endMs).toBe(d?.startMs);
      expect(d?.endMs).toBe(a?.startMs);
      expect(summary.faultWindow).toEqual({ fromMs: d?.startMs, toMs: d?.endMs });
      expect(summary.provenance.node).toBe(process.version);
      expect(summary.settings.seed).toBe(5);
      expect(summary.harness.cpuMsPer1000Ops).toBeGreaterThan(0);
      expect(summary.throughput.closedLoop.incr?.okPerSec).toBeGreaterThan(0);
      expect(summary.histograms.length).toBeGreaterThan(0);
      const svg = await readFile(join(dir, 'latency.svg'), 'utf8');
      expect(svg).toMatch(/^<svg/);
      expect(svg).toContain('latency (ms, log)');
      expect(await readFile(join(dir, 'report.md'), 'utf8')).toContain(`# ${summary.topology} / isolate-leader`);
    }
    const readme = await readFile(join(out, 'README.md'), 'utf8');
    for (const { summary } of outcomes) expect(readme).toMatch(new RegExp(`\\| isolate-leader \\| ${summary.topology} \\| pass \\|`));
  }, 90_000);

  it('refuses bad arguments with one line naming the flag, exit 2, nothing started or written', () => {
    const out = join(tmpdir(), `bench-e2e-never-${process.pid}`);
    const r = spawnSync(process.execPath, ['--import', '@playground/node/register', 'bench/src/cli.ts', '--scenario', 'meteor', '--out', out], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--scenario meteor: expected one of .*isolate-one/);
    expect(existsSync(out)).toBe(false);
  }, 30_000);
});
