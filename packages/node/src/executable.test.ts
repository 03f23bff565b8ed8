/**
 * The executables as users run them: exit codes, one-line errors, graceful SIGTERM, and the
 * cluster launcher reporting a killed node while the others keep serving.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_MAIN, TS_REGISTER } from './spawn.js';
import { freePort, waitFor } from './testing.js';

const CLUSTER_MAIN = fileURLToPath(new URL('./cluster.ts', import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'playground-exec-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runNode(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ['--import', TS_REGISTER, NODE_MAIN, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env.PATH, ...env },
  });
}

describe('npm run node', () => {
  it('exits 2 with one clear line on a bad flag, and starts nothing', async () => {
    const port = await freePort();
    const result = runNode(['--topology', 'raft', '--id', 'n1', '--port', 'eighty', '--peers', `n1=127.0.0.1:${port}`, '--secret', 'abcdefgh12', '--data-dir', join(dir, 'bad')]);
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual(['error: --port eighty: expected an integer in 0..65535']);
  });

  it('refuses to start without a secret and says how to pass one', async () => {
    const port = await freePort();
    const result = runNode(['--topology', 'raft', '--id', 'n1', '--peers', `n1=127.0.0.1:${port}`, '--data-dir', join(dir, 'nosecret')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/no cluster secret: pass --secret <secret> or set CLUSTER_SECRET/);
  });

  it('stops gracefully on SIGTERM: exit 0 after flushing', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', TS_REGISTER, NODE_MAIN, '--topology', 'raft', '--id', 'n1', '--peers', `n1=127.0.0.1:${port}`, '--data-dir', join(dir, 'term')], {
      env: { ...process.env, CLUSTER_SECRET: 'abcdefgh12' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve) => createInterface({ input: child.stdout }).on('line', (l) => / ready on /.test(l) && resolve()));
      // A single-node cluster elects itself and commits at once.
      const res = await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/incr`, { method: 'POST' });
        return r.status === 200 ? r : null;
      }, { what: 'the first increment' });
      expect(await res.json()).toMatchObject({ ok: true, value: 1 });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/SIGTERM: stopping/);
      expect(stderr).toMatch(/stopped/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('npm run cluster', () => {
  it('exits 2 with one clear line on a bad topology knob, and starts nothing', () => {
    // crdt has no cross-knob checks: its knobs must be validated all the same.
    const result = spawnSync(process.execPath, ['--import', TS_REGISTER, CLUSTER_MAIN, '--topology', 'crdt', '--hedge-ms', 'abc', '--data-dir', join(dir, 'badknob')], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env.PATH },
    });
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual(['error: --hedge-ms abc: expected an integer in 0..60000']);
  });

  it('reports a node killed with kill -9, keeps the others, and stops them all on SIGTERM', async () => {
    // Three consecutive free ports are not guaranteed; find a base whose three ports are free.
    let base = 0;
    for (let attempt = 0; attempt < 20 && base === 0; attempt++) {
      const p = await freePort();
      if (p + 2 < 65535) base = p;
    }
    const launcher = spawn(process.execPath, ['--import', TS_REGISTER, CLUSTER_MAIN, '--topology', 'raft', '--base-port', String(base), '--data-dir', join(dir, 'cluster')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    createInterface({ input: launcher.stdout }).on('line', (l) => lines.push(l));
    const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => lines.some((l) => l.startsWith('try: curl')), { timeoutMs: 30_000, what: 'the launcher to start 3 nodes' });
      expect(lines.find((l) => /secret: \S{16,}/.test(l))).toBeDefined();
      const nodeLines = lines.filter((l) => /^n\d  http:\/\/127\.0\.0\.1:\d+  pid \d+$/.test(l));
      expect(nodeLines).toHaveLength(3);
      const pids = nodeLines.map((l) => Number(/pid (\d+)/.exec(l)![1]));
      process.kill(pids[1]!, 'SIGKILL');
      await waitFor(() => lines.some((l) => l.startsWith(`n2 (pid ${pids[1]}) died (SIGKILL); the others keep running`)), { what: 'the launcher to report n2' });
      // The survivors still form a majority and serve.
      const res = await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${base}/incr`, { method: 'POST', signal: AbortSignal.timeout(3000) }).catch(() => null);
        return r?.status === 200 ? r : null;
      }, { timeoutMs: 15_000, what: 'an increment through the survivors' });
      expect(res.status).toBe(200);
      launcher.kill('SIGTERM');
      expect(await exited).toBe(0);
      for (const pid of [pids[0]!, pids[2]!]) expect(() => process.kill(pid, 0)).toThrow();
    } finally {
      launcher.kill('SIGKILL');
    }
  }, 60_000);
});
