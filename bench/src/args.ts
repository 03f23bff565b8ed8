/**
 * `npm run bench` flags, parsed with node:util parseArgs. Pure: returns the options or throws a
 * UsageError with one line naming the flag and the allowed values; the CLI prints it and exits 2
 * before anything starts.
 */
import { parseArgs } from 'node:util';
import type { KnobSpec } from '@playground/core';
import { UsageError } from '@playground/node';
import { SCENARIOS, SCENARIO_HELP, type ScenarioName } from './scenarios.js';

export const BENCH_TOPOLOGIES = ['raft', 'leaderless', 'crdt', 'etcd'] as const;
export type BenchTopology = (typeof BENCH_TOPOLOGIES)[number];

export const DEFAULT_TOPOLOGIES: readonly BenchTopology[] = ['raft', 'leaderless', 'crdt'];
/** Topologies with a `--figures` run (bench/src/<topology>-figures.ts). */
export const FIGURES_TOPOLOGIES = ['raft', 'leaderless', 'crdt'] as const;

export const DEFAULT_SCENARIOS: readonly ScenarioName[] = ['isolate-leader', 'kill-leader'];

export interface BenchOptions {
  topologies: BenchTopology[];
  scenarios: ScenarioName[];
  durationS: number;
  rate: number;
  connections: number;
  nodes: number;
  seed: number;
  out: string;
  readFraction: number;
  opTimeoutMs: number;
  endpoints: { id: string; url: string }[] | null;
  secret: string | null;
  figures: boolean;
  trials: number;
  etcd: boolean;
  /** Knob flags as given, by name (validated per topology by the caller). */
  knobs: Record<string, string | boolean>;
  help: boolean;
}

interface Flag {
  name: string;
  type: 'string' | 'boolean';
  help: string;
}

export const BENCH_FLAGS: readonly Flag[] = [
  { name: 'topology', type: 'string', help: 'raft | leaderless | crdt | etcd | all, or a comma list (default raft,leaderless,crdt; all adds etcd when installed)' },
  { name: 'scenario', type: 'string', help: `${SCENARIOS.join(' | ')} | all, or a comma list (default ${DEFAULT_SCENARIOS.join(',')})` },
  { name: 'duration', type: 'string', help: 'seconds per run, split into equal before / during / after phases (default 6)' },
  { name: 'rate', type: 'string', help: 'open-loop history client: operations per second (default 100)' },
  { name: 'connections', type: 'string', help: 'closed-loop autocannon throughput step: connections (default 16; 0 skips it)' },
  { name: 'nodes', type: 'string', help: 'cluster size, 3..7 (default 3)' },
  { name: 'seed', type: 'string', help: 'seed for fault targets and the operation mix (default: from the clock, printed)' },
  { name: 'out', type: 'string', help: 'results directory (default results)' },
  { name: 'read-fraction', type: 'string', help: 'share of reads in the history workload, 0..1 (default 0.5)' },
  { name: 'op-timeout-ms', type: 'string', help: 'client timeout per operation; past it the outcome is unknown (default 2000)' },
  { name: 'endpoints', type: 'string', help: 'drive an existing cluster instead: n1=http://host:8001,n2=... (needs --secret for faults; one topology)' },
  { name: 'secret', type: 'string', help: 'the cluster secret of --endpoints (for the admin fault API); or CLUSTER_SECRET' },
  { name: 'figures', type: 'boolean', help: "a topology's figures instead (one --topology, default raft): raft = throughput and kill -9 unavailability next to etcd; leaderless = incr/count p50/p99 for (W,R) = (1,1), (2,2), (3,3) next to 1 node; crdt = throughput 3 nodes vs 1, convergence after heal, messages per increment delta vs full" },
  { name: 'trials', type: 'string', help: '--figures: raft: kill -9 trials per system (default 20); crdt: convergence trials per replication mode (default 10)' },
  { name: 'no-etcd', type: 'boolean', help: '--figures: measure our Raft alone' },
  { name: 'help', type: 'boolean', help: 'print this help' },
];

function intFlag(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`--${name} ${raw}: expected an integer in ${min}..${max}`);
  }
  return Number(raw);
}

