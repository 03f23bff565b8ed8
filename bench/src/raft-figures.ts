/**
 * The Raft figures: our Raft against etcd (a production Raft) on the same machine, same load tool.
 *
 *   npm run bench -- --topology raft --figures [--duration 10] [--trials 20] [--no-etcd]
 *
 * 1. Throughput: autocannon POST /incr through the leader, each request with a unique
 *    Idempotency-Key (so every one is a new replicated, fsynced increment), at 64 connections
 *    (req/s, p50, p99) and at 1 connection (p50). etcd: POST /v3/kv/put through its gateway, a
 *    new key each (the load generator builds every request afresh for both systems alike).
 *    Both clusters are up and take turns, round by round (ROUNDS); the median round is reported.
 *    A third participant takes the 64-connection turns: the HTTP floor (http-floor-server.ts), a
 *    hono server that answers at once, so the report can say what the stack itself costs per
 *    write before any replication (cpuBoundNote).
 * 2. Unavailability: kill -9 the leader; the time from the kill to the next acknowledged write
 *    through a survivor (overlapping probe writes on every survivor, a new one every 5-15 ms). Then restart the
 *    killed member, wait until it has caught up, and repeat. One system at a time, on a fresh cluster.
 */
import { TestCluster } from '@playground/node/testing';
import { WARMUP_S, runClosedLoop, type ClosedLoopResult } from './closed-loop.js';
import { inTurns, medianBy } from './turns.js';
import { EtcdCluster, b64, etcdVersion } from './etcd.js';
import { httpCall, pollUntil, sleep } from './http.js';
import { histogramBuckets, parsePrometheus, processCpuMs, sumOf } from './metrics.js';
import { provenance } from './provenance.js';
import { keySequence, runTag } from './keys.js';
import { startHttpFloor, type HttpFloor } from './http-floor.js';

