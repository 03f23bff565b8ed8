/**
 * The leaderless figures (issue 4): what the quorum sizes cost when nothing fails, the "else"
 * half of PACELC (Abadi 2012) as numbers.
 *
 *   npm run bench -- --topology leaderless --figures [--duration 4] [--connections 32]
 *
 * Two clusters side by side in one run: a 1-node leaderless cluster (n=1, w=1, r=1: "a single
 * node's local write", the baseline: the same HTTP path, dedup and fsync'd log, no replica round)
 * and a 3-node one (n=3). Through one coordinator, at 32 connections: autocannon POST /incr with
 * a unique Idempotency-Key per request, then GET /count, for (W,R) = (1,1), (2,2), (3,3) passed
 * per request in the query string (Dynamo §4.4: the coordinator waits for W-1 / R-1 replicas
 * besides itself). Each measurement writes keys of its own, a fresh one every 10,000 increments
 * (keys.ts: a key remembers at most --dedup-max Idempotency-Keys, then refuses keyed increments),
 * so no run reads another's state and none runs into that bound however fast the machine.
 * Every configuration runs twice, the second pass in reverse order (ABBA), after a warm-up of
 * both clusters: on a shared machine, linear drift then cancels in the means.
 */
import { loadavg } from 'node:os';
import { TestCluster } from '@playground/node/testing';
import { WARMUP_S, runClosedLoop, type ClosedLoopOptions, type ClosedLoopResult } from './closed-loop.js';
import { processCpuMs } from './metrics.js';
import { provenance, type Provenance } from './provenance.js';
import { INCREMENTS_PER_KEY, keySequence, rotatingKeys } from './keys.js';

export interface LeaderlessFiguresOptions {
  /** Seconds per measurement (each configuration: incr, then count). */
  durationS: number;
  connections: number;
  /** Topology knobs given on the command line, passed to both clusters (n, w, r are the run's). */
  knobs: Record<string, string | boolean>;
  log: (line: string) => void;
  signal?: AbortSignal;
}

/** One measurement of one configuration: incr, then count, on keys of its own. */
export interface QuorumRun {
  incr: ClosedLoopResult;
  /** incr at 1 connection: the quorum wait itself, without queueing behind other requests. */
  incrC1: ClosedLoopResult;
  count: ClosedLoopResult;
  /** CPU of every node process during the incr run, ms per 1000 acknowledged increments. */
  nodeCpuMsPer1000Incr: number;
}

export interface QuorumFigures {
  label: string;
  nodes: number;
  w: number;
  r: number;
  /** Two passes in ABBA order (pass 2 runs the configurations in reverse), so linear drift cancels. */
  runs: QuorumRun[];
  /** Means over the passes. */
  incrOkPerSec: number;
  incrP50Ms: number;
  incrP99Ms: number;
  countOkPerSec: number;
  countP50Ms: number;
  countP99Ms: number;
  incrC1P50Ms: number;
  incrC1P99Ms: number;
  failures: number;
}

export interface LeaderlessFiguresReport {
  provenance: Provenance & { loadAverageEnd: number };
  connections: number;
  durationS: number;
  configs: QuorumFigures[];
  targets: { check: string; value: string; met: boolean }[];
  table: string;
}

const nextIdempotencyKey = keySequence('lf');

/**
 * Keyed increments for autocannon: a unique Idempotency-Key each, and the counter key in the
 * body, a fresh one before a key holds half the Idempotency-Keys a key remembers (--dedup-max),
 * so that no measurement runs into the bound and counts refusals.
 */
