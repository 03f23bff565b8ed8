/**
 * A small HTTP/1.1 client on node:http with keep-alive, for the history client and the probes:
 * cheaper per request than fetch, so the harness stays out of the measurement. Never throws:
 * status 0 means no HTTP answer came (refused, reset, our own timeout) and the outcome is unknown.
 */
import { Agent, request as httpRequest } from 'node:http';

export interface HttpReply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  /** Why no answer came, when status is 0. */
  error?: string;
}

export interface HttpOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  agent?: Agent;
}

/** One shared pool; bounded so a stalled node cannot absorb unbounded sockets. */
export const defaultAgent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });

export function httpCall(url: string, options: HttpOptions = {}): Promise<HttpReply> {
  return new Promise((resolve) => {
    const payload = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const headers: Record<string, string> = { ...options.headers };
    if (payload !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    let settled = false;
    const finish = (reply: HttpReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(reply);
    };
    const req = httpRequest(url, { method: options.method ?? 'GET', headers, agent: options.agent ?? defaultAgent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => finish({ status: 0, body: null, error: e.message }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* metrics and other text */
        }
        finish({ status: res.statusCode ?? 0, body });
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ status: 0, body: null, error: `timeout after ${options.timeoutMs} ms` });
    }, options.timeoutMs ?? 5000);
    req.on('error', (e) => finish({ status: 0, body: null, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(payload);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function pollUntil<T>(check: () => Promise<T | null | undefined | false>, timeoutMs: number, what: string, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}
