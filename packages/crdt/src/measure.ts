/**
 * In-process figures for the CRDT topology (not the bench: no HTTP, no processes).
 *
 *   npx tsx packages/crdt/src/measure.ts [--increments 2000] [--keys 100] [--idem-check-ms 25]
 *
 * 1. merge throughput of the pure core (full-state merge into an empty replica; small deltas);
 * 2. messages, entries and bytes per increment with delta-state vs full-state replication:
 *    three real drivers (disk in a temp dir) on an in-process transport, increments at random
 *    nodes, until every node reads the exact total and every dot is folded.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Rng, type TopologyContext } from '@playground/core';
import { Registry } from 'prom-client';
import { CounterCrdt } from './core/counter.js';
import { LocalWriter } from './core/local.js';
import type { CrdtNode } from './driver.js';
import { FakeNet } from './fake-net.js';
import { crdtTopology } from './index.js';

const { values: args } = parseArgs({
  options: { increments: { type: 'string', default: '2000' }, keys: { type: 'string', default: '100' }, 'idem-check-ms': { type: 'string', default: '25' } },
});
const increments = Number(args.increments);
const keyCount = Number(args.keys);
const members = ['n1', 'n2', 'n3'];
const quiet = { info() {}, warn() {}, error() {} };

function mergeThroughput(): void {
  const dotsPerOrigin = 50_000;
  const source = new CounterCrdt({ self: 'n1', members, mode: 'pn', maxTombstones: 1e6, maxChangeLog: 1e6 });
  const writers = members.map((m) => new LocalWriter(new CounterCrdt({ self: m, members, mode: 'pn', maxTombstones: 1e6, maxChangeLog: 1e6 })));
  for (const [i, w] of writers.entries()) {
    for (let s = 0; s < dotsPerOrigin; s++) source.merge(w.prepareDot(`k${s % keyCount}`, 1, `${i}-${s}`).delta);
  }
  const full = source.fullState();
  const t0 = performance.now();
  const copy = new CounterCrdt({ self: 'n2', members, mode: 'pn', maxTombstones: 1e6, maxChangeLog: 1e6 });
  copy.merge(full);
  const fullMs = performance.now() - t0;
  const deltas = writers.map((w) => w.prepareDot('k0', 1, `extra-${Math.random()}`).delta);
  const t1 = performance.now();
  const rounds = 20_000;
  const target = new CounterCrdt({ self: 'n3', members, mode: 'pn', maxTombstones: 1e6, maxChangeLog: 1e6 });
  const w = new LocalWriter(new CounterCrdt({ self: 'n1', members, mode: 'pn', maxTombstones: 1e6, maxChangeLog: 1e6 }));
  for (let i = 0; i < rounds; i++) target.merge(i % 2 ? w.preparePlain('k1', 1) : w.prepareDot('k2', 1, `d${i}`).delta);
  const deltaMs = performance.now() - t1;
  void deltas;
  const total = dotsPerOrigin * members.length;
  console.log(`merge: full state of ${total} dots into an empty replica: ${fullMs.toFixed(0)} ms (${Math.round(total / (fullMs / 1000)).toLocaleString()} dots/s)`);
  console.log(`merge: ${rounds} one-entry deltas: ${deltaMs.toFixed(0)} ms (${Math.round(rounds / (deltaMs / 1000)).toLocaleString()} deltas/s)`);
}

async function replication(mode: 'delta' | 'full', keyed: boolean): Promise<void> {
  const net = new FakeNet(members);
  const dirs: string[] = [];
  const nodes: CrdtNode[] = [];
  for (const id of members) {
    const dir = await mkdtemp(join(tmpdir(), `crdt-measure-${id}-`));
    dirs.push(dir);
    const context: TopologyContext = {
      id,
      peers: members.map((p, i) => ({ id: p, host: '127.0.0.1', port: 9000 + i })),
      dataDir: dir,
      knobs: { replication: mode, 'idem-check-ms': Number(args['idem-check-ms']) },
      transport: net.transport(id),
      metrics: new Registry(),
      log: quiet,
    };
    const node = crdtTopology.create(context) as CrdtNode;
    await node.start();
    net.nodes.set(id, node);
    nodes.push(node);
  }
  const rng = new Rng(42);
  let next = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (next < increments) {
      const i = next++;
      const node = rng.pick(nodes);
      await node.incr({ key: `k${i % keyCount}`, delta: 1, idempotencyKey: keyed ? `op-${i}` : undefined, params: {} });
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  const ackedMs = performance.now() - t0;
  const exact = async (): Promise<boolean> => {
    for (const n of nodes) {
      let sum = 0;
      for (let k = 0; k < keyCount; k++) {
        const r = await n.count({ key: `k${k}`, params: {} });
        sum += r.status === 200 && 'body' in r ? (r.body.value as number) : 0;
      }
      if (sum !== increments || (n.status().liveDots as number) !== 0) return false;
    }
    return true;
  };
  while (!(await exact())) await new Promise((r) => setTimeout(r, 10));
  const convergedMs = performance.now() - t0;
  const sent = nodes.reduce((s, n) => s + n.stats().messagesSent, 0);
  console.log(
    `${mode.padEnd(5)} ${keyed ? 'keyed' : 'plain'}: ${increments} increments over ${keyCount} keys acked in ${ackedMs.toFixed(0)} ms, ` +
      `exact+folded everywhere at ${convergedMs.toFixed(0)} ms; ${(sent / increments).toFixed(2)} state messages/increment, ` +
      `${(net.bytes / increments).toFixed(0)} bytes/increment (requests+replies)`,
  );
  await Promise.all(nodes.map((n) => n.stop()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}

mergeThroughput();
for (const keyed of [true, false]) for (const mode of ['delta', 'full'] as const) await replication(mode, keyed);
