/**
 * The CRDT core in the deterministic simulator: seeded partitions, crashes with disk loss,
 * message loss, duplication and reordering while clients increment (retrying through other
 * nodes with the same Idempotency-Key); then heal, and every node must converge to a value the
 * history allows (Maelstrom's rule), with no idempotency key counted twice.
 * A failing seed replays with SEED=<n> npx vitest run packages/crdt/src/sim.test.ts;
 * CRDT_SIM_SEEDS=<count> runs more seeds.
 */
import { Rng } from '@playground/core';
import { checkFinalConvergence, logicalIncrements } from '@playground/checkers';
import { applyPartition, ClientPool, optionsForSeed, PARTITION_SHAPES, Simulation } from '@playground/sim';
import { describe, expect, it } from 'vitest';
import { crdtSimTopology, type CrdtSimNode } from './sim-adapter.js';

function runSeed(seed: number): { problems: string[]; convergedAfterHealMs: number | null; ops: number; crashes: number } {
  const o = optionsForSeed(seed, { client: { readRate: 0.2 } });
  const topology = crdtSimTopology();
  const sim = new Simulation(topology, { seed, nodes: o.nodes, network: o.network, fsyncMinMs: 0.05, fsyncMaxMs: o.fsyncMaxMs, clientLatencyMs: 0.5 });
  const rng = new Rng(seed ^ 0x0c4d_7001);
  const faults = rng.fork();
  const clients = new ClientPool(sim, rng.fork(), o.client);
  clients.start();
  const nemesis = (): void => {
    sim.queue.after(faults.float() * 2 * o.faultEveryMs, () => {
      if (sim.now >= o.safetyMs) return;
      const up = sim.ids.filter((id) => sim.isUp(id));
      const down = sim.ids.filter((id) => !sim.isUp(id));
      const roll = faults.float();
      if (roll < 0.35) applyPartition(sim.network, sim.ids, faults.pick(PARTITION_SHAPES), faults, null);
      else if (roll < 0.5) sim.network.heal();
      else if (roll < 0.7 && up.length > 1) sim.crash(faults.pick(up));
      else if (down.length > 0) sim.restart(faults.pick(down));
      nemesis();
    });
  };
  nemesis();
  sim.runFor(o.safetyMs);
  const problems: string[] = [];
  const safety = topology.checkSafety?.(sim.nodes);
  if (safety) problems.push(safety);

  clients.stop();
  sim.network.heal();
  sim.network.options = { ...o.network, lossRate: 0, duplicateRate: 0, longDelayRate: 0 };
  for (const id of sim.ids) sim.restart(id);
  const healedAt = sim.now;
  let convergedAfterHealMs: number | null = null;
  if (sim.runUntil(() => clients.outstanding === 0 && topology.converged(sim.nodes), 20_000)) convergedAfterHealMs = sim.now - healedAt;
  else problems.push(`not converged 20 s after healing:\n${sim.describeNodes()}`);

  const history = clients.history;
  const keys = [...new Set([...o.client.keys, ...history.map((op) => op.key)])];
  const finalReads = keys.flatMap((key) => [...sim.nodes].map(([node, n]) => ({ node, key, value: n.localValue(key) })));
  const verdict = checkFinalConvergence(finalReads, history);
  if (verdict.valid !== true) problems.push(`${verdict.checker}: ${verdict.summary}`);
  const applied = topology.appliedByIdempotencyKey?.(sim.nodes as Map<string, CrdtSimNode>) ?? new Map<string, number>();
  for (const incr of logicalIncrements(history)) {
    if (incr.idempotencyKey === undefined) continue;
    const count = applied.get(incr.idempotencyKey) ?? 0;
    if (count > 1 || (incr.outcome === 'ok' && count !== 1) || (incr.outcome === 'fail' && count !== 0)) {
      problems.push(`${incr.idempotencyKey} (${incr.outcome}) applied ${count} times`);
    }
  }
  return { problems, convergedAfterHealMs, ops: history.length, crashes: sim.stats.crashes };
}

describe('crdt in the deterministic simulator', () => {
  const fromEnv = process.env.SEED === undefined ? null : Number(process.env.SEED);
  // CRDT_SIM_SEEDS=500 for a longer run; 20 keep `npm test` quick.
  const count = Number(process.env.CRDT_SIM_SEEDS ?? 20);
  const seeds = fromEnv !== null ? [fromEnv] : Array.from({ length: count }, (_, i) => 1000 + i);
  it(`converges exactly under partitions, crashes, loss and duplication (${seeds.length} seeds)`, () => {
    let worst = 0;
    for (const seed of seeds) {
      const r = runSeed(seed);
      if (r.problems.length > 0) throw new Error(`SEED=${seed}: ${r.problems.slice(0, 5).join('\n')}`);
      worst = Math.max(worst, r.convergedAfterHealMs ?? Infinity);
      expect(r.ops).toBeGreaterThan(0);
    }
    console.log(`crdt sim: ${seeds.length} seeds, worst convergence after heal ${worst.toFixed(0)} virtual ms`);
  });
});
