/**
 * One run: one topology x one scenario on a running target. Before | during the fault | after
 * the heal, with the open-loop history client throughout; then convergence, the checkers,
 * the measures and the files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  checkCounterBounds,
  checkFinalConvergence,
  checkLinearizable,
  checkNoDuplicates,
  combine,
  toJsonLines,
  type FinalRead,
  type Op,
  type Verdict,
} from '@playground/checkers';
import { renderCharts } from './charts.js';
import { runOpenLoop } from './loadgen.js';
import { availability, CONVERGENCE_SETTLE_MS, histogramsOf, labelOps, longestWriteGap, throughputByPhase } from './measures.js';
import { peerMessagesSent } from './metrics.js';
import { sleep } from './http.js';
import { provenance } from './provenance.js';
import { runReport } from './report.js';
import { planScenario, schedulePhases, type PhaseWindow, type ScenarioName, type ScenarioPlan } from './scenarios.js';
import type { ClosedLoopResult } from './closed-loop.js';
import type { FaultEvent, RunSummary } from './summary.js';
import type { Target } from './target.js';

export interface RunOptions {
  target: Target;
  scenario: ScenarioName;
  durationS: number;
  rate: number;
  readFraction: number;
  opTimeoutMs: number;
  seed: number;
  connections: number;
  closedLoop: { incr: ClosedLoopResult | null; read: ClosedLoopResult | null };
  knobs: Record<string, unknown>;
  outRoot: string;
  endpoints: boolean;
  signal?: AbortSignal;
  /** Progress: phase changes and each completed operation. */
  onPhase?: (phase: string) => void;
  onOp?: (op: Op) => void;
  log?: (line: string) => void;
  charts?: boolean;
}

export interface RunOutcome {
  summary: RunSummary;
  dir: string;
}

async function applyFault(target: Target, plan: ScenarioPlan): Promise<string> {
  const f = plan.fault;
  switch (f.kind) {
    case 'none':
      return 'no fault';
    case 'partition':
      await Promise.all(Object.entries(f.cuts).filter(([, cut]) => cut.length > 0).map(([node, cut]) => target.setFaults(node, { partition: cut, direction: 'both', mode: 'blackhole' })));
      return `partition: ${plan.description}`;
    case 'links':
      await Promise.all(target.nodes.map((n) => target.setFaults(n, { ...f.spec })));
      return `links: ${plan.description}`;
    case 'kill':
      await target.kill(f.node);
      return `kill -9 ${f.node}`;
  }
}

async function healFault(target: Target, plan: ScenarioPlan): Promise<string> {
  const f = plan.fault;
  switch (f.kind) {
    case 'none':
      return 'nothing to heal';
    case 'partition':
    case 'links':
      await Promise.all(target.nodes.map((n) => target.clearFaults(n)));
      return 'healed: faults cleared';
    case 'kill':
      await target.restart(f.node);
      return `restarted ${f.node}`;
  }
}

async function messagesSent(target: Target): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  await Promise.all(target.nodes.map(async (n) => out.set(n, peerMessagesSent(await target.metrics(n)))));
  return out;
}

/**
 * Every node's own value, polled until they agree and keep agreeing for `settleMs` (or the
 * deadline). `ms`: when the lasting agreement began, from the call.
 */
export async function awaitConvergence(
  target: Pick<Target, 'nodes' | 'ownValue'>,
  key: string,
  timeoutMs: number,
  settleMs = CONVERGENCE_SETTLE_MS,
): Promise<{ values: Record<string, number | null>; ms: number | null }> {
  const started = performance.now();
  let values: Record<string, number | null> = {};
  let agreed: { value: number; sinceMs: number } | null = null;
  for (;;) {
    const polledAt = performance.now();
    values = Object.fromEntries(await Promise.all(target.nodes.map(async (n) => [n, await target.ownValue(n, key)] as const)));
    const seen = Object.values(values);
    const value = seen[0];
    if (typeof value === 'number' && seen.every((v) => v === value)) {
      if (agreed === null || agreed.value !== value) agreed = { value, sinceMs: polledAt };
      if (performance.now() - agreed.sinceMs >= settleMs) return { values, ms: Math.round(agreed.sinceMs - started) };
    } else {
      agreed = null;
    }
    // An agreement that began before the deadline gets its settle time.
    if (performance.now() - started > timeoutMs + (agreed === null ? 0 : settleMs)) return { values, ms: null };
    await sleep(25);
  }
}

/** before | during | after as they happened (ms since the start). */
export function actualWindows(durationMs: number, inForceMs: number, healedMs: number): PhaseWindow[] {
  const from = Math.round(inForceMs);
  const to = Math.max(from, Math.round(Math.min(healedMs, durationMs)));
  return [
    { phase: 'before', startMs: 0, endMs: from },
    { phase: 'during', startMs: from, endMs: to },
    { phase: 'after', startMs: to, endMs: Math.max(to, durationMs) },
  ];
}