export interface FiguresOptions {
  durationS: number;
  trials: number;
  etcd: boolean;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export interface SystemFigures {
  system: string;
  version: string;
  c64: ClosedLoopResult;
  c1: ClosedLoopResult;
  unavailabilityMs: number[];
  medianUnavailabilityMs: number;
  worstUnavailabilityMs: number;
  /** CPU per process during the 64-connection run, as a share of one core. */
  cpuShare: Record<string, number>;
  notes: string[];
}

/** What a figures run needs from a system: a leader, a write through any member, kill, restart. */
interface FiguresTarget {
  readonly name: string;
  readonly version: string;
  members(): string[];
  pid(id: string): number | null;
  leader(): Promise<string | null>;
  writeUrl(id: string): string;
  /** The load's write number `key`: each a new entry (an Idempotency-Key here, a key in etcd). */
  writeRequest(key: string): { headers: Record<string, string>; body: string };
  write(id: string, probeKey: string, timeoutMs: number): Promise<boolean>;
  kill(id: string): Promise<void>;
  restart(id: string): Promise<void>;
  /** Resolves once every member is up and caught up. */
  settled(): Promise<void>;
  notes(): Promise<string[]>;
  stop(): Promise<void>;
}

/** What a throughput round needs: where to send, how to build a write, whose CPU to read. */
type LoadTarget = Pick<FiguresTarget, 'name' | 'version' | 'members' | 'pid' | 'leader' | 'writeUrl' | 'writeRequest'>;

const nextKey = keySequence('f');

const FLOOR_NAME = 'HTTP floor';

/** The HTTP floor as a throughput participant: one process, written to as our nodes are. */
function floorTarget(floor: HttpFloor): LoadTarget {
  return {
    name: FLOOR_NAME,
    version: '(hono, no replication, no disk)',
    members: () => ['floor'],
    pid: () => floor.pid,
    leader: () => Promise.resolve('floor'),
    writeUrl: () => `${floor.url}/incr`,
    writeRequest: (key) => ({ headers: { 'idempotency-key': key }, body: '{}' }),
  };
}

async function raftTarget(): Promise<FiguresTarget> {
  const cluster = await TestCluster.start({ topology: 'raft', nodes: 3, flags: { fsync: true } });
  const leaderOf = async (): Promise<string | null> => {
    for (const n of cluster.liveNodes) {
      const s = await cluster.status(n.id);
      if (s?.role === 'leader') return n.id;
    }
    return null;
  };
  const metricsOf = async (id: string): Promise<ReturnType<typeof parsePrometheus>> => {
    const r = await httpCall(`${cluster.node(id).url}/metrics`, { timeoutMs: 3000 });
    return r.status === 200 ? parsePrometheus(String(r.body)) : [];
  };
  return {
    name: 'raft (this project)',
    version: 'workspace',
    members: () => cluster.nodes.map((n) => n.id),
    pid: (id) => cluster.node(id).proc?.pid ?? null,
    leader: leaderOf,
    writeUrl: (id) => `${cluster.node(id).url}/incr`,
    writeRequest: (key) => ({ headers: { 'idempotency-key': key }, body: '{}' }),
    write: async (id, probeKey, timeoutMs) =>
      (await httpCall(`${cluster.node(id).url}/incr`, { method: 'POST', body: {}, headers: { 'idempotency-key': probeKey }, timeoutMs })).status === 200,
    kill: (id) => cluster.kill(id),
    restart: (id) => cluster.startNode(id),
    settled: async () => {
      await pollUntil(async () => {
        const leader = await leaderOf();
        if (leader === null || cluster.liveNodes.length < cluster.nodes.length) return false;
        const statuses = await Promise.all(cluster.nodes.map((n) => cluster.status(n.id)));
        const commit = Number(statuses.find((s) => s?.id === leader)?.commitIndex ?? -1);
        return statuses.every((s) => s !== null && Number(s.lastApplied) >= commit);
      }, 20_000, 'the raft cluster to settle');
    },
    notes: async () => {
      const leader = await leaderOf();
      if (leader === null) return [];
      const m = await metricsOf(leader);
      const saves = sumOf(m, 'raft_log_save_seconds_count');
      const saveSum = sumOf(m, 'raft_log_save_seconds_sum');
      const entries = sumOf(m, 'raft_log_save_entries_sum');
      const batches = sumOf(m, 'raft_log_save_entries_count');
      const buckets = histogramBuckets(m, 'raft_log_save_seconds');
      const p50Bucket = buckets.find((b) => b.count >= saves / 2)?.le;
      return [
        `leader ${leader}: ${saves} log saves (append+fsync), mean ${((saveSum / Math.max(1, saves)) * 1000).toFixed(2)} ms, median bucket <= ${p50Bucket === undefined ? '?' : (p50Bucket * 1000).toFixed(1)} ms`,
        `leader ${leader}: ${(entries / Math.max(1, batches)).toFixed(1)} entries per fsync on average (group commit)`,
      ];
    },
    stop: () => cluster.stop(),
  };
}

async function etcdTarget(): Promise<FiguresTarget> {
  const cluster = await EtcdCluster.start(3);
  const value = b64('x');
  return {
    name: 'etcd',
    version: etcdVersion() ?? 'unknown',
    members: () => cluster.members.map((m) => m.id),
    pid: (id) => cluster.member(id).proc?.pid ?? null,
    leader: () => cluster.leader(),
    writeUrl: (id) => `${cluster.member(id).url}/v3/kv/put`,
    writeRequest: (key) => ({ headers: {}, body: JSON.stringify({ key: b64(`bench/${key}`), value }) }),
    write: async (id, probeKey, timeoutMs) => (await cluster.put(id, `probe/${probeKey}`, 'x', timeoutMs)).status === 200,
    kill: (id) => cluster.kill(id),
    restart: (id) => cluster.restart(id),
    settled: async () => {
      await pollUntil(async () => {
        if (cluster.members.some((m) => !m.proc)) return false;
        const leader = await cluster.leader();
        if (leader === null) return false;
        const health = await Promise.all(cluster.members.map((m) => httpCall(`${m.url}/health`, { timeoutMs: 1000 })));
        return health.every((h) => h.status === 200 && h.body?.health === 'true');
      }, 20_000, 'the etcd cluster to settle');
    },
    notes: async () => {
      const leader = await cluster.leader();
      if (leader === null) return [];
      const r = await httpCall(`${cluster.member(leader).url}/metrics`, { timeoutMs: 3000 });
      const m = r.status === 200 ? parsePrometheus(String(r.body)) : [];
      const count = sumOf(m, 'etcd_disk_wal_fsync_duration_seconds_count');
      const sum = sumOf(m, 'etcd_disk_wal_fsync_duration_seconds_sum');
      const proposals = sumOf(m, 'etcd_server_proposals_committed_total');
      return count === 0
        ? []
        : [`leader ${leader}: ${count} WAL fsyncs, mean ${((sum / count) * 1000).toFixed(2)} ms, ${(proposals / count).toFixed(1)} committed proposals per fsync`];
    },
    stop: () => cluster.stop(),
  };
}

async function throughput(t: LoadTarget, connections: number, durationS: number, signal?: AbortSignal): Promise<{ result: ClosedLoopResult; cpuShare: Record<string, number> }> {
  const leader = await pollUntil(() => t.leader(), 10_000, `a ${t.name} leader`);
  const pids = t.members().map((id) => ({ id, pid: t.pid(id) }));
  const before = pids.map(({ pid }) => (pid === null ? null : processCpuMs(pid)));
  const selfBefore = process.cpuUsage();
  const started = performance.now();
  const result = await runClosedLoop({
    label: t.name === 'etcd' ? 'PUT /v3/kv/put, unique key' : 'POST /incr, unique Idempotency-Key',
    url: t.writeUrl(leader),
    method: 'POST',
    connections,
    durationS,
    // Both systems build every request afresh (the same load-generator work on the same cores),
    // and every write is a new entry: a new dedup entry here, a new key in etcd.
    perRequest: () => t.writeRequest(nextKey()),
    signal,
  });
  const wallMs = performance.now() - started;
  const cpuShare: Record<string, number> = {};
  pids.forEach(({ id, pid }, i) => {
    const after = pid === null ? null : processCpuMs(pid);
    const b = before[i];
    if (after !== null && b !== null && b !== undefined) cpuShare[id === leader ? `${id} (leader)` : id] = round2((after - b) / wallMs);
  });
  const self = process.cpuUsage(selfBefore);
  cpuShare['load generator'] = round2((self.user + self.system) / 1000 / wallMs);
  return { result, cpuShare };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Kill -9 the leader, time to the next acknowledged write through a survivor. */
async function unavailabilityTrial(t: FiguresTarget, trial: number): Promise<number> {
  await t.settled();
  const leader = await pollUntil(() => t.leader(), 10_000, `a ${t.name} leader`);
  const survivors = t.members().filter((id) => id !== leader);
  const killedAt = performance.now();
  const killed = t.kill(leader);
  let ackedAt = Infinity;
  // Overlapping attempts every 5-15 ms on every survivor (at most 200 in flight each): a write
  // that hangs until its timeout must not hide a leader elected meanwhile.
  const probe = async (id: string): Promise<void> => {
    const deadline = killedAt + 30_000;
    const inFlight = new Set<Promise<void>>();
    let attempt = 0;
    while (ackedAt === Infinity && performance.now() < deadline) {
      if (inFlight.size < 200) {
        const p: Promise<void> = t.write(id, `probe-${runTag}-${trial}-${id}-${++attempt}`, 3000).then((ok) => {
          if (ok) ackedAt = Math.min(ackedAt, performance.now());
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
      await sleep(5 + Math.random() * 10);
    }
    await Promise.all(inFlight);
  };
  await Promise.all(survivors.map(probe));
  await killed;
  if (ackedAt === Infinity) throw new Error(`${t.name}: no write acknowledged within 30 s of killing the leader`);
  await t.restart(leader);
  return ackedAt - killedAt;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Throughput rounds per system, taken in turns (turns.ts). */
const ROUNDS = 3;

type Measured = Awaited<ReturnType<typeof throughput>>;

function measureInTurns(targets: readonly LoadTarget[], connections: number, roundS: number, options: FiguresOptions): Promise<Measured[][]> {
  return inTurns(targets, ROUNDS, async (t, r) => {
    const m = await throughput(t, connections, roundS, options.signal);
    options.log(`  ${t.name}, round ${r + 1}/${ROUNDS}: ${m.result.okPerSec} ok/s, p50 ${m.result.latency.p50} ms, p99 ${m.result.latency.p99} ms, non-2xx ${m.result.non2xx}, errors ${m.result.errors}`);
    return m;
  });
}

/** The round with the median throughput (its latencies and CPU come with it). */
const medianRound = (rounds: readonly Measured[]): Measured => medianBy(rounds, (m) => m.result.okPerSec);

async function unavailability(t: FiguresTarget, options: FiguresOptions): Promise<number[]> {
  const unavailabilityMs: number[] = [];
  for (let i = 1; i <= options.trials && options.signal?.aborted !== true; i++) {
    const ms = await unavailabilityTrial(t, i);
    unavailabilityMs.push(Math.round(ms));
    options.log(`  kill -9 leader, trial ${i}/${options.trials}: ${Math.round(ms)} ms to the next acknowledged write`);
  }
  return unavailabilityMs;
}

/** The HTTP floor's median 64-connection round, per request (in turns with the clusters). */
export interface FloorFigures {
  okPerSec: number;
  /** The floor server's CPU per request, in microseconds. */
  serverUs: number;
  /** The load generator's CPU per request, in microseconds. */
  loadGeneratorUs: number;
}

export interface FiguresReport {
  machine: Record<string, unknown>;
  systems: SystemFigures[];
  floor: FloorFigures | null;
  targets: { check: string; met: boolean | null }[];
  table: string;
}

export async function runRaftFigures(options: FiguresOptions): Promise<FiguresReport> {
  const started = provenance(new Date());
  const makers: (() => Promise<FiguresTarget>)[] = [raftTarget];
  if (options.etcd) {
    if (etcdVersion() === null) options.log('etcd is not on PATH (apt-get install -y etcd-server): measuring Raft alone');
    else makers.push(etcdTarget);
  }
  const { log } = options;
  // 1. Throughput and latency: every system up, measured in turns.
  const measured: { name: string; version: string; c64: Measured[]; c1: Measured[]; notes: string[] }[] = [];
  const up: FiguresTarget[] = [];
  let floor: HttpFloor | null = null;
  let floorRounds: Measured[] = [];
  try {
    for (const make of makers) up.push(await make());
    // The floor only serves the comparison with etcd (cpuBoundNote): without etcd it is not run.
    if (up.length > 1) floor = await startHttpFloor();
    const loads: LoadTarget[] = floor === null ? up : [...up, floorTarget(floor)];
    for (const t of loads) {
      log(`${t.name} ${t.version}: warming up (${WARMUP_S} s at 64 connections)`);
      await throughput(t, 64, WARMUP_S, options.signal);
    }
    const c64RoundS = Math.max(2, Math.round(options.durationS / ROUNDS));
    const c1RoundS = Math.max(2, Math.round(options.durationS / 2 / ROUNDS));
    log(`64 connections: ${ROUNDS} rounds of ${c64RoundS} s per system${floor === null ? '' : ` and the ${FLOOR_NAME}`}, in turns`);
    const c64 = await measureInTurns(loads, 64, c64RoundS, options);
    floorRounds = c64[up.length] ?? [];
    // Group-commit and fsync figures from the members' metrics, before the 1-connection rounds dilute them.
    const notes = await Promise.all(up.map((t) => t.notes()));
    log(`1 connection: ${ROUNDS} rounds of ${c1RoundS} s per system, in turns`);
    const c1 = await measureInTurns(up, 1, c1RoundS, options);
    for (const [i, t] of up.entries()) {
      measured.push({ name: t.name, version: t.version, c64: c64[i] as Measured[], c1: c1[i] as Measured[], notes: notes[i] as string[] });
    }
  } finally {
    for (const t of up) await t.stop();
    await floor?.stop();
  }
  // 2. Unavailability after kill -9: one system at a time, each on a fresh cluster.
  const systems: SystemFigures[] = [];
  for (const [i, make] of makers.entries()) {
    const m = measured[i] as (typeof measured)[number];
    const t = await make();
    let unavailabilityMs: number[];
    try {
      log(`${t.name}: ${options.trials} kill -9 trials`);
      unavailabilityMs = await unavailability(t, options);
    } finally {
      await t.stop();
    }
    const c64 = medianRound(m.c64);
    const perRound = (rounds: readonly Measured[]): string => rounds.map((r) => r.result.okPerSec).join(', ');
    systems.push({
      system: m.name,
      version: m.version,
      c64: c64.result,
      c1: medianRound(m.c1).result,
      unavailabilityMs,
      medianUnavailabilityMs: median(unavailabilityMs),
      worstUnavailabilityMs: Math.max(...unavailabilityMs),
      cpuShare: c64.cpuShare,
      notes: [
        `writes/s per round, in turns with the other system (the median round is shown): 64 connections ${perRound(m.c64)}; 1 connection ${perRound(m.c1)}`,
        `CPU during the median 64-connection round (share of one core): ${Object.entries(c64.cpuShare).map(([k, v]) => `${k} ${v}`).join(', ')}`,
        ...m.notes,
      ],
    });
  }
  const raft = systems[0] as SystemFigures;
  const etcd = systems[1];
  const targets = [
    { check: "64 connections: at least 2x etcd's puts/s", met: etcd ? raft.c64.okPerSec >= 2 * etcd.c64.okPerSec : null },
    { check: '64 connections: p99 < 40 ms', met: raft.c64.latency.p99 < 40 },
    { check: '1 connection: p50 < 1 ms', met: raft.c1.latency.p50 < 1 },
    { check: 'kill -9 leader: median unavailability < 400 ms', met: raft.medianUnavailabilityMs < 400 },
    { check: 'kill -9 leader: worst unavailability < 1 s', met: raft.worstUnavailabilityMs < 1000 },
  ];
  const { startedAt, loadAverage: loadAtStart, ...machineFacts } = started;
  const machine = {
    ...machineFacts,
    date: startedAt,
    loadAverage: `${loadAtStart} at the start, ${provenance(new Date()).loadAverage} at the end (1-minute)`,
  };
  const floorFigures = floorRounds.length === 0 ? null : floorOf(medianRound(floorRounds));
  return { machine, systems, floor: floorFigures, targets, table: figuresTable(machine, systems, targets, floorFigures) };
}

function floorOf(m: Measured): FloorFigures | null {
  const { okPerSec } = m.result;
  const loadGenerator = m.cpuShare['load generator'];
  const server = Object.entries(m.cpuShare).find(([k]) => k !== 'load generator')?.[1];
  if (okPerSec <= 0 || loadGenerator === undefined || server === undefined) return null;
  return { okPerSec, serverUs: Math.round((server * 1e6) / okPerSec), loadGeneratorUs: Math.round((loadGenerator * 1e6) / okPerSec) };
}

/**
 * CPU per acknowledged write in the median 64-connection round, in microseconds: every member's
 * CPU and the load generator's, over the writes acknowledged (null without a CPU reading).
 */
export function cpuPerWriteUs(s: SystemFigures): number | null {
  const shares = Object.values(s.cpuShare);
  if (shares.length === 0 || s.c64.okPerSec <= 0) return null;
  return Math.round((shares.reduce((a, b) => a + b, 0) * 1e6) / s.c64.okPerSec);
}

/**
 * What bounds the throughput comparison, from this run's own readings: once the members and the
 * load generator keep every core busy, a system's rate is about cores / CPU per write, so twice
 * etcd's rate needs half of etcd's CPU per write (the load generator's share included).
 */
export function cpuBoundNote(cores: number, ours: SystemFigures, etcd: SystemFigures, floor: FloorFigures | null = null): string[] {
  const oursUs = cpuPerWriteUs(ours);
  const etcdUs = cpuPerWriteUs(etcd);
  if (oursUs === null || etcdUs === null) return [];
  const busy = (s: SystemFigures): string => Object.values(s.cpuShare).reduce((a, b) => a + b, 0).toFixed(2);
  const loadGen = ours.cpuShare['load generator'];
  const budgetUs = Math.round((cores * 1e6) / (2 * etcd.c64.okPerSec));
  const oursMembersUs = loadGen === undefined ? null : oursUs - Math.round((loadGen * 1e6) / ours.c64.okPerSec);
  return [
    `What bounds the first target: at 64 connections ${ours.system} kept ${busy(ours)} and etcd ${busy(etcd)} of this machine's ${cores} cores busy, so each rate is about cores / CPU per write.`,
    `CPU per acknowledged write (members + load generator): ${ours.system} ${oursUs} us, etcd ${etcdUs} us (${(etcdUs / oursUs).toFixed(2)}x).`,
    `Twice etcd's rate (${2 * etcd.c64.okPerSec}/s) on ${cores} cores needs at most ${budgetUs} us per write, all three members and the load generator together` +
      (loadGen === undefined ? '.' : `; the load generator alone spent ${Math.round((loadGen * 1e6) / ours.c64.okPerSec)} us per ${ours.system} write.`),
    ...(floor === null
      ? []
      : [
          `The ${FLOOR_NAME}, in the same turns (a hono server answering POST /incr at once: no replication, no disk): ${floor.okPerSec}/s, ${floor.serverUs} us of server CPU and ${floor.loadGeneratorUs} us of load generator per request. ` +
            `Of the ${budgetUs} us, that leaves ${budgetUs - floor.serverUs - floor.loadGeneratorUs} us per write for everything replication adds on three members` +
            (oursMembersUs === null ? '.' : `; the members of ${ours.system} spent ${oursMembersUs - floor.serverUs} us per write beyond the floor.`),
        ]),
  ];
}

export function figuresTable(machine: Record<string, unknown>, systems: readonly SystemFigures[], targets: FiguresReport['targets'], floor: FloorFigures | null = null): string {
  const row = (label: string, f: (s: SystemFigures) => string): string => `| ${label} | ${systems.map(f).join(' | ')} |`;
  const lines = [
    `Machine: ${String(machine.cpu)}, ${String(machine.cores)} cores, ${String(machine.memoryGiB)} GiB, ${String(machine.os)}; Node ${String(machine.node)}; commit ${String(machine.commit)}; ${String(machine.date)}; load average ${String(machine.loadAverage)}`,
    '',
    `| 3 members on loopback, fsync on | ${systems.map((s) => `${s.system} ${s.version}`).join(' | ')} |`,
    `| --- | ${systems.map(() => '---').join(' | ')} |`,
    row('write', (s) => (s.system === 'etcd' ? 'PUT /v3/kv/put (gateway), unique key' : 'POST /incr, unique Idempotency-Key')),
    row('64 connections: acknowledged writes/s', (s) => String(s.c64.okPerSec)),
    row('64 connections: p50 / p99 (ms)', (s) => `${s.c64.latency.p50} / ${s.c64.latency.p99}`),
    row('64 connections: non-2xx, errors', (s) => `${s.c64.non2xx}, ${s.c64.errors}`),
    row('64 connections: CPU per acknowledged write (us, members + load generator)', (s) => String(cpuPerWriteUs(s) ?? '?')),
    row('1 connection: writes/s', (s) => String(s.c1.okPerSec)),
    row('1 connection: p50 / p99 (ms)', (s) => `${s.c1.latency.p50} / ${s.c1.latency.p99}`),
    row(`kill -9 leader: unavailability median / worst (ms, ${systems[0]?.unavailabilityMs.length ?? 0} trials)`, (s) => `${s.medianUnavailabilityMs} / ${s.worstUnavailabilityMs}`),
    '',
    'Targets for our Raft:',
    ...targets.map((t) => `- [${t.met === null ? '?' : t.met ? 'x' : ' '}] ${t.check}${t.met === null ? ' (etcd not measured)' : ''}`),
    '',
    ...(systems.length > 1 ? [...cpuBoundNote(Number(machine.cores), systems[0] as SystemFigures, systems[1] as SystemFigures, floor), ''] : []),
    ...systems.flatMap((s) => s.notes.map((n) => `- ${s.system}: ${n}`)),
  ];
  return lines.join('\n');
}
