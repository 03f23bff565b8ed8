/**
 * npm run sim -- --topology raft --seed 1234      replay one run exactly
 * npm run sim -- --topology raft --seeds 10000    many runs (from --seed, default: a fresh one)
 * --topology raft|leaderless|crdt; leaderless takes --resolve merge|lww (lww loses increments on purpose).
 */
import { parseArgs } from 'node:util';
import { describeOptions, optionsForSeed, type RunOverrides } from './options.js';
import { describeTopology, isSimTopologyName, runTopologySeed, SIM_TOPOLOGIES, type TopologyFlags } from './topologies.js';

const USAGE = `usage: npm run sim -- --topology ${SIM_TOPOLOGIES.join('|')} [--resolve merge|lww] [--seed N] [--seeds COUNT] [--nodes 3-7] [--safety-ms MS] [--clients 1-20] [--verbose]`;

function die(message: string): never {
  process.stderr.write(`sim: ${message} (npm run sim -- --help)\n`);
  process.exit(2);
}

function intFlag(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) die(`--${name} must be an integer, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) die(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function main(): void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        topology: { type: 'string', default: 'raft' },
        resolve: { type: 'string' },
        seed: { type: 'string' },
        seeds: { type: 'string' },
        nodes: { type: 'string' },
        'safety-ms': { type: 'string' },
        clients: { type: 'string' },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    die((e as Error).message.split('\n')[0] as string);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const topology = values.topology;
  if (!isSimTopologyName(topology)) die(`--topology ${topology} is not simulated (available: ${SIM_TOPOLOGIES.join(', ')})`);
  const resolve = values.resolve;
  if (resolve !== undefined && resolve !== 'merge' && resolve !== 'lww') die(`--resolve must be merge or lww, got ${JSON.stringify(resolve)}`);
  if (resolve !== undefined && topology !== 'leaderless') die(`--resolve applies to --topology leaderless only`);
  const flags: TopologyFlags = resolve === undefined ? {} : { resolve };
  const firstSeed = intFlag('seed', values.seed, 0, 2 ** 32 - 1) ?? (values.seeds === undefined ? 1 : Math.floor(Math.random() * 2 ** 31));
  const count = intFlag('seeds', values.seeds, 1, 100_000_000) ?? 1;
  const nodes = intFlag('nodes', values.nodes, 3, 7);
  const safetyMs = intFlag('safety-ms', values['safety-ms'], 100, 3_600_000);
  const clients = intFlag('clients', values.clients, 1, 20);
  const overrides: RunOverrides = {
    ...(nodes === undefined ? {} : { nodes }),
    ...(safetyMs === undefined ? {} : { safetyMs }),
    ...(clients === undefined ? {} : { client: { clients } }),
  };

  const started = performance.now();
  let failures = 0;
  let simulatedMs = 0;
  let events = 0;
  let unknown = 0;
  for (let i = 0; i < count; i++) {
    const seed = (firstSeed + i) >>> 0;
    const options = optionsForSeed(seed, overrides);
    const head = [`SEED=${seed} topology=${topology}`, describeTopology(topology, seed, flags), describeOptions(options)].filter((s) => s !== '').join(' ');
    if (count === 1 || values.verbose) process.stdout.write(`${head}\n`);
    const result = runTopologySeed(topology, seed, overrides, flags);
    simulatedMs += result.stats.simulatedMs;
    events += result.stats.events;
    if (result.verdicts.some((v) => v.valid === 'unknown')) unknown++;
    if (!result.ok) {
      failures++;
      if (count > 1 && !values.verbose) process.stdout.write(`${head}\n`);
      process.stdout.write(`${result.failure}\n`);
    } else if (count === 1 || values.verbose) {
      const s = result.stats;
      process.stdout.write(
        `ok SEED=${seed}: ${(s.simulatedMs / 1000).toFixed(1)} s simulated in ${s.wallMs.toFixed(0)} ms; ` +
          `ops ok=${s.ops.ok} fail=${s.ops.fail} info=${s.ops.info}; crashes=${s.crashes}; messages=${s.messagesSent} (dropped ${s.messagesDropped}); ` +
          `converged ${s.convergedAfterHealMs?.toFixed(0)} ms after heal\n` +
          result.verdicts.map((v) => `  ${v.checker}: ${v.valid} — ${v.summary}\n`).join(''),
      );
    }
    if (count > 1 && !values.verbose && (i + 1) % 100 === 0) {
      const wallS = (performance.now() - started) / 1000;
      process.stdout.write(`${i + 1}/${count} seeds, ${failures} failed, ${(((i + 1) / wallS)).toFixed(1)} seeds/s\n`);
    }
  }
  const wallS = (performance.now() - started) / 1000;
  process.stdout.write(
    `${count} seed(s) from ${firstSeed}: ${failures} failed, ${unknown} with an undecided checker; ` +
      `${(simulatedMs / 1000).toFixed(0)} simulated s in ${wallS.toFixed(1)} s (${(simulatedMs / 1000 / wallS).toFixed(0)}x real time, ` +
      `${(count / wallS).toFixed(1)} seeds/s, ${(events / wallS / 1e6).toFixed(2)} M events/s)\n`,
  );
  process.exitCode = failures > 0 ? 1 : 0;
}

main();