function listFlag<T extends string>(name: string, raw: string | undefined, allowed: readonly T[], fallback: readonly T[], all: readonly T[]): T[] {
  if (raw === undefined) return [...fallback];
  const out: T[] = [];
  for (const part of raw.split(',').map((p) => p.trim())) {
    if (part === 'all') {
      out.push(...all);
      continue;
    }
    if (!(allowed as readonly string[]).includes(part)) throw new UsageError(`--${name} ${raw}: expected one of ${[...allowed, 'all'].join(', ')} (or a comma list)`);
    out.push(part as T);
  }
  return [...new Set(out)];
}

export function parseEndpoints(raw: string): { id: string; url: string }[] {
  const out: { id: string; url: string }[] = [];
  for (const part of raw.split(',')) {
    const m = /^([A-Za-z0-9_-]{1,32})=(https?:\/\/[^\s,/]+)\/?$/.exec(part.trim());
    if (!m) throw new UsageError(`--endpoints ${raw}: expected id=http://host:port,... (e.g. n1=http://127.0.0.1:8001), got ${JSON.stringify(part)}`);
    out.push({ id: m[1] as string, url: m[2] as string });
  }
  if (new Set(out.map((e) => e.id)).size !== out.length) throw new UsageError(`--endpoints ${raw}: an id appears twice`);
  return out;
}

/**
 * `knobs`: every topology knob that may be passed through (the union over the topologies that
 * are installed); a knob flag is validated again by the topology that receives it.
 */
export function parseBenchArgs(argv: readonly string[], knobs: readonly KnobSpec[], env: NodeJS.ProcessEnv = {}, etcdInstalled = false): BenchOptions {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const f of BENCH_FLAGS) options[f.name] = { type: f.type };
  // A knob named like a bench flag (raft's --seed) is the bench's: the nodes keep their default.
  const passKnobs = knobs.filter((k) => !BENCH_FLAGS.some((f) => f.name === k.name));
  for (const k of passKnobs) options[k.name] = { type: k.type === 'bool' ? 'boolean' : 'string' };
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (e) {
    const first = (e as Error).message.split('\n')[0] ?? '';
    const unknown = /Unknown option '([^']+)'/.exec(first);
    if (unknown) throw new UsageError(`unknown flag ${unknown[1]}: see npm run bench -- --help for the flags and topology knobs`);
    const missing = /Option '([^']+)' argument missing/.exec(first);
    if (missing) throw new UsageError(`flag ${missing[1]?.split(' ')[0] ?? ''} needs a value (see --help)`);
    const positional = /Unexpected argument '([^']+)'/.exec(first);
    if (positional) throw new UsageError(`unexpected argument ${JSON.stringify(positional[1])}: flags look like --name value (see --help)`);
    throw new UsageError(first);
  }
  const str = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const allTopologies: BenchTopology[] = etcdInstalled ? [...BENCH_TOPOLOGIES] : [...DEFAULT_TOPOLOGIES];
  const topologies = listFlag('topology', str('topology'), BENCH_TOPOLOGIES, DEFAULT_TOPOLOGIES, allTopologies);
  const scenarios = listFlag('scenario', str('scenario'), SCENARIOS, DEFAULT_SCENARIOS, SCENARIOS);
  const readFractionRaw = str('read-fraction');
  let readFraction = 0.5;
  if (readFractionRaw !== undefined) {
    readFraction = Number(readFractionRaw);
    if (!/^\d*\.?\d+$/.test(readFractionRaw) || readFraction < 0 || readFraction > 1) throw new UsageError(`--read-fraction ${readFractionRaw}: expected a number in 0..1`);
  }
  const endpointsRaw = str('endpoints');
  const endpoints = endpointsRaw === undefined ? null : parseEndpoints(endpointsRaw);
  if (endpoints !== null && topologies.length !== 1) {
    throw new UsageError(`--endpoints drives one existing cluster: pass exactly one --topology (raft, leaderless or crdt), got ${topologies.join(',')}`);
  }
  if (endpoints !== null && topologies[0] === 'etcd') throw new UsageError('--endpoints with --topology etcd is not supported: the bench starts etcd itself');
  const figures = values.figures === true;
  if (figures && str('topology') !== undefined && !(FIGURES_TOPOLOGIES as readonly string[]).includes(str('topology') as string)) {
    throw new UsageError(`--figures measures one topology: use --topology ${FIGURES_TOPOLOGIES.join(', ')} (or leave it out for raft), got ${str('topology')}`);
  }
  const knobValues: Record<string, string | boolean> = {};
  for (const k of passKnobs) {
    const v = values[k.name];
    if (v !== undefined) knobValues[k.name] = v;
  }
  if (figures && topologies[0] === 'crdt' && knobValues['idem-check-ms'] !== undefined && Number(knobValues['idem-check-ms']) === 0) {
    throw new UsageError('--idem-check-ms 0 with the CRDT --figures: they measure keyed increments both ways already (asking peers first, and with --idem-check-ms 0); give a deadline above 0, or leave it out');
  }
  return {
    topologies,
    scenarios,
    durationS: intFlag('duration', str('duration'), 6, 3, 3600),
    rate: intFlag('rate', str('rate'), 100, 1, 20_000),
    connections: intFlag('connections', str('connections'), 16, 0, 1024),
    nodes: intFlag('nodes', str('nodes'), 3, 3, 7),
    seed: intFlag('seed', str('seed'), Date.now() % 2 ** 31, 0, 2 ** 32 - 1),
    out: str('out') ?? 'results',
    readFraction,
    opTimeoutMs: intFlag('op-timeout-ms', str('op-timeout-ms'), 2000, 10, 600_000),
    endpoints,
    secret: str('secret') ?? env.CLUSTER_SECRET ?? null,
    figures,
    trials: intFlag('trials', str('trials'), 20, 1, 1000),
    etcd: values['no-etcd'] !== true,
    knobs: knobValues,
    help: values.help === true,
  };
}

