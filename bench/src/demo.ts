/**
 * `npm run demo -- pacelc [--no-pause] [--duration S] [--rate OPS]`: PACELC in class, on the
 * bench harness. E (else, no partition): the same load through Raft linearizable reads, Raft
 * local reads, leaderless (1,1), (2,2), (3,3) and the CRDT: latency next to stale reads.
 * P (partition): isolate one node; who still takes writes on the minority side, what reads
 * return there, and what happens at the heal. Pauses for Enter between steps on a terminal.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { checkCounterBounds } from '@playground/checkers';
import { availableModules, type NodeTopology } from './bench.js';
import { histogramsOf, labelOps } from './measures.js';
import { runOpenLoop } from './loadgen.js';
import { runScenario } from './runner.js';
import { schedulePhases } from './scenarios.js';
import { startEmbedded, type Target } from './target.js';
import { summarize } from './hist.js';

const USAGE = 'usage: npm run demo -- pacelc [--no-pause] [--duration S (per step, default 4)] [--rate OPS (default 80)]';

const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const say = (s = ''): void => void process.stdout.write(`${s}\n`);

async function pause(enabled: boolean): Promise<void> {
  if (!enabled || !process.stdin.isTTY) return;
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  await rl.question('  [Enter] to continue ');
  rl.close();
}

interface ERow {
  label: string;
  readP50: number;
  readP99: number;
  writeP50: number;
  writeP99: number;
  stale: string;
  maxStaleMs: number;
}

async function measureE(target: Target, label: string, durationS: number, rate: number, seed: number): Promise<ERow> {
  const origin = performance.now();
  const load = await runOpenLoop({ target, key: `demo-e-${seed}`, rate, durationMs: durationS * 1000, readFraction: 0.5, opTimeoutMs: 2000, seed, runId: `demo-${Date.now().toString(36)}-${seed}`, originMs: origin });
  const ops = labelOps(load.ops, schedulePhases(durationS * 1000), {});
  const hist = histogramsOf(target.topology, ops);
  const reads = summarize(hist.merged({ op: 'read' }));
  const writes = summarize(hist.merged({ op: 'incr' }));
  const bounds = checkCounterBounds(ops, { allowStale: true }).details as Record<string, number>;
  return {
    label,
    readP50: reads.p50,
    readP99: reads.p99,
    writeP50: writes.p50,
    writeP99: writes.p99,
    stale: `${bounds.staleReads}/${bounds.reads} (${((bounds.staleFraction ?? 0) * 100).toFixed(1)}%)`,
    maxStaleMs: Math.round(bounds.maxStaleMs ?? 0),
  };
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  say(`  ${bold(line(header))}`);
  for (const r of rows) say(`  ${line(r)}`);
}

async function pacelc(durationS: number, rate: number, pauses: boolean): Promise<void> {
  const modules = await availableModules();
  const have = (t: NodeTopology): boolean => modules.has(t);
  say(bold('PACELC: if there is a Partition, choose Availability or Consistency; Else, choose Latency or Consistency.'));
  say('We run the same workload (half increments, half reads, open loop at a fixed rate, every operation recorded)');
  say('against real node processes on this machine, and let the checkers judge every read.');
  say();
  say(bold('E: no partition. What does a consistent read cost, and what does a fast one risk?'));
  say('Look at: read latency against the stale-read column. A stale read returned less than increments that were');
  say('already acknowledged before it started. Raft\'s default read asks the leader to confirm it is still leader');
  say('(ReadIndex, Raft §6.4): never stale, one round trip more. A local read answers at once from the node\'s applied');
  say('state. Leaderless (w,r): r + w > n makes read and write quorums overlap (Dynamo §4.5); r=1 answers fast and may miss writes.');
  await pause(pauses);
  const rows: ERow[] = [];
  let seed = 1;
  const run = async (topology: NodeTopology, variants: { label: string; params: Parameters<import('./target.js').ParamTarget['withParams']>[0] }[]): Promise<void> => {
    if (!have(topology)) {
      say(`  (${topology} is not available in this checkout; skipped)`);
      return;
    }
    say(`  starting 3 ${topology} nodes...`);
    const target = await startEmbedded(topology, 3, {});
    try {
      if (topology === 'raft') while ((await target.leader()) === null) await new Promise((r) => setTimeout(r, 25));
      // Warm up (JIT, connections) unrecorded, so the first configuration is not penalized.
      await measureE(target, 'warm-up', 1, rate, 0);
      for (const v of variants) {
        process.stdout.write(`  ${v.label}: ${durationS} s at ${rate} ops/s... `);
        const row = await measureE(target.withParams(v.params), v.label, durationS, rate, seed++);
        rows.push(row);
        say(`reads p50 ${row.readP50} ms, stale ${row.stale}`);
      }
    } finally {
      await target.stop();
    }
  };
  await run('raft', [
    { label: 'raft, linearizable reads', params: {} },
    { label: 'raft, local reads', params: { read: { consistency: 'local' } } },
  ]);
  await run('leaderless', [1, 2, 3].map((q) => ({ label: `leaderless (w=${q}, r=${q})`, params: { incr: { w: q }, read: { r: q } } })));
  await run('crdt', [{ label: 'crdt (local merge)', params: {} }]);
  say();
  printTable(
    ['configuration', 'read p50 ms', 'read p99 ms', 'write p50 ms', 'write p99 ms', 'stale reads', 'worst lag ms'],
    rows.map((r) => [r.label, String(r.readP50), String(r.readP99), String(r.writeP50), String(r.writeP99), r.stale, String(r.maxStaleMs)]),
  );
  say();
  say('What to see: the consistent configurations pay in latency and are never stale; the fast ones may be.');
  say('How stale depends on how fast replicas hear of a write: Raft followers learn a commit with the leader\'s next');
  say('append or heartbeat, leaderless replicas with w=1 when the async write arrives, CRDT replicas at the next gossip');
  say('round (--gossip-ms). The worst-lag column is that delay, measured.');
  await pause(pauses);

  say();
  say(bold('P: isolate one node from its peers (clients can still reach it). Who takes writes there?'));
  say('Look at: the minority side\'s writes and reads during the partition, and whether the nodes agree after the heal.');
  say('Raft (CP) refuses on the minority: no majority, no commit; a linearizable read there fails too. Leaderless with');
  say('w=2 on 3 nodes refuses on the minority (it cannot reach w replicas). The CRDT (AP) accepts everything everywhere');
  say('and reads there miss the other side\'s increments until the heal, when gossip merges them and nothing is lost.');
  await pause(pauses);
  const out = await mkdtemp(join(tmpdir(), 'pacelc-'));
  const pRows: string[][] = [];
  try {
    for (const topology of ['raft', 'leaderless', 'crdt'] as const) {
      if (!have(topology)) continue;
      say(`  ${topology}: starting 3 nodes, then ${durationS * 3} s: before | node isolated | healed`);
      const target = await startEmbedded(topology, 3, {});
      try {
        const { summary: s } = await runScenario({
          target, scenario: 'isolate-leader', durationS: durationS * 3, rate, readFraction: 0.5, opTimeoutMs: 1000, seed: seed++,
          connections: 0, closedLoop: { incr: null, read: null }, knobs: {}, outRoot: out, endpoints: false, charts: false,
        });
        const cell = (side: string, op: string): string => {
          const c = s.availability.find((a) => a.phase === 'during' && a.side === side && a.op === op);
          return c ? `${Math.round(c.fraction * 100)}%` : '-';
        };
        const minority = Object.entries(s.sideOf).find(([, side]) => side === 'minority')?.[0] ?? '?';
        pRows.push([
          `${topology} (${minority} isolated)`,
          cell('minority', 'incr'),
          cell('minority', 'read'),
          cell('majority', 'incr'),
          `${(s.consistency.staleFraction * 100).toFixed(1)}%`,
          s.consistency.convergenceMs === null ? 'never' : `${s.consistency.convergenceMs} ms`,
          String(s.consistency.lostIncrements),
          s.consistency.verdict === true ? 'pass' : s.consistency.verdict === false ? 'FAIL' : 'unknown',
        ]);
      } finally {
        await target.stop();
      }
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
  say();
  printTable(['topology', 'minority writes', 'minority reads', 'majority writes', 'stale reads', 'agreed after heal', 'lost', 'checkers'], pRows);
  say();
  say('What to see: CP systems keep the minority consistent by refusing it; AP systems keep it available and let it');
  say('diverge, then converge after the heal. Neither loses an acknowledged increment. For the full picture with');
  say('charts: npm run bench (results/README.md).');
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({ args: argv, options: { 'no-pause': { type: 'boolean' }, duration: { type: 'string' }, rate: { type: 'string' }, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`demo: ${(e as Error).message.split('\n')[0]} (${USAGE})\n`);
    return 2;
  }
  if (values.values.help) {
    say(USAGE);
    return 0;
  }
  const [which] = values.positionals;
  if (which !== 'pacelc' || values.positionals.length !== 1) {
    process.stderr.write(`demo: expected one demo name, pacelc; got ${JSON.stringify(values.positionals.join(' '))} (${USAGE})\n`);
    return 2;
  }
  const duration = Number(values.values.duration ?? 4);
  const rate = Number(values.values.rate ?? 80);
  if (!Number.isInteger(duration) || duration < 1 || duration > 600) {
    process.stderr.write(`demo: --duration ${values.values.duration}: expected an integer in 1..600\n`);
    return 2;
  }
  if (!Number.isInteger(rate) || rate < 1 || rate > 5000) {
    process.stderr.write(`demo: --rate ${values.values.rate}: expected an integer in 1..5000\n`);
    return 2;
  }
  await pacelc(duration, rate, values.values['no-pause'] !== true);
  return 0;
}

process.on('SIGINT', () => process.exit(130)); // the test-cluster exit hook kills every node
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`demo: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
