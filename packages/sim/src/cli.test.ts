import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));

function sim(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', '@playground/node/register', cli, ...args], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ status: error === null ? 0 : Number(error.code ?? -1), stdout, stderr });
    });
  });
}

describe('npm run sim', () => {
  it('prints the seed and its options, replays a run, and refuses bad flags with one line and exit code 2', async () => {
    const [run, bogus, badNodes] = await Promise.all([sim('--topology', 'raft', '--seed', '3'), sim('--bogus'), sim('--nodes', '9')]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^SEED=3 topology=raft nodes=\d /m);
    expect(run.stdout).toMatch(/^ok SEED=3: /m);
    expect(run.stdout).toMatch(/linearizable: true/);
    for (const [bad, flag] of [[bogus, '--bogus'], [badNodes, '--nodes']] as const) {
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
      expect(bad.stderr).toContain(flag);
      expect(bad.stdout).toBe('');
    }
  });

  it('runs leaderless and crdt with the eventual-consistency checkers; lww fails with the replay command', async () => {
    const [leaderless, crdt, lww, bogus, misplaced] = await Promise.all([
      sim('--topology', 'leaderless', '--seed', '3'),
      sim('--topology', 'crdt', '--seed', '3'),
      sim('--topology', 'leaderless', '--resolve', 'lww', '--seed', '1', '--clients', '5'),
      sim('--topology', 'paxos'),
      sim('--topology', 'crdt', '--resolve', 'lww'),
    ]);
    for (const [run, name] of [[leaderless, 'leaderless'], [crdt, 'crdt']] as const) {
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^SEED=3 topology=${name} `, 'm'));
      expect(run.stdout).toMatch(/final-convergence: true/);
      expect(run.stdout).toMatch(/counter-bounds: true/);
      expect(run.stdout).not.toMatch(/linearizable:/);
    }
    expect(lww.status).toBe(1);
    expect(lww.stdout).toMatch(/lost increments/);
    expect(lww.stdout).toContain('replay: npm run sim -- --topology leaderless --seed 1 --clients 5 --resolve lww');
    for (const bad of [bogus, misplaced]) {
      expect(bad.status).toBe(2);
      expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
