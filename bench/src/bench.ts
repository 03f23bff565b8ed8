/**
 * The bench as a library: for each topology, start (or connect to) a cluster, measure closed-
 * loop throughput, run each scenario, stop everything it started; then regenerate the README.
 */
import { readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { KnobSpec, TopologyModule } from '@playground/core';
import { loadTopology, parseKnobs, UsageError } from '@playground/node';
import type { BenchOptions, BenchTopology } from './args.js';
import { runClosedLoop, type ClosedLoopResult } from './closed-loop.js';
import { ETCD_MISSING, b64, etcdVersion } from './etcd.js';
import { keySequence, rotatingKeys } from './keys.js';
import { Progress } from './progress.js';
import { readmeTable } from './report.js';
import { runScenario, type RunOutcome } from './runner.js';
import { scenarioApplies } from './scenarios.js';
import type { RunSummary } from './summary.js';
import { connectEndpoints, startEmbedded, startEtcd, type Target } from './target.js';

export type NodeTopology = 'raft' | 'leaderless' | 'crdt';

/** The topology modules that load in this checkout (others may still be being written). */
export async function availableModules(): Promise<Map<NodeTopology, TopologyModule>> {
  const out = new Map<NodeTopology, TopologyModule>();
  for (const name of ['raft', 'leaderless', 'crdt'] as const) {
    try {
      out.set(name, await loadTopology(name));
    } catch {
      /* not available: reported when asked for */
    }
  }
  return out;
}

export function knobsOf(modules: ReadonlyMap<NodeTopology, TopologyModule>): { topology: string; spec: KnobSpec }[] {
  return [...modules].flatMap(([topology, m]) => m.knobs.map((spec) => ({ topology, spec })));
}

/**
 * Checks what was asked against what exists, before anything starts: the topologies, etcd,
 * and each knob (validated by every selected topology that has it). Returns each topology's
 * node flags. Throws UsageError.
 */
export function resolvePlan(options: BenchOptions, modules: ReadonlyMap<NodeTopology, TopologyModule>, explicitTopology: boolean): { topologies: BenchTopology[]; flags: Map<BenchTopology, Record<string, string | boolean>>; skipped: string[] } {
  const topologies: BenchTopology[] = [];
  const skipped: string[] = [];
  for (const t of options.topologies) {
    if (t === 'etcd') {
      if (etcdVersion() === null) {
        if (explicitTopology) throw new UsageError(`--topology etcd: ${ETCD_MISSING}`);
        skipped.push(`etcd: ${ETCD_MISSING}`);
        continue;
      }
      topologies.push(t);
    } else if (!modules.has(t)) {
      if (explicitTopology) throw new UsageError(`--topology ${t}: this checkout has no working ${t} topology yet (packages/${t} does not load)`);
      skipped.push(`${t}: packages/${t} does not load yet`);
    } else topologies.push(t);
  }
  const flags = new Map<BenchTopology, Record<string, string | boolean>>();
  for (const t of topologies) flags.set(t, {});
  for (const [name, value] of Object.entries(options.knobs)) {
    const owners = topologies.filter((t) => t !== 'etcd' && modules.get(t)?.knobs.some((k) => k.name === name));
    if (owners.length === 0) {
      const known = [...modules].filter(([, m]) => m.knobs.some((k) => k.name === name)).map(([t]) => t);
      throw new UsageError(`--${name} is a ${known.join('/') || 'unknown'} knob, but the selected topologies are ${topologies.join(', ')}`);
    }
    for (const t of owners) {
      const m = modules.get(t as NodeTopology) as TopologyModule;
      const parsed = parseKnobs(m.knobs, new Map([[name, value]]));
      const problem = m.checkKnobs?.(parsed, options.nodes);
      if (problem) throw new UsageError(problem);
      (flags.get(t) as Record<string, string | boolean>)[name] = value;
    }
  }
  return { topologies, flags, skipped };
}

async function closedLoop(target: Target, options: BenchOptions, signal: AbortSignal): Promise<{ incr: ClosedLoopResult | null; read: ClosedLoopResult | null }> {
  if (options.connections === 0) return { incr: null, read: null };
  const durationS = Math.max(1, Math.round(options.durationS / 3));
  const node = (await target.leader()) ?? (target.nodes[0] as string);
  const url = target.urlOf(node);
  if (target.topology === 'etcd') {
    const incr = await runClosedLoop({ label: 'PUT /v3/kv/put (plain puts, not increments)', url: `${url}/v3/kv/put`, method: 'POST', body: JSON.stringify({ key: b64('bench-put'), value: b64('x') }), connections: options.connections, durationS, signal });
    const read = await runClosedLoop({ label: 'POST /v3/kv/range (linearizable)', url: `${url}/v3/kv/range`, method: 'POST', body: JSON.stringify({ key: b64('bench-put') }), connections: options.connections, durationS, signal });
    return { incr, read };
  }
  // Keys of this run's own, a fresh one every INCREMENTS_PER_KEY increments: repeated runs on one
  // cluster, or a long one, never bring a key to a per-key bound (leaderless --dedup-max).
  const keys = rotatingKeys('bench-closed-loop');
  const readKey = keys.upcoming();
  const nextIdempotencyKey = keySequence('cl');
  const incr = await runClosedLoop({ label: `POST /incr on ${node}, unique Idempotency-Key`, url: `${url}/incr`, method: 'POST', connections: options.connections, durationS, perRequest: () => ({ headers: { 'idempotency-key': nextIdempotencyKey() }, body: JSON.stringify({ key: keys.next() }) }), signal });
  const read = await runClosedLoop({ label: `GET /count on ${node}`, url: `${url}/count?key=${readKey}`, method: 'GET', connections: options.connections, durationS, signal });
  return { incr, read };
}

/**
 * The failed consistency verdicts, each with whether the topology's mode loses updates on purpose
 * (leaderless `--resolve lww`: concurrent increments are dropped, the lesson the report counts).
 * The CLI exits 1 when any failure is not by design.
 */
export function consistencyFailures(
  outcomes: readonly { readonly summary: Pick<RunSummary, 'topology' | 'scenario' | 'consistency'> }[],
  flags: ReadonlyMap<BenchTopology, Record<string, string | boolean>>,
): { topology: string; scenario: string; why: string; byDesign: boolean }[] {
  return outcomes
    .filter((o) => o.summary.consistency.verdict === false)
    .map(({ summary }) => ({
      topology: summary.topology,
      scenario: summary.scenario,
      why: summary.consistency.verdicts.filter((v) => v.valid === false).map((v) => v.summary).join('; '),
      byDesign: flags.get(summary.topology as BenchTopology)?.['resolve'] === 'lww',
    }));
}

export interface BenchIo {
  progress: Progress;
  signal: AbortSignal;
}

export async function runBench(options: BenchOptions, topologies: readonly BenchTopology[], flags: ReadonlyMap<BenchTopology, Record<string, string | boolean>>, io: BenchIo): Promise<RunOutcome[]> {
  const outcomes: RunOutcome[] = [];
  await mkdir(options.out, { recursive: true });
  for (const topology of topologies) {
    if (io.signal.aborted) break;
    const knobs = flags.get(topology) ?? {};
    io.progress.log(`${topology}: ${options.endpoints ? 'connecting to the given endpoints' : `starting ${options.nodes} ${topology === 'etcd' ? 'etcd members' : 'nodes'}`}`);
    const target =
      topology === 'etcd'
        ? await startEtcd(options.nodes)
        : options.endpoints
          ? connectEndpoints(topology, options.endpoints, options.secret)
          : await startEmbedded(topology, options.nodes, knobs);
    try {
      const cl = await closedLoop(target, options, io.signal);
      if (cl.incr) io.progress.log(`${topology}: closed loop ${cl.incr.connections} connections: ${cl.incr.okPerSec} ${topology === 'etcd' ? 'puts' : 'increments'}/s (p99 ${cl.incr.latency.p99} ms), ${cl.read?.okPerSec ?? '-'} reads/s`);
      for (const [i, scenario] of options.scenarios.entries()) {
        if (io.signal.aborted) break;
        const why = scenarioApplies(scenario, topology, target.canKill);
        if (why !== null) {
          io.progress.log(`${topology}/${scenario}: skipped: ${why}`);
          continue;
        }
        const bar = io.progress.run(`${topology}/${scenario}`, options.durationS);
        const outcome = await runScenario({
          target,
          scenario,
          durationS: options.durationS,
          rate: options.rate,
          readFraction: options.readFraction,
          opTimeoutMs: options.opTimeoutMs,
          seed: options.seed + i,
          connections: options.connections,
          closedLoop: cl,
          knobs,
          outRoot: options.out,
          endpoints: options.endpoints !== null,
          signal: io.signal,
          onPhase: (p) => bar.phase(p),
          onOp: (op) => bar.op(op),
        });
        outcomes.push(outcome);
        const s = outcome.summary;
        bar.done(`${topology}/${scenario}: consistency ${s.consistency.verdict === true ? 'pass' : s.consistency.verdict === false ? 'FAIL' : 'unknown'}, ${s.operations.ok}/${s.operations.total} ok, longest write gap ${s.unavailability.clusterWide.lengthMs} ms -> ${relative(process.cwd(), outcome.dir)}/report.md`);
      }
    } finally {
      await target.stop();
    }
  }
  await writeReadme(options.out);
  return outcomes;
}

/** results/README.md from every summary.json under `out` (the latest per topology x scenario). */
export async function writeReadme(out: string): Promise<void> {
  const items: { summary: RunSummary; dir: string }[] = [];
  for (const entry of await readdir(out, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    try {
      const summary = JSON.parse(await readFile(join(out, entry.name, 'summary.json'), 'utf8')) as RunSummary;
      if (summary.schema === 1) items.push({ summary, dir: entry.name });
    } catch {
      /* not a run directory */
    }
  }
  const extras: string[] = [];
  try {
    await readFile(join(out, 'raft-figures.md'), 'utf8');
    extras.push('Raft against etcd (throughput, latency, kill -9 unavailability): [raft-figures.md](raft-figures.md) (`npm run bench -- --figures`).');
  } catch {
    /* no figures run here */
  }
  await writeFile(join(out, 'README.md'), readmeTable(items, extras));
}
