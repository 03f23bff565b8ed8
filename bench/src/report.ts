/**
 * Markdown: the report of one run, and results/README.md, the comparison table over the latest
 * run of each topology x scenario. Pure functions of the summaries (unit tested).
 */
import type { LatencySummary } from './hist.js';
import { CONVERGENCE_SETTLE_MS } from './measures.js';
import type { RunSummary } from './summary.js';

const word = (v: boolean | 'unknown'): string => (v === true ? 'pass' : v === false ? 'FAIL' : 'unknown');
const mark = (v: boolean | 'unknown'): string => (v === false ? '**FAIL**' : word(v));
const pct = (x: number): string => `${(x * 100).toFixed(x === 1 || x === 0 ? 0 : 1)}%`;
const ms = (x: number | null | undefined): string =>
  x === null || x === undefined ? '-' : x >= 100 ? `${Math.round(x)}` : x >= 10 ? `${Math.round(x * 10) / 10}` : `${Math.round(x * 100) / 100}`;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const latencyCells = (l: LatencySummary): string[] => [String(l.count), ms(l.p50), ms(l.p90), ms(l.p99), ms(l.p999), ms(l.max)];

export function runReport(s: RunSummary): string {
  const p = s.provenance;
  const lines: string[] = [];
  lines.push(`# ${s.topology} / ${s.scenario}`);
  lines.push('');
  lines.push(`${s.description}. Consistency verdict: **${word(s.consistency.verdict)}**.`);
  lines.push('');
  lines.push(
    `Run ${p.startedAt} on ${p.host} (${p.cpu}, ${p.cores} cores, ${p.memoryGiB} GiB, ${p.os}), Node ${p.node}, commit ${p.commit}, load average ${p.loadAverage ?? '?'} at the start. ` +
      `${s.settings.nodes} nodes${s.settings.endpoints ? ' (existing cluster via --endpoints)' : ' started by the bench'}; ` +
      `${s.settings.durationS} s (before | during the fault | after the heal, as they happened: ${s.phases.map((w) => `${((w.endMs - w.startMs) / 1000).toFixed(2)} s`).join(' | ')}); ` +
      `open loop at ${s.settings.rate} ops/s, ${pct(s.settings.readFraction)} reads, op timeout ${s.settings.opTimeoutMs} ms; seed ${s.settings.seed}.`,
  );
  const knobs = Object.entries(s.knobs);
  if (knobs.length > 0) lines.push('', `Knobs: ${knobs.map(([k, v]) => `\`--${k} ${String(v)}\``).join(' ')}`);
  lines.push('', `Sides: ${Object.entries(s.sideOf).map(([n, side]) => `${n}=${side}`).join(', ')}.`);
  if (s.files.latencyChart) lines.push('', `![latency over time, fault shaded](${s.files.latencyChart})`);
  if (s.files.availabilityChart) lines.push('', `![availability per phase and side](${s.files.availabilityChart})`);

  lines.push('', '## Consistency', '');
  lines.push(table(['checker', 'verdict', 'summary'], s.consistency.verdicts.map((v) => [v.checker, mark(v.valid), v.summary.replace(/\|/g, '\\|')])));
  const c = s.consistency;
  lines.push(
    '',
    `Stale reads: ${c.staleReads} of ${c.reads} (${pct(c.staleFraction)}), at most ${c.maxStaleness} increments and ${c.maxStaleMs} ms behind. ` +
      `Lost increments: ${c.lostIncrements}. Duplicated: ${c.duplicatedIncrements}. ` +
      `Nodes agreed ${c.convergenceMs === null ? '**never** (within 10 s)' : `${c.convergenceMs} ms`} after the load stopped (agreement that then held for ${CONVERGENCE_SETTLE_MS} ms); final values ${Object.entries(c.finalValues).map(([n, v]) => `${n}=${v ?? '?'}`).join(', ')}.`,
  );

  lines.push('', '## Availability', '');
  const cells = s.availability.filter((a) => a.op !== 'all');
  lines.push(
    'Operations by the phase they were sent in; "ok after" succeeded only once that phase was over (for example a write that waited out the partition), so it does not count as available.',
    '',
  );
  lines.push(
    table(
      ['phase', 'side', 'op', 'ok', 'ok after', 'fail', 'unknown', 'available'],
      cells.map((a) => [a.phase, a.side, a.op, String(a.ok), String(a.late), String(a.fail), String(a.info), pct(a.fraction)]),
    ),
  );
  const u = s.unavailability;
  lines.push('', `Longest stretch without an acknowledged increment: ${ms(u.clusterWide.lengthMs)} ms cluster-wide (${ms(u.clusterWide.fromMs)}-${ms(u.clusterWide.toMs)} ms)` +
    (Object.keys(u.perSide).length > 0 ? `; per side: ${Object.entries(u.perSide).map(([side, w]) => `${side} ${ms(w.lengthMs)} ms`).join(', ')}` : '') +
    (u.newLeaderMs !== null ? `; a new leader ${u.newLeaderMs} ms after the fault` : '') + '.');

  lines.push('', '## Latency (ms, successful operations, timed from their scheduled start)', '');
  const latRows = s.latency
    .filter((l) => l.key.phase !== undefined)
    .map((l) => [l.key.op ?? '', l.key.phase ?? '', l.key.side ?? 'all', ...latencyCells(l.latency)]);
  lines.push(table(['op', 'phase', 'side', 'count', 'p50', 'p90', 'p99', 'p99.9', 'max'], latRows));

  lines.push('', '## Throughput', '');
  lines.push(table(['phase', 'ok/s', 'attempted/s'], s.throughput.openLoop.map((t) => [t.phase, String(t.okPerSec), String(t.attemptedPerSec)])));
  const cl = s.throughput.closedLoop;
  for (const [name, r] of [['incr', cl.incr], ['read', cl.read]] as const) {
    if (r) lines.push('', `Closed loop (autocannon, ${r.connections} connections, ${r.durationS} s, healthy cluster), ${name} as ${r.label}: ${r.okPerSec} ok/s, p50 ${ms(r.latency.p50)} ms, p99 ${ms(r.latency.p99)} ms, non-2xx ${r.non2xx}, errors ${r.errors}.`);
  }

  lines.push('', '## Cost', '');
  lines.push(`Peer messages per operation (from /metrics): ${s.messagesPerOp ?? 'not measured'}. ` +
    `Harness: ${s.harness.cpuMsPer1000Ops} ms CPU per 1000 operations (${pct(s.harness.cpuShareOfOneCore)} of one core); ` +
    `operations: ${s.operations.total} sent, ${s.operations.skipped} skipped (harness bound), ${s.operations.late} sent more than 10 ms late.`);

  lines.push('', '## Events', '');
  for (const e of s.events) lines.push(`- ${(e.atMs / 1000).toFixed(3)} s: ${e.what}`);
  if (s.notes.length > 0) lines.push('', '## Notes', '', ...s.notes.map((n) => `- ${n}`));
  lines.push('', `Files: [history](${s.files.history}) (JSON lines, one operation each), [summary](summary.json).`, '');
  return lines.join('\n');
}

/** Availability of one op during the fault on the named sides (all sides when none given). */
function duringAvailability(s: RunSummary, op: string, sides?: (side: string) => boolean): string {
  const cells = s.availability.filter((a) => a.phase === 'during' && a.op === op && (sides === undefined || sides(a.side)));
  if (cells.length === 0) return '-';
  const ok = cells.reduce((n, a) => n + a.ok, 0);
  const total = cells.reduce((n, a) => n + a.total, 0);
  return total === 0 ? '-' : pct(ok / total);
}

const isMinority = (side: string): boolean => ['minority', 'killed', 'left', 'bridge'].includes(side);

/** The latest run of each topology x scenario, side by side; links relative to `outRoot`. */
export function readmeTable(summaries: readonly { summary: RunSummary; dir: string }[], extras: readonly string[] = []): string {
  const latest = new Map<string, { summary: RunSummary; dir: string }>();
  for (const item of summaries) {
    const k = `${item.summary.scenario}|${item.summary.topology}`;
    const seen = latest.get(k);
    if (!seen || seen.summary.provenance.startedAt < item.summary.provenance.startedAt) latest.set(k, item);
  }
  const topoOrder = ['raft', 'etcd', 'leaderless', 'crdt'];
  const rows = [...latest.values()].sort(
    (a, b) => a.summary.scenario.localeCompare(b.summary.scenario) || topoOrder.indexOf(a.summary.topology) - topoOrder.indexOf(b.summary.topology),
  );
  const lines = [
    '# Bench results',
    '',
    'Generated by `npm run bench` from the latest run of each topology x scenario in this directory; each row links its report.',
    'Writes/reads during the fault: the share of operations that succeeded while the fault was in force, on the side cut off',
    '(the minority, the killed node, or left+bridge) and on the rest. p50/p99: increments before the fault (ms).',
    'Stale: reads below what was already acknowledged (fine for eventual consistency, a violation for a linearizable read).',
    'The CAP/PACELC picture: under a partition, CP topologies refuse the cut-off side (writes 0%) and stay consistent;',
    'AP ones keep accepting there and go stale until the heal. Else (no fault), compare latency against stale reads.',
    ...extras.map((e) => `${e}`),
    '',
  ];
  lines.push(
    table(
      ['scenario', 'topology', 'consistency', 'writes during (cut / rest)', 'reads during (cut / rest)', 'incr p50 / p99', 'longest write gap', 'new leader', 'stale reads', 'lost / dup', 'agreed after', 'msgs/op', 'run'],
      rows.map(({ summary: s, dir }) => {
        const incrBefore = s.latency.find((l) => l.key.op === 'incr' && l.key.phase === 'before' && l.key.side === undefined)?.latency;
        const hasSides = Object.values(s.sideOf).some(isMinority);
        const w = hasSides ? `${duringAvailability(s, 'incr', isMinority)} / ${duringAvailability(s, 'incr', (x) => !isMinority(x))}` : duringAvailability(s, 'incr');
        const r = hasSides ? `${duringAvailability(s, 'read', isMinority)} / ${duringAvailability(s, 'read', (x) => !isMinority(x))}` : duringAvailability(s, 'read');
        return [
          s.scenario,
          s.topology,
          mark(s.consistency.verdict),
          w,
          r,
          incrBefore ? `${ms(incrBefore.p50)} / ${ms(incrBefore.p99)}` : '-',
          `${ms(s.unavailability.clusterWide.lengthMs)} ms`,
          s.unavailability.newLeaderMs === null ? '-' : `${s.unavailability.newLeaderMs} ms`,
          pct(s.consistency.staleFraction),
          `${s.consistency.lostIncrements} / ${s.consistency.duplicatedIncrements}`,
          s.consistency.convergenceMs === null ? 'never' : `${s.consistency.convergenceMs} ms`,
          s.messagesPerOp === null ? '-' : String(s.messagesPerOp),
          `[report](${dir}/report.md)`,
        ];
      }),
    ),
  );
  const provenances = [...new Set(rows.map(({ summary: s }) => `${s.provenance.host}, ${s.provenance.cpu} x${s.provenance.cores}, Node ${s.provenance.node}, commit ${s.provenance.commit}`))];
  const loads = rows.map(({ summary: s }) => s.provenance.loadAverage).filter((x): x is number => typeof x === 'number');
  lines.push('', `Measured on: ${provenances.join('; ')}${loads.length > 0 ? `; 1-minute load average ${Math.min(...loads)}-${Math.max(...loads)} during the runs (a shared machine: compare within one run, quote ratios)` : ''}.`, '');
  return lines.join('\n');
}
