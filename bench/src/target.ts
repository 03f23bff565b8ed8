/**
 * What the bench drives: a cluster it started (embedded node processes, or etcd) or an
 * existing one (--endpoints). One interface for the workload (incr, read, the node's own view),
 * the faults (admin fault API, kill -9 and restart) and the observation (/status, /metrics).
 */
import type { Outcome } from '@playground/checkers';
import { TestCluster } from '@playground/node/testing';
import type { BenchTopology } from './args.js';
import { EtcdCluster, b64, unb64 } from './etcd.js';
import { httpCall, type HttpReply } from './http.js';
import { parsePrometheus, type Sample } from './metrics.js';

export interface OpResult {
  outcome: Outcome;
  value?: number;
  error?: string;
}

export interface Target {
  readonly topology: BenchTopology;
  readonly nodes: readonly string[];
  /** Can kill -9 and restart nodes (a cluster we started). */
  readonly canKill: boolean;
  /** The node's base URL (for autocannon). */
  urlOf(node: string): string;
  /** Whether reads are meant to be linearizable (then stale reads are violations). */
  readonly linearizable: boolean;
  /** Raft/etcd: the current leader; null when there is none or the topology has no leader. */
  leader(): Promise<string | null>;
  incr(node: string, key: string, idempotencyKey: string, timeoutMs: number): Promise<OpResult>;
  read(node: string, key: string, timeoutMs: number): Promise<OpResult>;
  /** The node's own current value (no quorum, no leader): for convergence after the heal. */
  ownValue(node: string, key: string): Promise<number | null>;
  setFaults(node: string, spec: Record<string, unknown>): Promise<void>;
  clearFaults(node: string): Promise<void>;
  kill(node: string): Promise<void>;
  restart(node: string): Promise<void>;
  metrics(node: string): Promise<Sample[]>;
  pid(node: string): number | null;
  /** What this target's numbers mean, for the report (e.g. etcd increments are CAS transactions). */
  readonly notes: readonly string[];
  stop(): Promise<void>;
}

/** The contract's statuses: 200 done; 503/4xx surely not applied; 504, a reset or our timeout: unknown. */
export function classify(reply: HttpReply): OpResult {
  if (reply.status === 200) return { outcome: 'ok' };
  if (reply.status === 0) {
    // Refused: the request never reached a process, so surely not applied.
    if (reply.error === 'ECONNREFUSED') return { outcome: 'fail', error: 'ECONNREFUSED' };
    return { outcome: 'info', error: reply.error ?? 'no answer' };
  }
  const code = typeof reply.body === 'object' && reply.body !== null ? String(reply.body?.error?.code ?? reply.status) : String(reply.status);
  if (reply.status === 503 || (reply.status >= 400 && reply.status < 500)) return { outcome: 'fail', error: code };
  return { outcome: 'info', error: code };
}

const intOrUndefined = (x: unknown): number | undefined => (typeof x === 'number' && Number.isSafeInteger(x) ? x : undefined);

/** Any contract node: the embedded processes or --endpoints. */
class ContractTarget implements Target {
  readonly linearizable: boolean;
  readonly notes: string[] = [];
  constructor(
    readonly topology: 'raft' | 'leaderless' | 'crdt',
    private readonly urls: ReadonlyMap<string, string>,
    private readonly secret: string | null,
    private readonly cluster: TestCluster | null,
    /** Per-request parameters: leaderless w and r, Raft consistency=local. */
    private readonly params: { incr?: Record<string, string | number>; read?: Record<string, string | number> } = {},
  ) {
    this.linearizable = topology === 'raft' && params.read?.consistency !== 'local';
  }

  /** The same cluster driven with per-request parameters (stopping it stops the cluster). */
  withParams(params: { incr?: Record<string, string | number>; read?: Record<string, string | number> }): Target {
    return new ContractTarget(this.topology, this.urls, this.secret, this.cluster, params);
  }

  get nodes(): string[] {
    return [...this.urls.keys()];
  }

  get canKill(): boolean {
    return this.cluster !== null;
  }

  urlOf(node: string): string {
    return this.url(node);
  }

  private url(node: string): string {
    const url = this.urls.get(node);
    if (url === undefined) throw new Error(`no node ${node}`);
    return url;
  }

