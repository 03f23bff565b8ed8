/**
 * etcd as the reference Raft: a local 3-member etcd (Debian's etcd-server, 3.4) on loopback
 * ports, driven through its HTTP/JSON gateway (/v3/kv/put, /v3/kv/range, /v3/kv/txn).
 * The gateway speaks base64 for keys and values and strings for 64-bit integers.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@playground/node/testing';
import { httpCall, pollUntil, type HttpReply } from './http.js';

export interface EtcdMember {
  readonly id: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly url: string;
  proc: ChildProcess | null;
  exited: Promise<void> | null;
}

export const ETCD_MISSING = 'etcd is not on PATH: install it with `apt-get install -y etcd-server` (Debian/Ubuntu) to compare with etcd';

/** `etcd --version`'s first line, or null when etcd is not installed. */
export function etcdVersion(): string | null {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return /etcd Version: (\S+)/.exec(r.stdout)?.[1] ?? r.stdout.split('\n')[0] ?? 'unknown';
}

export const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
export const unb64 = (text: string): string => Buffer.from(text, 'base64').toString('utf8');

/** Live etcd clusters, killed if this process exits with them still up. */
const live = new Set<EtcdCluster>();
process.once('exit', () => {
  for (const c of live) for (const m of c.members) m.proc?.kill('SIGKILL');
});

export class EtcdCluster {
  private readonly logTail: string[] = [];

  private constructor(
    readonly dataRoot: string,
    readonly members: readonly EtcdMember[],
  ) {}

  static async start(count = 3): Promise<EtcdCluster> {
    if (etcdVersion() === null) throw new Error(ETCD_MISSING);
    const dataRoot = await mkdtemp(join(tmpdir(), 'playground-etcd-'));
    const ports: number[] = [];
    while (ports.length < count * 2) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    const members: EtcdMember[] = Array.from({ length: count }, (_, i) => ({
      id: `e${i + 1}`,
      clientPort: ports[2 * i] as number,
      peerPort: ports[2 * i + 1] as number,
      url: `http://127.0.0.1:${ports[2 * i] as number}`,
      proc: null,
      exited: null,
    }));
    const cluster = new EtcdCluster(dataRoot, members);
    live.add(cluster);
    try {
      for (const m of members) cluster.startMember(m.id);
      await Promise.all(members.map((m) => cluster.waitHealthy(m.id, 20_000)));
    } catch (e) {
      await cluster.stop();
      throw new Error(`etcd did not start: ${(e as Error).message}; last output: ${cluster.logTail.slice(-3).join(' | ')}`);
    }
    return cluster;
  }

  member(id: string): EtcdMember {
    const m = this.members.find((x) => x.id === id);
    if (!m) throw new Error(`no etcd member ${id}`);
    return m;
  }

  startMember(id: string): void {
    const m = this.member(id);
    if (m.proc) throw new Error(`${id} is already running`);
    const initialCluster = this.members.map((x) => `${x.id}=http://127.0.0.1:${x.peerPort}`).join(',');
    const child = spawn(
      'etcd',
      [
        '--name', m.id,
        '--data-dir', join(this.dataRoot, m.id),
        '--listen-client-urls', m.url,
        '--advertise-client-urls', m.url,
        '--listen-peer-urls', `http://127.0.0.1:${m.peerPort}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${m.peerPort}`,
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', `playground-${this.dataRoot.slice(-6)}`,
        '--log-level', 'error',
        '--logger', 'zap',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer): void => {
      this.logTail.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      if (this.logTail.length > 50) this.logTail.splice(0, this.logTail.length - 50);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    m.proc = child;
    m.exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (m.proc === child) m.proc = null;
        resolve();
      });
    });
  }

  async waitHealthy(id: string, timeoutMs: number): Promise<void> {
    const m = this.member(id);
    await pollUntil(async () => {
      const r = await httpCall(`${m.url}/health`, { timeoutMs: 1000 });
      return r.status === 200 && r.body?.health === 'true';
    }, timeoutMs, `etcd ${id} healthy`, 50);
  }

  /** kill -9. */
  async kill(id: string): Promise<void> {
    const m = this.member(id);
    if (!m.proc) return;
    m.proc.kill('SIGKILL');
    await m.exited;
  }

  async restart(id: string): Promise<void> {
    await this.kill(id);
    this.startMember(id);
    await this.waitHealthy(id, 20_000);
  }

  /** The member every live member names as leader (via /v3/maintenance/status), or null. */
  async leader(): Promise<string | null> {
    const statuses = await Promise.all(
      this.members.filter((m) => m.proc).map(async (m) => ({ m, r: await httpCall(`${m.url}/v3/maintenance/status`, { method: 'POST', body: {}, timeoutMs: 1000 }) })),
    );
    for (const { m, r } of statuses) {
      if (r.status === 200 && r.body?.leader !== undefined && r.body?.leader === r.body?.header?.member_id) return m.id;
    }
    return null;
  }

  put(id: string, key: string, value: string, timeoutMs = 2000): Promise<HttpReply> {
    return httpCall(`${this.member(id).url}/v3/kv/put`, { method: 'POST', body: { key: b64(key), value: b64(value) }, timeoutMs });
  }

  async stop(): Promise<void> {
    live.delete(this);
    await Promise.all(this.members.map((m) => this.kill(m.id)));
    await rm(this.dataRoot, { recursive: true, force: true });
  }
}
