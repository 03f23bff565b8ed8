/** Where a result came from: commit, machine, Node version, time. */
import { execFileSync } from 'node:child_process';
import { arch, cpus, hostname, loadavg, release, totalmem } from 'node:os';

export function gitCommit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return dirty ? `${sha}-dirty` : sha;
  } catch {
    return 'unknown';
  }
}

export interface Provenance {
  commit: string;
  host: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  startedAt: string;
  /** The machine's 1-minute load average at the start: on a shared machine, read the figures with it. */
  loadAverage: number;
}

export function provenance(startedAt: Date): Provenance {
  return {
    commit: gitCommit(),
    host: hostname(),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${process.platform} ${release()} ${arch()}`,
    node: process.version,
    startedAt: startedAt.toISOString(),
    loadAverage: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}