function keyedIncrements(prefix: string, knobs: Record<string, string | boolean>): { perRequest: NonNullable<ClosedLoopOptions['perRequest']>; keys: ReturnType<typeof rotatingKeys> } {
  const dedupMax = Number(knobs['dedup-max'] ?? Number.POSITIVE_INFINITY);
  const keys = rotatingKeys(`lf-${prefix}`, Math.max(1, Math.min(INCREMENTS_PER_KEY, Math.floor(dedupMax / 2))));
  return { keys, perRequest: () => ({ headers: { 'idempotency-key': nextIdempotencyKey() }, body: `{"key":"${keys.next()}"}` }) };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The command line's knobs, minus the ones this run sets itself. */
function passThrough(knobs: Record<string, string | boolean>): Record<string, string | boolean> {
  const { n: _n, w: _w, r: _r, ...rest } = knobs;
  return rest;
}

interface Config {
  label: string;
  cluster: TestCluster;
  w: number;
  r: number;
  key: string;
}

async function measureOnce(c: Config, pass: number, options: LeaderlessFiguresOptions): Promise<QuorumRun> {
  const { connections, durationS, signal, log } = options;
  const coordinator = c.cluster.node('n1').url;
  const incrUrl = `${coordinator}/incr?w=${c.w}`;
  const incrLabel = `POST /incr?w=${c.w}, unique Idempotency-Key`;
  const { perRequest, keys } = keyedIncrements(`${c.key}-${pass}`, options.knobs);
  await runClosedLoop({ label: incrLabel, url: incrUrl, method: 'POST', connections, durationS: 1, perRequest, signal });
  const pids = c.cluster.nodes.map((n) => n.proc?.pid ?? null);
  const cpuBefore = pids.map((p) => (p === null ? null : processCpuMs(p)));
  // The key the measured run starts on: it holds as many increments as any of the run's.
  const countKey = keys.upcoming();
  const incr = await runClosedLoop({ label: incrLabel, url: incrUrl, method: 'POST', connections, durationS, perRequest, signal });
  const cpuMs = pids.reduce<number>((sum, p, i) => {
    const after = p === null ? null : processCpuMs(p);
    const before = cpuBefore[i];
    return after === null || before === null || before === undefined ? sum : sum + (after - before);
  }, 0);
  const count = await runClosedLoop({ label: `GET /count?r=${c.r}`, url: `${coordinator}/count?r=${c.r}&key=${countKey}`, method: 'GET', connections, durationS, signal });
  const incrC1 = await runClosedLoop({ label: incrLabel, url: incrUrl, method: 'POST', connections: 1, durationS: 2, perRequest, signal });
  const okIncr = incr.okPerSec * incr.durationS;
  log(
    `  ${c.label}: incr ${incr.okPerSec}/s p50 ${incr.latency.p50} p99 ${incr.latency.p99} ms (non-2xx ${incr.non2xx}, errors ${incr.errors}); ` +
      `count ${count.okPerSec}/s p50 ${count.latency.p50} p99 ${count.latency.p99} ms (non-2xx ${count.non2xx}, errors ${count.errors}); ` +
      `incr at 1 connection p50 ${incrC1.latency.p50} ms`,
  );
  return { incr, incrC1, count, nodeCpuMsPer1000Incr: okIncr > 0 ? Math.round((cpuMs / okIncr) * 1000) : NaN };
}

const mean = (xs: readonly number[]): number => round2(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length));

function summarizeConfig(c: Config, runs: QuorumRun[]): QuorumFigures {
  return {
    label: c.label,
    nodes: c.cluster.nodes.length,
    w: c.w,
    r: c.r,
    runs,
    incrOkPerSec: Math.round(mean(runs.map((x) => x.incr.okPerSec))),
    incrP50Ms: mean(runs.map((x) => x.incr.latency.p50)),
    incrP99Ms: mean(runs.map((x) => x.incr.latency.p99)),
    countOkPerSec: Math.round(mean(runs.map((x) => x.count.okPerSec))),
    countP50Ms: mean(runs.map((x) => x.count.latency.p50)),
    countP99Ms: mean(runs.map((x) => x.count.latency.p99)),
    incrC1P50Ms: mean(runs.map((x) => x.incrC1.latency.p50)),
    incrC1P99Ms: mean(runs.map((x) => x.incrC1.latency.p99)),
    failures: runs.reduce((sum, x) => sum + x.incr.non2xx + x.incr.errors + x.incrC1.non2xx + x.incrC1.errors + x.count.non2xx + x.count.errors, 0),
  };
}

export async function runLeaderlessFigures(options: LeaderlessFiguresOptions): Promise<LeaderlessFiguresReport> {
  const started = provenance(new Date());
  const knobs = passThrough(options.knobs);
  const { log } = options;
  log(`leaderless figures: ${options.durationS} s per measurement at ${options.connections} connections, two passes (ABBA); load average ${started.loadAverage}`);
  const single = await TestCluster.start({ topology: 'leaderless', nodes: 1, flags: { ...knobs, n: 1, w: 1, r: 1 } });
  let three: TestCluster | null = null;
  try {
    three = await TestCluster.start({ topology: 'leaderless', nodes: 3, flags: { ...knobs, n: 3 } });
    const configs: Config[] = [
      { label: '1 node (n=1, w=1, r=1)', cluster: single, w: 1, r: 1, key: 'single' },
      ...[1, 2, 3].map((q) => ({ label: `3 nodes, (W,R) = (${q},${q})`, cluster: three as TestCluster, w: q, r: q, key: `q${q}` })),
    ];
    // Cold processes (JIT, pools) would slow whichever configuration runs first on a cluster.
    log(`  warm-up: ${WARMUP_S} s of incr on each cluster`);
    for (const cluster of [single, three]) {
      const { perRequest } = keyedIncrements('warmup', options.knobs);
      await runClosedLoop({ label: 'warm-up', url: `${cluster.node('n1').url}/incr`, method: 'POST', connections: options.connections, durationS: WARMUP_S, perRequest, signal: options.signal });
    }
    const runs = new Map<Config, QuorumRun[]>(configs.map((c) => [c, []]));
    for (const [pass, order] of [configs, [...configs].reverse()].entries()) {
      log(`  pass ${pass + 1}/2`);
      for (const c of order) {
        if (options.signal?.aborted === true) break;
        runs.get(c)?.push(await measureOnce(c, pass, options));
      }
    }
    const figures = configs.map((c) => summarizeConfig(c, runs.get(c) ?? []));
    const targets = leaderlessTargets(figures);
    const report = {
      provenance: { ...started, loadAverageEnd: round2(loadavg()[0] ?? 0) },
      connections: options.connections,
      durationS: options.durationS,
      configs: figures,
      targets,
      table: '',
    };
    report.table = leaderlessTable(report);
    return report;
  } finally {
    await Promise.all([single.stop(), three?.stop()]);
  }
}

