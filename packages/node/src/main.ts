/**
 * `npm run node -- --topology raft --id n1 --port 8001 --peers ... --data-dir ... --secret ...`
 *
 * One node of one topology. Bad flags: one line on stderr, exit 2, nothing started.
 * SIGTERM/SIGINT: stop accepting, flush what is pending to disk, close, exit 0.
 */
import { mkdir } from 'node:fs/promises';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { TopologyNode } from '@playground/core';
import { createNodeServer } from '@playground/transport';
import { mountClientApi } from './client-api.js';
import {
  NODE_FLAGS,
  UsageError,
  helpText,
  knobFlagSpecs,
  nodeEnvName,
  parseNodeOptions,
  readFlags,
  requireTopology,
  type NodeOptions,
} from './flags.js';
import { createLogger } from './log.js';
import { loadTopology } from './topologies.js';

const USAGE =
  'npm run node -- --topology <raft|leaderless|crdt> --id n1 [--port 8001] --peers n1=127.0.0.1:8001,n2=127.0.0.1:8002,n3=127.0.0.1:8003 [--data-dir .data/n1] --secret <secret> [knobs]';

/** The topology decides which knobs exist, so it is read before the strict parse. */
function peekTopology(argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--topology') return argv[i + 1];
    if (a.startsWith('--topology=')) return a.slice('--topology='.length);
  }
  return env.TOPOLOGY || undefined;
}

async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    const topology = peekTopology(argv, env);
    const knobs = topology ? (await loadTopology(requireTopology(topology))).knobs : [];
    process.stdout.write(`${helpText('Start one node of a replicated counter.', USAGE, [...NODE_FLAGS, ...knobFlagSpecs(knobs)], nodeEnvName)}\n`);
    if (!topology) process.stdout.write('\n  (add --topology <name> to --help to see its knobs)\n');
    return;
  }
  const module = await loadTopology(requireTopology(peekTopology(argv, env)));
  const values = readFlags(argv, [...NODE_FLAGS, ...knobFlagSpecs(module.knobs)], env, nodeEnvName);
  const options = parseNodeOptions(values, module);
  await runNode(options, module);
}

async function runNode(options: NodeOptions, module: Awaited<ReturnType<typeof loadTopology>>): Promise<void> {
  const log = createLogger(options.id);
  const startedAtMs = Date.now();
  await mkdir(options.dataDir, { recursive: true });
  const registry = new Registry();
  registry.setDefaultLabels({ node: options.id, topology: options.topology });
  collectDefaultMetrics({ register: registry });

  let node: TopologyNode | undefined;
  const server = createNodeServer({
    id: options.id,
    host: options.host,
    port: options.port,
    peers: options.peers,
    secret: options.secret,
    registry,
    rpcTimeoutMs: options.rpcTimeoutMs,
    log,
    onPeerMessage: async (from, type, body) => {
      if (!node) throw new Error('node is still starting');
      return node.handlePeer(from, type, body);
    },
    mountClientRoutes: (app) => {
      mountClientApi(app, {
        id: options.id,
        module,
        node: () => {
          if (!node) throw new Error('node is still starting');
          return node;
        },
        commonStatus: () => ({
          id: options.id,
          topology: options.topology,
          pid: process.pid,
          uptimeMs: Date.now() - startedAtMs,
          peers: options.peers.map((p) => ({ id: p.id, address: `${p.host}:${p.port}` })),
          faults: server.faults.get(),
        }),
      });
    },
  });

  const created = module.create({
    id: options.id,
    peers: options.peers,
    dataDir: options.dataDir,
    knobs: options.knobs,
    transport: server.transport,
    metrics: registry,
    log,
  });
  await created.start();
  node = created;

  let port: number;
  try {
    port = await server.listen();
  } catch (e) {
    await created.stop();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new StartupError(`port ${options.port} on ${options.host} is already in use (is another node running? stop it or pick another --port)`);
    }
    if (code === 'EADDRNOTAVAIL') throw new StartupError(`cannot listen on ${options.host}: no such local address (--host)`);
    throw e;
  }
  log.info(`ready: ${options.topology} node listening on http://${options.host}:${port}`, { pid: process.pid, dataDir: options.dataDir });
  process.stdout.write(`${options.id} ready on http://${options.host}:${port} pid ${process.pid}\n`);

  let stoppingSinceMs: number | null = null;
  const shutdown = (signal: string): void => {
    if (stoppingSinceMs !== null) {
      // Ctrl-C reaches the whole process group, and `npm run cluster` forwards a SIGTERM too:
      // only a repeat well after the first is a user asking to force it.
      if (Date.now() - stoppingSinceMs < 1000) return;
      log.warn(`second ${signal}: exiting without waiting`);
      process.exit(1);
    }
    stoppingSinceMs = Date.now();
    log.info(`${signal}: stopping (no new requests, flushing to disk)`);
    void (async () => {
      await server.close();
      await created.stop();
      log.info('stopped');
      process.exit(0);
    })().catch((e: unknown) => {
      log.error(`stop failed: ${(e as Error).message}`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

class StartupError extends Error {}

process.on('uncaughtException', (e) => {
  // Fail-stop: a broken invariant must crash with its message, never limp on.
  process.stderr.write(`fatal: ${e.stack ?? e.message}\n`);
  process.exit(1);
});

main(process.argv.slice(2), process.env).catch((e: unknown) => {
  if (e instanceof UsageError) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`error: ${e instanceof StartupError ? e.message : ((e as Error).stack ?? String(e))}\n`);
  process.exit(1);
});
