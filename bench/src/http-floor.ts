/**
 * Starts the HTTP floor (http-floor-server.ts) as its own process, so that its CPU is read
 * apart from the load generator's, as a cluster member's is.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TS_REGISTER } from '@playground/node';

const SERVER = fileURLToPath(new URL('./http-floor-server.ts', import.meta.url));

export interface HttpFloor {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startHttpFloor(timeoutMs = 15_000): Promise<HttpFloor> {
  const child = spawn(process.execPath, ['--import', TS_REGISTER, SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the HTTP floor server did not start within ${timeoutMs} ms`)), timeoutMs);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const m = / ready on (http:\/\/\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error('the HTTP floor server exited before it was ready'));
      });
    });
    return { url, pid: child.pid as number, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