export function benchHelp(knobs: readonly { topology: string; spec: KnobSpec }[]): string {
  const pad = (s: string): string => `${s.padEnd(23)} `;
  const lines = [
    'Bench: the same workload and faults against each topology, with checked histories.',
    '',
    'usage: npm run bench -- [--topology raft|leaderless|crdt|etcd|all] [--scenario NAME|all] [--duration S]',
    '                        [--rate OPS] [--connections C] [--nodes 3] [--seed N] [--out results/] [knobs]',
    '       npm run bench -- --topology raft --figures [--duration 10] [--trials 20] [--no-etcd]',
    '       npm run bench -- --topology leaderless --figures [--duration 4] [--connections 32]',
    '       npm run bench -- --topology crdt --figures [--duration 5] [--trials 10] [--connections 64] [--gossip-ms 100]',
    '',
    'With no arguments: raft, leaderless and crdt, scenarios ' + DEFAULT_SCENARIOS.join(' and ') + ', 6 s runs (about 1.5 minutes).',
    '',
    'flags:',
    ...BENCH_FLAGS.map((f) => `  ${pad(`--${f.name}${f.type === 'string' ? ' V' : ''}`)}${f.help}`),
    '',
    'scenarios (each run: before | during the fault | after the heal):',
    ...SCENARIOS.map((s) => `  ${pad(s)}${SCENARIO_HELP[s]}`),
    '',
    'topology knobs (passed to the nodes the bench starts; see npm run node -- --topology T --help):',
    ...knobs.filter(({ spec }) => !BENCH_FLAGS.some((f) => f.name === spec.name)).map(({ topology, spec }) => `  ${pad(`--${spec.name}`)}[${topology}] ${spec.help} (default ${String(spec.default)})`),
    '',
    'etcd: --topology etcd and --figures compare with etcd when `etcd` is on PATH',
    '      (Debian/Ubuntu: apt-get install -y etcd-server). npm test never needs it.',
    'Outputs: <out>/<time>-<topology>-<scenario>/{history.jsonl,summary.json,report.md,latency.svg,availability.svg}',
    '         and <out>/README.md, the comparison table over the latest run of each topology x scenario.',
    'Exit status: 0 when every consistency verdict passes; 1 when one fails (not for the increments',
    '             that --resolve lww drops on purpose: those are the lesson, counted in the report); 2 on bad arguments.',
  ];
  return lines.join('\n');
}
