/**
 * Real clusters for tests and the bench: node processes on free loopback ports, data in a
 * temporary directory, every process killed and every file removed by stop().
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNode, type NodeProcess } from './spawn.js';
import type { TopologyName } from './flags.js';

export interface ClientResponse {
  /** 0 when no HTTP answer came back (refused, reset, or our own timeout): outcome unknown. */
  readonly status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  readonly networkError?: string;
}

export interface RequestOptions {
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
}

export interface TestNode {
  readonly id: string;
  readonly port: number;
  readonly url: string;
  /** The running process, or null while the node is down. */
  proc: NodeProcess | null;
}

export interface StartClusterOptions {
  readonly topology: TopologyName;
  readonly nodes?: number;
  /** Topology knobs and node flags, without dashes: { 'election-min-ms': 150 }. */
  readonly flags?: Record<string, string | number | boolean>;
  /** Per-node extra flags (e.g. a clock skew on one node). */
  readonly nodeFlags?: Record<string, Record<string, string | number | boolean>>;
  /** Echo node output to stderr as it happens (debugging). */
  readonly echo?: boolean;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `check` until it returns a truthy value or the deadline passes. No fixed sleeps. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${options.what ?? 'a condition'}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 20));
  }
}

export class TestCluster {
  private readonly logLines: string[] = [];

  private constructor(
    readonly topology: TopologyName,
    readonly secret: string,
    readonly dataRoot: string,
    readonly nodes: readonly TestNode[],
    private readonly argsOf: (node: TestNode) => string[],
    private readonly echo: boolean,
  ) {}

  static async start(options: StartClusterOptions): Promise<TestCluster> {
    const count = options.nodes ?? 3;
    const dataRoot = await mkdtemp(join(tmpdir(), `playground-${options.topology}-`));
    const ports: number[] = [];
    while (ports.length < count) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const nodes: TestNode[] = ports.map((port, i) => ({ id: `n${i + 1}`, port, url: `http://127.0.0.1:${port}`, proc: null }));
    const peers = nodes.map((n) => `${n.id}=127.0.0.1:${n.port}`).join(',');
    const toArgs = (flags: Record<string, string | number | boolean> | undefined): string[] =>
      Object.entries(flags ?? {}).flatMap(([k, v]) => [`--${k}`, String(v)]);
    const argsOf = (node: TestNode): string[] => [
      '--topology', options.topology, '--id', node.id, '--port', String(node.port), '--peers', peers,
      '--data-dir', join(dataRoot, node.id), ...toArgs(options.flags), ...toArgs(options.nodeFlags?.[node.id]),
    ];
    const cluster = new TestCluster(options.topology, randomBytes(16).toString('hex'), dataRoot, nodes, argsOf, options.echo ?? false);
    activeClusters.add(cluster);
    try {
      await Promise.all(nodes.map((n) => cluster.startNode(n.id)));
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  node(id: string): TestNode {
    const node = this.nodes.find((n) => n.id === id);
    if (!node) throw new Error(`no node ${id}`);
    return node;
  }

  get liveNodes(): TestNode[] {
    return this.nodes.filter((n) => n.proc !== null);
  }

  logs(): string {
    return this.logLines.join('\n');
  }

  async startNode(id: string): Promise<void> {
    const node = this.node(id);
    if (node.proc) throw new Error(`${id} is already running`);
    const proc = spawnNode({
      args: this.argsOf(node),
      env: { ...process.env, CLUSTER_SECRET: this.secret },
      onLine: (line) => {
        const tagged = `[${id}] ${line}`;
        this.logLines.push(tagged);
        if (this.logLines.length > 5000) this.logLines.splice(0, 1000);
        if (this.echo) process.stderr.write(`${tagged}\n`);
      },
    });
    node.proc = proc;
    void proc.exited.then(() => {
      if (node.proc === proc) node.proc = null;
    });
    await proc.ready;
  }

  /** kill -9: a crash, nothing flushed. */
  async kill(id: string): Promise<void> {
    const proc = this.node(id).proc;
    if (!proc) return;
    proc.child.kill('SIGKILL');
    await proc.exited;
  }

  /** SIGTERM: the graceful path. */
  async terminate(id: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const proc = this.node(id).proc;
    if (!proc) throw new Error(`${id} is not running`);
    proc.child.kill('SIGTERM');
    return proc.exited;
  }

  async restart(id: string): Promise<void> {
    await this.kill(id);
    await this.startNode(id);
  }

  async request(id: string, method: string, path: string, options: RequestOptions = {}): Promise<ClientResponse> {
    const headers: Record<string, string> = { ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    }
    try {
      const res = await fetch(`${this.node(id).url}${path}`, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON (metrics) */
      }
      return { status: res.status, body: parsed };
    } catch (e) {
      return { status: 0, body: null, networkError: (e as Error).message };
    }
  }

  incr(
    id: string,
    options: { key?: string; delta?: number; idempotencyKey?: string; params?: Record<string, unknown>; timeoutMs?: number } = {},
  ): Promise<ClientResponse> {
    const body: Record<string, unknown> = { ...options.params };
    if (options.key !== undefined) body.key = options.key;
    if (options.delta !== undefined) body.delta = options.delta;
    const headers: Record<string, string> = {};
    if (options.idempotencyKey !== undefined) headers['idempotency-key'] = options.idempotencyKey;
    return this.request(id, 'POST', '/incr', { body, headers, timeoutMs: options.timeoutMs });
  }

  count(id: string, params: Record<string, string | number> = {}, timeoutMs?: number): Promise<ClientResponse> {
    const query = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
    return this.request(id, 'GET', `/count${query ? `?${query}` : ''}`, { timeoutMs });
  }

  async status(id: string): Promise<Record<string, unknown> | null> {
    const res = await this.request(id, 'GET', '/status', { timeoutMs: 2000 });
    return res.status === 200 ? (res.body as Record<string, unknown>) : null;
  }

  setFaults(id: string, spec: Record<string, unknown>): Promise<ClientResponse> {
    return this.request(id, 'POST', '/admin/faults', { body: spec, headers: { authorization: `Bearer ${this.secret}` } });
  }

  clearFaults(id: string): Promise<ClientResponse> {
    return this.request(id, 'DELETE', '/admin/faults', { headers: { authorization: `Bearer ${this.secret}` } });
  }

  /** Cuts `group` off from every other node, both ways, on both sides. */
  async partition(group: readonly string[], mode: 'blackhole' | 'reject' = 'blackhole'): Promise<void> {
    const others = this.nodes.map((n) => n.id).filter((id) => !group.includes(id));
    for (const n of this.liveNodes) {
      const cut = group.includes(n.id) ? others : [...group];
      const res = await this.setFaults(n.id, { partition: cut, direction: 'both', mode });
      if (res.status !== 200) throw new Error(`fault injection on ${n.id} failed: ${res.status} ${JSON.stringify(res.body)}`);
    }
  }

  async heal(): Promise<void> {
    for (const n of this.liveNodes) {
      const res = await this.clearFaults(n.id);
      if (res.status !== 200 && res.status !== 204) throw new Error(`heal on ${n.id} failed: ${res.status}`);
    }
  }

  async stop(): Promise<void> {
    activeClusters.delete(this);
    await Promise.all(this.nodes.map((n) => this.kill(n.id)));
    await rm(this.dataRoot, { recursive: true, force: true });
  }
}

/** Clusters still running when the test process exits are killed, whatever happened. */
const activeClusters = new Set<TestCluster>();
process.once('exit', () => {
  for (const cluster of activeClusters) {
    for (const n of cluster.nodes) n.proc?.child.kill('SIGKILL');
  }
});