  async leader(): Promise<string | null> {
    if (this.topology !== 'raft') return null;
    const statuses = await Promise.all(this.nodes.map((n) => httpCall(`${this.url(n)}/status`, { timeoutMs: 1000 })));
    const leaders = statuses.filter((s) => s.status === 200 && s.body?.role === 'leader').map((s) => String(s.body.id));
    // Two self-proclaimed leaders (an old one in a minority): the one with the higher term.
    if (leaders.length > 1) {
      const best = statuses.filter((s) => s.status === 200 && s.body?.role === 'leader').sort((a, b) => Number(b.body.term) - Number(a.body.term))[0];
      return best ? String(best.body.id) : null;
    }
    return leaders[0] ?? null;
  }

  async incr(node: string, key: string, idempotencyKey: string, timeoutMs: number): Promise<OpResult> {
    const reply = await httpCall(`${this.url(node)}/incr`, { method: 'POST', body: { key, ...this.params.incr }, headers: { 'idempotency-key': idempotencyKey }, timeoutMs });
    const result = classify(reply);
    if (result.outcome === 'ok') {
      const value = intOrUndefined(reply.body?.value);
      if (value !== undefined) result.value = value;
    }
    return result;
  }

  async read(node: string, key: string, timeoutMs: number): Promise<OpResult> {
    const extra = Object.entries(this.params.read ?? {}).map(([k, v]) => `&${k}=${encodeURIComponent(String(v))}`).join('');
    const reply = await httpCall(`${this.url(node)}/count?key=${encodeURIComponent(key)}${extra}`, { timeoutMs });
    const result = classify(reply);
    if (result.outcome === 'ok') {
      const value = intOrUndefined(reply.body?.value);
      if (value === undefined) return { outcome: 'info', error: 'no value in the reply' };
      result.value = value;
    }
    return result;
  }

  async ownValue(node: string, key: string): Promise<number | null> {
    const own = this.topology === 'raft' ? '&consistency=local' : this.topology === 'leaderless' ? '&r=1' : '';
    const reply = await httpCall(`${this.url(node)}/count?key=${encodeURIComponent(key)}${own}`, { timeoutMs: 2000 });
    return reply.status === 200 ? (intOrUndefined(reply.body?.value) ?? null) : null;
  }

  private admin(node: string, method: string, body?: unknown): Promise<HttpReply> {
    const headers: Record<string, string> = this.secret === null ? {} : { authorization: `Bearer ${this.secret}` };
    return httpCall(`${this.url(node)}/admin/faults`, { method, body, headers, timeoutMs: 3000 });
  }

  async setFaults(node: string, spec: Record<string, unknown>): Promise<void> {
    const r = await this.admin(node, 'POST', spec);
    if (r.status !== 200) throw new Error(`fault injection on ${node} failed: ${r.status} ${JSON.stringify(r.body ?? r.error)}`);
  }

  async clearFaults(node: string): Promise<void> {
    const r = await this.admin(node, 'DELETE');
    if (r.status !== 200 && r.status !== 204 && r.status !== 0) throw new Error(`heal on ${node} failed: ${r.status} ${JSON.stringify(r.body)}`);
  }

  async kill(node: string): Promise<void> {
    if (!this.cluster) throw new Error('kill needs a cluster the bench started');
    await this.cluster.kill(node);
  }

  async restart(node: string): Promise<void> {
    if (!this.cluster) throw new Error('restart needs a cluster the bench started');
    if (this.cluster.node(node).proc) await this.cluster.kill(node);
    await this.cluster.startNode(node);
  }

  async metrics(node: string): Promise<Sample[]> {
    const r = await httpCall(`${this.url(node)}/metrics`, { timeoutMs: 3000 });
    return r.status === 200 && typeof r.body === 'string' ? parsePrometheus(r.body) : [];
  }

  pid(node: string): number | null {
    return this.cluster?.node(node).proc?.pid ?? null;
  }

  async stop(): Promise<void> {
    await this.cluster?.stop();
  }
}

export type ParamTarget = Target & { withParams(params: { incr?: Record<string, string | number>; read?: Record<string, string | number> }): Target };

export async function startEmbedded(
  topology: 'raft' | 'leaderless' | 'crdt',
  nodes: number,
  flags: Record<string, string | number | boolean>,
): Promise<ParamTarget> {
  const cluster = await TestCluster.start({ topology, nodes, flags });
  return new ContractTarget(topology, new Map(cluster.nodes.map((n) => [n.id, n.url])), cluster.secret, cluster);
}

