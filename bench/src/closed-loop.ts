/**
 * Closed-loop load with autocannon (its programmatic API): C connections, each sending its next
 * request as soon as the previous one is answered, for peak throughput. Latencies come from
 * autocannon's per-response timing (float ms, from its own hrtime) into our HDR histogram, so
 * sub-millisecond values survive (autocannon's own histogram rounds to whole ms).
 */
import autocannon from 'autocannon';
import { newHistogram, recordMs, summarize, type LatencySummary } from './hist.js';

/**
 * Seconds of unrecorded load each system gets before its figures are measured. A fresh Node
 * process is slow at first: on a new 3-node Raft cluster at 64 connections the members' CPU per
 * increment fell from about 370 us in the first 4 s to about 200 us from the 8th second on, and
 * stayed there (JIT tiers, heap sizing). A measurement that starts earlier reports the warm-up,
 * not the design. Every system of a comparison gets the same, etcd included.
 */
export const WARMUP_S = 8;

export interface ClosedLoopOptions {
  url: string;
  method: 'GET' | 'POST';
  body?: string;
  headers?: Record<string, string>;
  connections: number;
  durationS: number;
  /**
   * Fresh headers and/or body per request (a unique Idempotency-Key, a unique etcd key), through
   * autocannon's setupRequest hook. Both systems of a comparison should use it alike: it costs the
   * load generator CPU on the same cores.
   */
  perRequest?: () => { headers?: Record<string, string>; body?: string };
  label: string;
  /** Stops the run early (Ctrl-C). */
  signal?: AbortSignal;
}

export interface ClosedLoopResult {
  /** What was sent, for the report (e.g. 'POST /incr, unique Idempotency-Key'). */
  label: string;
  connections: number;
  durationS: number;
  requests: number;
  /** 2xx responses per second. */
  okPerSec: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latency: LatencySummary;
}

export function runClosedLoop(options: ClosedLoopOptions): Promise<ClosedLoopResult> {
  const hist = newHistogram();
  let ok = 0;
  return new Promise((resolve, reject) => {
    const headers = { 'content-type': 'application/json', ...options.headers };
    const make = options.perRequest;
    const instance = autocannon(
      {
        url: options.url,
        method: options.method,
        body: options.body,
        headers,
        connections: options.connections,
        duration: options.durationS,
        timeout: 10,
        requests: make
          ? [
              {
                method: options.method,
                body: options.body,
                setupRequest: (req) => {
                  const fresh = make();
                  return { ...req, headers: { ...headers, ...fresh.headers }, ...(fresh.body === undefined ? {} : { body: fresh.body }) };
                },
              },
            ]
          : undefined,
      },
      (err, result) => {
        options.signal?.removeEventListener('abort', stop);
        if (err) return reject(err);
        resolve({
          label: options.label,
          connections: options.connections,
          durationS: result.duration,
          requests: result.requests.total,
          okPerSec: Math.round(ok / Math.max(0.001, result.duration)),
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          latency: summarize(hist),
        });
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
      if (statusCode >= 200 && statusCode < 300) {
        ok++;
        recordMs(hist, responseTimeMs);
      }
    });
    const stop = (): void => instance.stop();
    options.signal?.addEventListener('abort', stop, { once: true });
  });
}
