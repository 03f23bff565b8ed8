/** The summary JSON of one run: everything the report, the README table and the charts need. */
import type { Verdict } from '@playground/checkers';
import type { ClosedLoopResult } from './closed-loop.js';
import type { HistKey, LatencySummary } from './hist.js';
import type { AvailabilityCell, Throughput, Window } from './measures.js';
import type { Provenance } from './provenance.js';
import type { PhaseWindow } from './scenarios.js';

export interface FaultEvent {
  atMs: number;
  what: string;
}

export interface RunSummary {
  schema: 1;
  topology: string;
  scenario: string;
  description: string;
  provenance: Provenance;
  knobs: Record<string, unknown>;
  settings: { durationS: number; rate: number; connections: number; nodes: number; seed: number; readFraction: number; opTimeoutMs: number; key: string; endpoints: boolean };
  phases: PhaseWindow[];
  /** The fault's start and heal, ms since the run's start (what the charts shade). */
  faultWindow: { fromMs: number; toMs: number } | null;
  events: FaultEvent[];
  sideOf: Record<string, string>;
  operations: { total: number; ok: number; fail: number; info: number; skipped: number; late: number };
  latency: { key: Partial<HistKey>; latency: LatencySummary }[];
  throughput: { openLoop: Throughput[]; closedLoop: { incr: ClosedLoopResult | null; read: ClosedLoopResult | null } };
  availability: AvailabilityCell[];
  unavailability: {
    /** Longest stretch with no acknowledged increment anywhere in the cluster. */
    clusterWide: Window;
    perSide: Record<string, Window>;
    /** Raft/etcd: from the fault to a new leader (ms), null when none was needed or seen. */
    newLeaderMs: number | null;
  };
  consistency: {
    verdict: Verdict['valid'];
    verdicts: { checker: string; valid: Verdict['valid']; summary: string }[];
    staleReads: number;
    reads: number;
    staleFraction: number;
    maxStaleness: number;
    maxStaleMs: number;
    lostIncrements: number;
    duplicatedIncrements: number;
    /** From the end of the load until every node's own value agreed for good (measures.ts: CONVERGENCE_SETTLE_MS); null if they never did. */
    convergenceMs: number | null;
    finalValues: Record<string, number | null>;
  };
  messagesPerOp: number | null;
  harness: { cpuMsPer1000Ops: number; cpuShareOfOneCore: number };
  notes: string[];
  files: { history: string; report: string; latencyChart: string | null; availabilityChart: string | null };
  histograms: { key: HistKey; hdr: string }[];
}