export async function runScenario(options: RunOptions): Promise<RunOutcome> {
  const { target, scenario } = options;
  const log = options.log ?? (() => {});
  const startedAt = new Date();
  const runId = `${startedAt.getTime().toString(36)}-${options.seed.toString(36)}-${scenario}`;
  const key = `bench-${scenario}-${options.seed}`.slice(0, 128);
  const durationMs = options.durationS * 1000;
  const windows = schedulePhases(durationMs);
  const [before, , after] = windows as [typeof windows[0], typeof windows[0], typeof windows[0]];
  const events: FaultEvent[] = [];

  // The cluster must be serving before "before" starts (a leader for Raft).
  if (target.topology === 'raft' || target.topology === 'etcd') {
    const deadline = performance.now() + 20_000;
    while ((await target.leader()) === null) {
      if (performance.now() > deadline) throw new Error(`${target.topology}: no leader within 20 s`);
      await sleep(25);
    }
  }
  const msgsBefore = await messagesSent(target);
  const cpuBefore = process.cpuUsage();
  const origin = performance.now();
  const now = (): number => performance.now() - origin;
  let plan: ScenarioPlan = planScenario({ scenario, nodes: target.nodes, leader: await target.leader(), seed: options.seed });
  let faultFrom: number | null = null;
  let faultTo: number | null = null;
  let newLeaderMs: number | null = null;

  const nemesis = (async (): Promise<void> => {
    options.onPhase?.('before');
    await sleep(before.endMs - now());
    if (options.signal?.aborted) return;
    // Plan at the fault, not at the start: the leader may have changed.
    plan = planScenario({ scenario, nodes: target.nodes, leader: await target.leader(), seed: options.seed });
    const oldLeader = await target.leader();
    const requested = now();
    const what = await applyFault(target, plan);
    // The fault is in force once every node has it: phases are labelled from then, not from
    // when it was requested (fault calls take a while on a loaded machine).
    faultFrom = now();
    events.push({ atMs: Math.round(requested), what: `${what} (requested)` }, { atMs: Math.round(faultFrom), what: 'fault in force' });
    options.onPhase?.('during');
    if (oldLeader !== null && plan.fault.kind !== 'none' && plan.sideOf[oldLeader] !== 'majority' && plan.sideOf[oldLeader] !== 'all' && plan.sideOf[oldLeader] !== 'survivors') {
      // Time to a new leader elsewhere (Raft: the unavailability that matters).
      const from = faultFrom;
      void (async () => {
        while (now() < durationMs) {
          const l = await target.leader();
          if (l !== null && l !== oldLeader) {
            newLeaderMs = Math.round(now() - from);
            events.push({ atMs: Math.round(now()), what: `new leader ${l}` });
            return;
          }
          await sleep(20);
        }
      })();
    }
    await sleep(after.startMs - now());
    if (options.signal?.aborted) return;
    const healRequested = now();
    const healed = await healFault(target, plan);
    faultTo = now();
    events.push({ atMs: Math.round(healRequested), what: `heal requested` }, { atMs: Math.round(faultTo), what: healed });
    options.onPhase?.('after');
  })();

  const load = await runOpenLoop({
    target,
    key,
    rate: options.rate,
    durationMs,
    readFraction: options.readFraction,
    opTimeoutMs: options.opTimeoutMs,
    seed: options.seed,
    runId,
    originMs: origin,
    signal: options.signal,
    onOp: options.onOp,
  });
  await nemesis;
  const loadEndMs = now();
  const cpu = process.cpuUsage(cpuBefore);
  const harnessCpuMs = (cpu.user + cpu.system) / 1000;
  if (faultFrom !== null && faultTo === null) {
    // Aborted mid-fault: heal anyway, the cluster may be reused or must stop cleanly.
    events.push({ atMs: Math.round(now()), what: await healFault(target, plan).catch((e: Error) => `heal failed: ${e.message}`) });
  }
  options.onPhase?.('converging');
  log(`  ${target.topology}/${scenario}: load done (${load.ops.length} ops), waiting for the nodes to agree`);
  const converged = await awaitConvergence(target, key, 10_000);
  const msgsAfter = await messagesSent(target);
  let msgs = 0;
  for (const [n, a] of msgsAfter) {
    const b = msgsBefore.get(n) ?? 0;
    msgs += a >= b ? a - b : a; // a restarted node counts from zero again
  }

  // Phases as they happened: during = from the fault in force to the heal done.
  const actual = faultFrom !== null && plan.fault.kind !== 'none' ? actualWindows(durationMs, faultFrom, faultTo ?? loadEndMs) : windows;
  const ops = labelOps(load.ops, actual, plan.sideOf);
  options.onPhase?.('checking');
  const finalReads: FinalRead[] = Object.entries(converged.values)
    .filter((e): e is [string, number] => e[1] !== null)
    .map(([node, value]) => ({ node, value, key }));
  const verdicts: Verdict[] = [];
  if (target.linearizable) verdicts.push(checkLinearizable(ops, { timeBudgetMs: 10_000 }));
  const bounds = checkCounterBounds(ops, { allowStale: !target.linearizable });
  verdicts.push(bounds, checkFinalConvergence(finalReads, ops), checkNoDuplicates(ops));
  const verdict = combine(verdicts);
  const boundsDetails = (bounds.details ?? {}) as Record<string, number>;
  const convergence = verdicts.find((v) => v.checker === 'final-convergence');
  const convergenceDetails = (convergence?.details ?? {}) as Record<string, number>;
  const dupDetails = (verdicts.find((v) => v.checker === 'no-duplicates')?.details ?? {}) as Record<string, number>;

  const hist = histogramsOf(target.topology, ops);
  const sides = [...new Set(Object.values(plan.sideOf))];
  const perSide: Record<string, ReturnType<typeof longestWriteGap>> = {};
  if (sides.length > 1) for (const s of sides) perSide[s] = longestWriteGap(ops, 0, durationMs, s);
  const count = (o: string): number => ops.filter((op) => op.outcome === o).length;

  const stamp = startedAt.toISOString().replace(/[:.]/g, '-').replace('Z', '');
  const dirName = `${stamp}-${target.topology}-${scenario}`;
  const dir = join(options.outRoot, dirName);
  await mkdir(dir, { recursive: true });
  const summary: RunSummary = {
    schema: 1,
    topology: target.topology,
    scenario,
    description: plan.description,
    provenance: provenance(startedAt),
    knobs: options.knobs,
    settings: {
      durationS: options.durationS,
      rate: options.rate,
      connections: options.connections,
      nodes: target.nodes.length,
      seed: options.seed,
      readFraction: options.readFraction,
      opTimeoutMs: options.opTimeoutMs,
      key,
      endpoints: options.endpoints,
    },
    phases: actual,
    faultWindow: actual !== windows ? { fromMs: (actual[1] as PhaseWindow).startMs, toMs: (actual[1] as PhaseWindow).endMs } : null,
    events,
    sideOf: plan.sideOf,
    operations: { total: ops.length, ok: count('ok'), fail: count('fail'), info: count('info'), skipped: load.skipped, late: load.late },
    latency: [...hist.summaries(['op']), ...hist.summaries(['op', 'phase']), ...hist.summaries(['op', 'phase', 'side'])],
    throughput: { openLoop: throughputByPhase(ops, actual), closedLoop: options.closedLoop },
    availability: availability(ops, actual),
    unavailability: { clusterWide: longestWriteGap(ops, 0, durationMs), perSide, newLeaderMs },
    consistency: {
      verdict: verdict.valid,
      verdicts: verdicts.map((v) => ({ checker: v.checker, valid: v.valid, summary: v.summary })),
      reads: boundsDetails.reads ?? 0,
      staleReads: boundsDetails.staleReads ?? 0,
      staleFraction: boundsDetails.staleFraction ?? 0,
      maxStaleness: boundsDetails.maxStaleness ?? 0,
      maxStaleMs: Math.round(boundsDetails.maxStaleMs ?? 0),
      lostIncrements: convergenceDetails.lostTotal ?? 0,
      duplicatedIncrements: (convergenceDetails.duplicatedTotal ?? 0) + (dupDetails.duplicated ?? 0),
      convergenceMs: converged.ms,
      finalValues: converged.values,
    },
    messagesPerOp: target.topology === 'etcd' || ops.length === 0 ? null : Math.round((msgs / ops.length) * 100) / 100,
    harness: {
      cpuMsPer1000Ops: ops.length === 0 ? 0 : Math.round((harnessCpuMs / ops.length) * 1000 * 10) / 10,
      cpuShareOfOneCore: Math.round((harnessCpuMs / Math.max(1, loadEndMs)) * 1000) / 1000,
    },
    notes: [...target.notes],
    files: { history: 'history.jsonl', report: 'report.md', latencyChart: null, availabilityChart: null },
    histograms: hist.toJSON(),
  };
  await writeFile(join(dir, 'history.jsonl'), toJsonLines(ops));
  if (options.charts !== false) {
    const charts = await renderCharts(summary, ops);
    await writeFile(join(dir, 'latency.svg'), charts.latency);
    await writeFile(join(dir, 'availability.svg'), charts.availability);
    summary.files.latencyChart = 'latency.svg';
    summary.files.availabilityChart = 'availability.svg';
  }
  await writeFile(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFile(join(dir, 'report.md'), runReport(summary));
  return { summary, dir };
}