export function connectEndpoints(topology: 'raft' | 'leaderless' | 'crdt', endpoints: readonly { id: string; url: string }[], secret: string | null): Target {
  const target = new ContractTarget(topology, new Map(endpoints.map((e) => [e.id, e.url])), secret, null);
  target.notes.push('driven through --endpoints: an existing cluster, not started by the bench');
  return target;
}

/**
 * etcd: increments are compare-and-swap transactions on the key's mod_revision (read, then
 * txn; retried on a lost race), so the counter checkers apply. etcd has no idempotency keys:
 * an increment whose txn timed out is unknown, as it should be. Reads are linearizable ranges.
 */
class EtcdTarget implements Target {
  readonly topology = 'etcd' as const;
  readonly canKill = true;
  readonly linearizable = true;
  readonly notes = [
    'etcd: each increment is a read plus a compare-and-swap transaction on the key\'s mod_revision (retried on a lost race); reads are linearizable ranges',
    'etcd has no fault-injection API: only steady and kill-leader run against it',
  ];
  constructor(private readonly cluster: EtcdCluster) {}

  get nodes(): string[] {
    return this.cluster.members.map((m) => m.id);
  }

  urlOf(node: string): string {
    return this.cluster.member(node).url;
  }

  leader(): Promise<string | null> {
    return this.cluster.leader();
  }

  private call(node: string, path: string, body: unknown, timeoutMs: number): Promise<HttpReply> {
    return httpCall(`${this.cluster.member(node).url}${path}`, { method: 'POST', body, timeoutMs });
  }

  private async range(node: string, key: string, timeoutMs: number, serializable = false): Promise<{ reply: HttpReply; value: number; modRevision: string }> {
    const reply = await this.call(node, '/v3/kv/range', { key: b64(key), serializable }, timeoutMs);
    const kv = reply.body?.kvs?.[0];
    return { reply, value: kv ? Number(unb64(String(kv.value))) : 0, modRevision: kv ? String(kv.mod_revision ?? kv.modRevision) : '0' };
  }

  async incr(node: string, key: string, _idempotencyKey: string, timeoutMs: number): Promise<OpResult> {
    const deadline = performance.now() + timeoutMs;
    for (let attempt = 0; attempt < 50; attempt++) {
      const left = deadline - performance.now();
      if (left <= 0) return { outcome: 'fail', error: 'timeout before the transaction was sent' };
      const { reply, value, modRevision } = await this.range(node, key, left);
      if (reply.status !== 200) {
        const r = classify(reply);
        return { outcome: 'fail', error: `read before CAS: ${r.error ?? reply.status}` };
      }
      const txn = {
        compare: [{ key: b64(key), target: 'MOD', result: 'EQUAL', mod_revision: modRevision }],
        success: [{ request_put: { key: b64(key), value: b64(String(value + 1)) } }],
      };
      const t = await this.call(node, '/v3/kv/txn', txn, Math.max(1, deadline - performance.now()));
      if (t.status !== 200) {
        const r = classify(t);
        return r.outcome === 'ok' ? { outcome: 'info', error: 'odd txn reply' } : r;
      }
      if (t.body?.succeeded === true) return { outcome: 'ok', value: value + 1 };
      // Lost the race to another increment: nothing written, read again.
    }
    return { outcome: 'fail', error: 'CAS lost 50 races' };
  }

  async read(node: string, key: string, timeoutMs: number): Promise<OpResult> {
    const { reply, value } = await this.range(node, key, timeoutMs);
    if (reply.status !== 200) return classify(reply);
    return { outcome: 'ok', value };
  }

  async ownValue(node: string, key: string): Promise<number | null> {
    const { reply, value } = await this.range(node, key, 2000, true);
    return reply.status === 200 ? value : null;
  }

  async setFaults(): Promise<void> {
    throw new Error('etcd has no fault-injection API');
  }

  async clearFaults(): Promise<void> {
    /* nothing to clear */
  }

  kill(node: string): Promise<void> {
    return this.cluster.kill(node);
  }

  restart(node: string): Promise<void> {
    return this.cluster.restart(node);
  }

  async metrics(): Promise<Sample[]> {
    return [];
  }

  pid(node: string): number | null {
    return this.cluster.member(node).proc?.pid ?? null;
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }
}

export async function startEtcd(nodes: number): Promise<Target> {
  return new EtcdTarget(await EtcdCluster.start(nodes));
}
