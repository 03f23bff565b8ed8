/**
 * One random run: a safety phase under faults with clients working, then a liveness phase
 * (heal, restart, the cluster must elect, commit and converge within a bound), then the
 * history checkers. Every failure message carries the seed and the command that replays it.
 */
import { Rng, type NodeId } from '@playground/core';
import {
  checkCounterBounds,
  checkFinalConvergence,
  checkLinearizable,
  checkNoDuplicates,
  type AppliedCount,
  type Op,
  type Verdict,
} from '@playground/checkers';
import { ClientPool } from './clients.js';
import { applyPartition, PARTITION_SHAPES } from './faults.js';
import type { RunOptions } from './options.js';
import { Simulation } from './simulation.js';
import type { SimNode, SimTopology } from './topology.js';

export interface RunResult {
  readonly seed: number;
  readonly ok: boolean;
  /** The first problem found, with the replay command and the end of the trace. */
  readonly failure: string | null;
  readonly verdicts: readonly Verdict[];
  readonly history: readonly Op[];
  readonly stats: {
    simulatedMs: number;
    wallMs: number;
    /** Events the simulator ran (ticks, deliveries, fsyncs, client steps). */
    events: number;
    convergedAfterHealMs: number | null;
    messagesSent: number;
    messagesDropped: number;
    crashes: number;
    ops: { ok: number; fail: number; info: number };
  };
}

export interface RunContext<Message, DiskState, DiskRecord, Node extends SimNode<Message>> {
  readonly topology: SimTopology<Message, DiskState, DiskRecord, Node>;
  readonly options: RunOptions;
  /** How to replay this run, e.g. `npm run sim -- --topology raft --seed 7`. */
  readonly replay: string;
}

export function runSeed<Message, DiskState, DiskRecord, Node extends SimNode<Message>>(
  run: RunContext<Message, DiskState, DiskRecord, Node>,
): RunResult {
  const started = performance.now();
  const { topology, options: o } = run;
  const sim = new Simulation(topology, {
    seed: o.seed,
    nodes: o.nodes,
    network: o.network,
    fsyncMinMs: Math.min(0.05, o.fsyncMaxMs),
    fsyncMaxMs: o.fsyncMaxMs,
    clientLatencyMs: 0.5,
  });
  const rng = new Rng(o.seed ^ 0x0c11_e475);
  const faultRng = rng.fork();
  const clients = new ClientPool(sim, rng.fork(), o.client);
  const verdicts: Verdict[] = [];
  let failure: string | null = null;
  let convergedAfterHealMs: number | null = null;

  const fail = (reason: string): void => {
    failure ??= [
      `FAIL SEED=${o.seed} (${topology.name}): ${reason}`,
      `replay: ${run.replay}`,
      'nodes:',
      ...sim.describeNodes().split('\n').map((l) => `  ${l}`),
      'trace (last lines):',
      ...sim.recentTrace(15).map((l) => `  ${l}`),
    ].join('\n');
  };

  try {
    // ---- safety phase: faults and clients ----
    clients.start();
    const safetyEndMs = o.safetyMs;
    const scheduleFault = (): void => {
      sim.queue.after(faultRng.float() * 2 * o.faultEveryMs, () => {
        if (sim.now >= safetyEndMs) return;
        injectFault(sim, faultRng, o);
        scheduleFault();
      });
    };
    scheduleFault();
    sim.runFor(safetyEndMs);
    const safety = topology.checkSafety?.(sim.nodes) ?? null;
    if (safety !== null) throw new Error(safety);

    // ---- liveness phase: heal everything; the cluster must converge within the bound ----
    clients.stop();
    sim.network.heal();
    sim.network.options = { ...o.network, lossRate: 0, duplicateRate: 0, longDelayRate: 0 };
    for (const id of sim.ids) sim.restart(id);
    sim.trace('heal: network healed, every node up');
    const healedAtMs = sim.now;
    let probeAcknowledged = false;
    clients.probe(o.client.keys[0] ?? 'counter', () => (probeAcknowledged = true));
    const converged = (): boolean => probeAcknowledged && topology.converged(sim.nodes);
    if (!sim.runUntil(converged, o.livenessBoundMs)) {
      throw new Error(`liveness: not converged within ${o.livenessBoundMs} ms after healing (probe acknowledged: ${probeAcknowledged})`);
    }
    convergedAfterHealMs = sim.now - healedAtMs;
    // Let every attempt in flight finish (or time out), then settle again.
    sim.runUntil(() => clients.outstanding === 0, o.client.timeoutMs + 10);
    if (!sim.runUntil(() => topology.converged(sim.nodes), o.livenessBoundMs)) {
      throw new Error(`liveness: lost convergence after the last client attempts`);
    }
    const settled = topology.checkSafety?.(sim.nodes) ?? null;
    if (settled !== null) throw new Error(settled);

    // ---- the history checkers ----
    const history = clients.history;
    const keys = [...new Set([...o.client.keys, ...history.map((op) => op.key)])];
    const finalReads = keys.flatMap((key) =>
      (topology.holders?.(key, sim.ids) ?? sim.ids).map((node) => ({ node, key, value: sim.node(node).localValue(key) })),
    );
    const linearizable = (topology.consistency ?? 'linearizable') === 'linearizable';
    if (linearizable) verdicts.push(checkLinearizable(history, { timeBudgetMs: o.linearizableBudgetMs }));
    verdicts.push(checkCounterBounds(history, { allowStale: !linearizable }));
    verdicts.push(checkFinalConvergence(finalReads, history));
    const applied = topology.appliedByIdempotencyKey?.(sim.nodes);
    if (applied !== undefined) {
      const counts: AppliedCount[] = [];
      const seen = new Set<string>();
      for (const op of history) {
        if (op.idempotencyKey === undefined || seen.has(op.idempotencyKey)) continue;
        seen.add(op.idempotencyKey);
        counts.push({ key: op.key, idempotencyKey: op.idempotencyKey, count: applied.get(op.idempotencyKey) ?? 0 });
      }
      verdicts.push(checkNoDuplicates(history, counts));
    }
    const bad = verdicts.find((v) => v.valid === false);
    if (bad !== undefined) {
      const excerpt = (bad.excerpt ?? []).slice(0, 12).map((op) => `  ${JSON.stringify(op)}`);
      fail([`${bad.checker}: ${bad.summary}`, ...excerpt].join('\n'));
    }
  } catch (e) {
    const error = e as Error;
    const where = error.name === 'AssertionError' ? ` (core assertion)\n${error.stack?.split('\n').slice(1, 4).join('\n')}` : '';
    fail(`${error.message}${where}`);
  }

  const history = clients.history;
  const count = (outcome: Op['outcome']): number => history.filter((op) => op.outcome === outcome).length;
  return {
    seed: o.seed,
    ok: failure === null,
    failure,
    verdicts,
    history,
    stats: {
      simulatedMs: sim.now,
      wallMs: performance.now() - started,
      events: sim.queue.executed,
      convergedAfterHealMs,
      messagesSent: sim.network.stats.sent,
      messagesDropped: sim.network.stats.dropped,
      crashes: sim.stats.crashes,
      ops: { ok: count('ok'), fail: count('fail'), info: count('info') },
    },
  };
}

