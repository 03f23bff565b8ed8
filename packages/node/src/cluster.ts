/**
 * `npm run cluster -- --topology raft [--nodes 3] [--base-port 8001] [--data-dir .data/raft] [--fresh] [knobs]`
 *
 * Starts the nodes as separate OS processes, prints one line per node and the generated secret,
 * stays in the foreground. SIGINT/SIGTERM stops every node it started. A node that dies is
 * reported, not restarted, and the others keep running.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  UsageError,
  helpText,
  knobFlagSpecs,
  parseIntStrict,
  parseKnobs,
  readFlags,
  requireTopology,
  type FlagSpec,
} from './flags.js';
import { spawnNode, type NodeProcess } from './spawn.js';
import { loadTopology } from './topologies.js';

const CLUSTER_FLAGS: readonly FlagSpec[] = [
  { name: 'topology', type: 'string', help: 'raft | leaderless | crdt (default raft)' },
  { name: 'nodes', type: 'string', help: 'how many nodes (default 3)' },
  { name: 'base-port', type: 'string', help: 'first node\'s port; the others follow (default 8001)' },
  { name: 'host', type: 'string', help: 'address to listen on (default 127.0.0.1)' },
  { name: 'data-dir', type: 'string', help: 'parent of each node\'s data dir (default .data/<topology>)' },
  { name: 'fresh', type: 'boolean', help: 'delete the data dir first' },
  { name: 'secret', type: 'string', help: 'use this cluster secret instead of generating one' },
  { name: 'rpc-timeout-ms', type: 'string', help: 'timeout of every peer RPC attempt (default 1000)' },
  { name: 'help', type: 'boolean', help: 'print this help' },
];

const USAGE = 'npm run cluster -- [--topology raft|leaderless|crdt] [--nodes 3] [--base-port 8001] [--data-dir .data/<topology>] [--fresh] [knobs]';

async function main(argv: readonly string[]): Promise<void> {
  const topologyArg = argv.find((a, i) => argv[i - 1] === '--topology') ?? argv.find((a) => a.startsWith('--topology='))?.slice(11);
  const topology = requireTopology(topologyArg, 'raft');
  const module = await loadTopology(topology);
  const specs = [...CLUSTER_FLAGS, ...knobFlagSpecs(module.knobs)];
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${helpText('Start a local cluster of node processes.', USAGE, specs, (f) => `--${f}`)}\n`);
    return;
  }
  // The launcher reads flags only: its children get their secret through CLUSTER_SECRET.
  const values = readFlags(argv, specs, {});
  const count = parseIntStrict('nodes', String(values.get('nodes') ?? '3'), 1, 15);
  const basePort = parseIntStrict('base-port', String(values.get('base-port') ?? '8001'), 1, 65535 - count + 1);
  const host = String(values.get('host') ?? '127.0.0.1');
  const dataRoot = String(values.get('data-dir') ?? join('.data', topology));
  const secret = typeof values.get('secret') === 'string' ? String(values.get('secret')) : randomBytes(18).toString('base64url');
  // Validate here: one error line, nothing started.
  // Every topology's knobs are parsed (bounds, types), whether or not it has checks across them.
  const knobValues = parseKnobs(module.knobs, values);
  const problem = module.checkKnobs?.(knobValues, count);
  if (problem) throw new UsageError(problem);
  const knobArgs: string[] = [];
  for (const knob of module.knobs) {
    const v = values.get(knob.name);
    if (v !== undefined) knobArgs.push(`--${knob.name}`, String(v));
  }
  const rpcTimeout = values.get('rpc-timeout-ms');
  if (rpcTimeout !== undefined) knobArgs.push('--rpc-timeout-ms', String(rpcTimeout));

  if (values.get('fresh') === true) await rm(dataRoot, { recursive: true, force: true });
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const peers = ids.map((id, i) => `${id}=${host}:${basePort + i}`).join(',');

  process.stdout.write(`${topology} cluster of ${count}; secret: ${secret}\n`);
  const nodes = new Map<string, NodeProcess>();
  let stopping = false;
  for (const [i, id] of ids.entries()) {
    const proc = spawnNode({
      args: ['--topology', topology, '--id', id, '--host', host, '--port', String(basePort + i), '--peers', peers, '--data-dir', join(dataRoot, id), ...knobArgs],
      env: { ...process.env, CLUSTER_SECRET: secret },
      onLine: (line, stream) => (stream === 'stderr' ? process.stderr : process.stdout).write(`[${id}] ${line}\n`),
    });
    nodes.set(id, proc);
    void proc.exited.then(({ code, signal }) => {
      nodes.delete(id);
      if (stopping) return;
      process.stdout.write(
        `${id} (pid ${proc.pid}) died (${signal ?? `exit code ${code}`}); the others keep running. It is not restarted.\n`,
      );
      if (nodes.size === 0) {
        process.stdout.write('every node has died; exiting\n');
        process.exit(1);
      }
    });
  }
  const results = await Promise.allSettled([...nodes.values()].map((n) => n.ready));
  for (const [i, id] of ids.entries()) {
    const r = results[i];
    const url = `http://${host}:${basePort + i}`;
    if (r?.status === 'fulfilled') process.stdout.write(`${id}  ${url}  pid ${nodes.get(id)?.pid ?? '?'}\n`);
    else process.stdout.write(`${id}  ${url}  FAILED to start: ${(r as PromiseRejectedResult).reason.message}\n`);
  }
  process.stdout.write(
    `try: curl -X POST localhost:${basePort}/incr ; curl localhost:${basePort + Math.min(1, count - 1)}/count   (Ctrl-C stops the cluster)\n`,
  );

  const stopAll = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: stopping ${nodes.size} node(s)\n`);
    const exits = [...nodes.values()].map((n) => {
      n.child.kill('SIGTERM');
      return n.exited;
    });
    const force = setTimeout(() => {
      for (const n of nodes.values()) n.child.kill('SIGKILL');
    }, 5000);
    void Promise.all(exits).then(() => {
      clearTimeout(force);
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stopAll('SIGINT'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof UsageError) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
