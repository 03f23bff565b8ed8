/**
 * Starts the HTTP floor (http-floor-server.ts) as its own process, so that its CPU is read
 * apart from the load generator's, as a cluster member's is.
 */
import { fileURLToPath } from 'node:url';
import { spawnNode } from '@playground/node';

const SERVER = fileURLToPath(new URL('./http-floor-server.ts', import.meta.url));

export interface HttpFloor {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startHttpFloor(timeoutMs = 15_000): Promise<HttpFloor> {
  let url: string | undefined;
  const proc = spawnNode({
    script: SERVER,
    args: [],
    onLine: (line, stream) => {
      if (stream === 'stderr') process.stderr.write(`[floor] ${line}\n`);
      else url ??= / ready on (http:\/\/\S+)/.exec(line)?.[1];
    },
  });
  const stop = async (): Promise<void> => {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
    await proc.exited;
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      proc.ready,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the HTTP floor server did not start within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  return { url: url as string, pid: proc.pid, stop };
}