/** One step of the safety phase's nemesis. */
function injectFault<M, D, R, N extends SimNode<M>>(sim: Simulation<M, D, R, N>, rng: Rng, o: RunOptions): void {
  const down = sim.ids.filter((id) => !sim.isUp(id));
  const up = sim.ids.filter((id) => sim.isUp(id));
  const choices: [string, number][] = [
    ['partition', o.partitionWeight],
    ['heal', o.partitionWeight > 0 ? 2 : 0],
    ['crash', up.length > 0 ? o.crashWeight : 0],
    // Leader churn is where Raft's subtle bugs live (Figure 8): crash whoever leads now.
    ['crash-leader', up.length > 0 ? o.crashWeight : 0],
    ['restart', down.length > 0 ? 3 : 0],
    ['weather', 1],
  ];
  const total = choices.reduce((s, [, w]) => s + w, 0);
  let pick = rng.float() * total;
  const action = (choices.find(([, w]) => (pick -= w) < 0) ?? ['weather', 1])[0];
  switch (action) {
    case 'partition': {
      const shape = rng.pick(PARTITION_SHAPES);
      const leader: NodeId | null = sim.topology.preferredNode?.(sim.nodes) ?? null;
      if (rng.chance(0.5)) sim.network.heal(); // a new shape, or this one on top of the last
      sim.trace(`partition ${applyPartition(sim.network, sim.ids, shape, rng, leader)}`);
      return;
    }
    case 'heal':
      sim.network.heal();
      sim.trace('heal network');
      return;
    case 'crash':
      sim.crash(rng.pick(up));
      return;
    case 'crash-leader':
      sim.crash(sim.topology.preferredNode?.(sim.nodes) ?? rng.pick(up));
      return;
    case 'restart':
      sim.restart(rng.pick(down));
      return;
    default: {
      // Weather: a burst of loss and long delays, or back to the seed's baseline.
      const calm = rng.chance(0.5);
      sim.network.options = calm
        ? { ...o.network }
        : { ...o.network, lossRate: Math.min(0.5, o.network.lossRate * 3 + 0.05), longDelayRate: o.network.longDelayRate + 0.02 };
      sim.trace(`weather ${calm ? 'calm' : 'storm'}`);
    }
  }
}
