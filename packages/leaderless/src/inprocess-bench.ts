/**
 * In-process figures for the leaderless core and driver, without HTTP (the fake transport
 * copies bodies through msgpack): `npx tsx packages/leaderless/src/inprocess-bench.ts [ops] [concurrency]`.
 * Disk writes and fsyncs are real. For end-to-end figures use the bench harness.
 */
import type { ClientReply } from '@playground/core';
import { FakeCluster } from './testing.js';

async function run(resolve: 'merge' | 'lww', ops: number, concurrency: number): Promise<void> {
  const cluster = await FakeCluster.start(3, { resolve, 'anti-entropy-ms': 0, 'probe-ms': 1000 });
  try {
    const latencies: number[] = [];
    let ok = 0;
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < ops) {
          const i = next++;
          const t0 = performance.now();
          const res: ClientReply = await cluster.node(`n${(i % 3) + 1}`).incr({ key: 'counter', delta: 1, idempotencyKey: `op-${i}`, params: {} });
          latencies.push(performance.now() - t0);
          if (res.status === 200) ok++;
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0).toFixed(1);
    const readsStarted = performance.now();
    let nextRead = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (nextRead < ops) await cluster.node(`n${(nextRead++ % 3) + 1}`).count({ key: 'counter', params: { r: 2 } });
      }),
    );
    const readsPerS = ops / ((performance.now() - readsStarted) / 1000);
    const final = await cluster.node('n1').count({ key: 'counter', params: { r: 3 } });
    const value = 'body' in final ? (final.body.value as number) : NaN;
    const fsyncs = [...cluster.nodes.values()].reduce((s, n) => s + n.store.fsyncs, 0);
    const records = [...cluster.nodes.values()].reduce((s, n) => s + n.store.records, 0);
    console.log(
      `${resolve}: ${ops} increments, concurrency ${concurrency}: ${(ops / seconds).toFixed(0)} ops/s, p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms; ` +
        `${ok} acknowledged, final value ${value} (${ok - value} lost); ${records} log records in ${fsyncs} fsyncs; ` +
        `then ${ops} reads (r=2): ${readsPerS.toFixed(0)} reads/s`,
    );
  } finally {
    await cluster.stop();
  }
}

const ops = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 64);
await run('merge', ops, concurrency);
await run('lww', ops, concurrency);