export function leaderlessTargets(configs: readonly QuorumFigures[]): LeaderlessFiguresReport['targets'] {
  const [single, w1, , w3] = configs;
  if (!single || !w1 || !w3) return [];
  const r1 = w1.incrP50Ms / single.incrP50Ms;
  const r3 = w3.incrP50Ms / w1.incrP50Ms;
  return [
    { check: "W=1 incr p50 within 1.5x of a single node's local write (1-node cluster, same run)", value: `${round2(r1)}x`, met: r1 <= 1.5 },
    { check: 'W=3 incr p50 no worse than 2x W=1', value: `${round2(r3)}x`, met: r3 <= 2 },
  ];
}

const ratio = (a: number, b: number): string => (b > 0 ? `${round2(a / b)}x` : '-');

export function leaderlessTable(report: Omit<LeaderlessFiguresReport, 'table'>): string {
  const p = report.provenance;
  const { configs } = report;
  const single = configs[0];
  const w1 = configs[1];
  const rows = configs.map((c) => {
    const vsSingle = single ? ratio(c.incrP50Ms, single.incrP50Ms) : '-';
    const vsW1 = w1 && c.nodes === 3 ? ratio(c.incrP50Ms, w1.incrP50Ms) : '-';
    const countVsSingle = single ? ratio(c.countP50Ms, single.countP50Ms) : '-';
    const c1VsSingle = single ? ratio(c.incrC1P50Ms, single.incrC1P50Ms) : '-';
    return (
      `| ${c.label} | ${c.incrOkPerSec} | ${c.incrP50Ms} / ${c.incrP99Ms} | ${vsSingle} | ${vsW1} | ` +
      `${c.countOkPerSec} | ${c.countP50Ms} / ${c.countP99Ms} | ${countVsSingle} | ${c.incrC1P50Ms} / ${c.incrC1P99Ms} | ${c1VsSingle} | ${c.failures} |`
    );
  });
  const passRows = configs.map(
    (c) =>
      `| ${c.label} | ${c.runs.map((x) => `${x.incr.okPerSec}/s, ${x.incr.latency.p50} / ${x.incr.latency.p99}`).join(' | ')} | ` +
      `${c.runs.map((x) => `${x.count.okPerSec}/s, ${x.count.latency.p50} / ${x.count.latency.p99}`).join(' | ')} | ` +
      `${c.runs.map((x) => `${x.incrC1.latency.p50} / ${x.incrC1.latency.p99}`).join(' | ')} | ${c.runs.map((x) => x.nodeCpuMsPer1000Incr).join(' / ')} |`,
  );
  return [
    `Machine: ${p.cpu}, ${p.cores} cores, ${p.memoryGiB} GiB, ${p.os}; Node ${p.node}; commit ${p.commit}; ${p.startedAt}; ` +
      `load average (1-minute) ${p.loadAverage} at the start, ${p.loadAverageEnd} at the end (the machine is shared: read ratios, not absolutes)`,
    '',
    `Leaderless, no faults, one coordinator (n1), ${report.connections} connections, ${report.durationS} s per measurement (after ${WARMUP_S} s of warm-up per cluster; then 2 s of incr at 1 connection), loopback, log fsync'd.`,
    `incr = POST /incr?w=W with a unique Idempotency-Key per request; count = GET /count?r=R on the first key the incr run wrote (each measurement writes keys of its own, a fresh one every ${INCREMENTS_PER_KEY} increments).`,
    'Two passes, the second in reverse order (ABBA: linear drift of a shared machine cancels); figures are the means of the two passes. Latency in ms (HDR, per response).',
    '',
    '| configuration | incr ok/s | incr p50 / p99 | incr p50 vs 1 node | incr p50 vs W=1 | count ok/s | count p50 / p99 | count p50 vs 1 node | 1 connection: incr p50 / p99 | 1 connection: incr p50 vs 1 node | non-2xx + errors |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    'Targets (issue 4):',
    ...report.targets.map((t) => `- ${t.met ? 'PASS' : 'MISS'}: ${t.check}: ${t.value}`),
    '',
    `At ${report.connections} connections the nodes saturate the 2 cores: a closed loop's p50 is then about connections / throughput,`,
    'so it measures CPU per increment (every replica writes whatever W is) more than the quorum wait; the 1-connection column is the wait itself.',
    '',
    'Each pass (ok/s, p50 / p99 ms):',
    '',
    '| configuration | incr, pass 1 | incr, pass 2 | count, pass 1 | count, pass 2 | incr at 1 connection, pass 1 | pass 2 | node CPU ms per 1000 incr at 32 connections (pass 1 / 2) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...passRows,
    '',
    'The load generator (autocannon) shares the 2 cores with the nodes, so absolute rates are lower bounds.',
  ].join('\n');
}
