/**
 * Starting node processes, shared by `npm run cluster`, the test helpers and the bench: each
 * node is a separate OS process running main.ts (through loader/register.mjs, which compiles the
 * TypeScript), so that kill -9 is a real crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const NODE_MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
/** `node --import` this to run the repository's TypeScript (loader/hooks.mjs says why not tsx). */
export const TS_REGISTER = fileURLToPath(new URL('../loader/register.mjs', import.meta.url));

export interface NodeProcessOptions {
  /** The TypeScript entry point (default: the node, main.ts); any script that prints a ` ready on http` line. */
  readonly script?: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Every line the node prints (stdout and stderr), for prefixing or for the test's log. */
  readonly onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves when the node prints its ready line; rejects if it exits first. */
  readonly ready: Promise<void>;
  /** Resolves with how the process ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function spawnNode(options: NodeProcessOptions): NodeProcess {
  const child = spawn(process.execPath, ['--import', TS_REGISTER, options.script ?? NODE_MAIN, ...options.args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  let lastLines: string[] = [];
  const ready = new Promise<void>((resolve, reject) => {
    const watch = (stream: NodeJS.ReadableStream, name: 'stdout' | 'stderr'): void => {
      createInterface({ input: stream }).on('line', (line) => {
        lastLines = [...lastLines.slice(-4), line];
        if (name === 'stdout' && / ready on http/.test(line)) resolve();
        options.onLine?.(line, name);
      });
    };
    watch(child.stdout!, 'stdout');
    watch(child.stderr!, 'stderr');
    void exited.then(({ code, signal }) =>
      reject(new Error(`node exited before it was ready (code ${code}, signal ${signal}): ${lastLines.join(' | ')}`)),
    );
  });
  ready.catch(() => {}); // a caller that never awaits `ready` must not crash on it
  if (child.pid === undefined) throw new Error('could not start a node process');
  return { child, pid: child.pid, ready, exited };
}
