/**
 * An in-process cluster for tests: LeaderlessNodes wired by a fake PeerTransport that copies
 * every body through msgpack (as the wire does), answers a BadRequestError with a 400, and can
 * cut (blackhole or reject) or delay links.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import { Registry } from 'prom-client';
import { BadRequestError, err, ok } from '@playground/core';
import type { KnobValues, Logger, NodeId, PeerTransport, Result, RpcFailure } from '@playground/core';
import { readConfig } from './config.js';
import { LeaderlessNode } from './driver.js';

const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export class FakeCluster {
  readonly nodes = new Map<NodeId, LeaderlessNode>();
  readonly registries = new Map<NodeId, Registry>();
  /** `${from}>${to}` -> how that link fails. */
  readonly cuts = new Map<string, 'blackhole' | 'reject'>();
  /** Per node, the listeners it gave its transport's onReachable. */
  private readonly reachable = new Map<NodeId, ((peer: NodeId) => void)[]>();
  /** `${from}>${to}` -> extra latency in ms. */
  readonly delays = new Map<string, number>();
  messages = 0;

  private constructor(
    readonly ids: readonly NodeId[],
    readonly dataRoot: string,
    private readonly knobs: KnobValues,
  ) {}

  static async start(count: number, knobs: KnobValues = {}): Promise<FakeCluster> {
    const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
    const cluster = new FakeCluster(ids, await mkdtemp(join(tmpdir(), 'leaderless-fake-')), knobs);
    for (const id of ids) await cluster.startNode(id);
    // Probes sent before a peer started failed: wait until every node sees every other one.
    await until(() => ids.every((a) => ids.every((b) => cluster.node(a).health.isUp(b))), 5000, 'every node to see every peer');
    return cluster;
  }

  node(id: NodeId): LeaderlessNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new Error(`${id} is down`);
    return node;
  }

  async startNode(id: NodeId, knobs: KnobValues = {}): Promise<LeaderlessNode> {
    const registry = new Registry();
    const peers = this.ids.map((p, i) => ({ id: p, host: '127.0.0.1', port: 9000 + i }));
    const allKnobs = { ...this.knobs, ...knobs };
    const node = new LeaderlessNode(
      { id, peers, dataDir: join(this.dataRoot, id), knobs: allKnobs, transport: this.transportFor(id), metrics: registry, log: quiet },
      readConfig(allKnobs, this.ids),
    );
    await node.start();
    this.nodes.set(id, node);
    this.registries.set(id, registry);
    return node;
  }

  async stopNode(id: NodeId): Promise<void> {
    const node = this.nodes.get(id);
    this.nodes.delete(id);
    await node?.stop();
  }

  /** Cuts every link between `group` and the rest, both ways. */
  partition(group: readonly NodeId[], mode: 'blackhole' | 'reject' = 'blackhole'): void {
    for (const a of group) for (const b of this.ids) if (!group.includes(b)) {
      this.cuts.set(`${a}>${b}`, mode);
      this.cuts.set(`${b}>${a}`, mode);
    }
  }

  heal(): void {
    this.cuts.clear();
    this.delays.clear();
  }

  async metric(id: NodeId, name: string, labels: Record<string, string> = {}): Promise<number> {
    const registry = this.registries.get(id);
    const metric = (await registry?.getMetricsAsJSON())?.find((m) => m.name === name);
    const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
    return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((s, v) => s + v.value, 0);
  }

  async stop(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.stopNode(id);
    await rm(this.dataRoot, { recursive: true, force: true });
  }

  /** What a real transport does when `from`'s breaker to `peer` closes again: tells its listeners. */
  reportReachable(from: NodeId, peer: NodeId): void {
    for (const listener of this.reachable.get(from) ?? []) listener(peer);
  }

  private transportFor(from: NodeId): PeerTransport {
    this.reachable.set(from, []);
    return {
      onReachable: (listener) => void this.reachable.get(from)?.push(listener),
      call: async <T>(peer: NodeId, type: string, body: unknown, options?: { timeoutMs?: number }): Promise<Result<T, RpcFailure>> => {
        const timeoutMs = options?.timeoutMs ?? 1000;
        const link = `${from}>${peer}`;
        const back = `${peer}>${from}`;
        const cut = this.cuts.get(link) ?? this.cuts.get(back);
        if (cut === 'reject') return err({ kind: 'unreachable', message: 'injected reject' });
        const timeout = new Promise<Result<T, RpcFailure>>((resolve) => setTimeout(() => resolve(err({ kind: 'timeout', message: `${timeoutMs} ms` })), timeoutMs).unref());
        if (cut === 'blackhole') return timeout;
        const exchange = (async (): Promise<Result<T, RpcFailure>> => {
          const delay = (this.delays.get(link) ?? 0) + (this.delays.get(back) ?? 0);
          if (delay > 0) await new Promise((r) => setTimeout(r, delay));
          const target = this.nodes.get(peer);
          if (target === undefined) return err({ kind: 'unreachable', message: `${peer} is down` });
          this.messages++;
          try {
            return ok(unpack(pack(await target.handlePeer(from, type, unpack(pack(body))))) as T);
          } catch (e) {
            const status = e instanceof BadRequestError ? 400 : 500;
            return err({ kind: 'remote_error', status, message: (e as Error).message });
          }
        })();
        return Promise.race([exchange, timeout]);
      },
    };
  }
}

/** Polls until `check` holds or the deadline passes. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
