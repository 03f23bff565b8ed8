import { Counter, Gauge, Registry } from 'prom-client';

/** The leaderless topology's metrics, on the node's registry (never the global one). */
export interface LeaderlessMetrics {
  readonly writes: Counter<'outcome'>;
  readonly reads: Counter<'outcome'>;
  readonly readRepairs: Counter;
  readonly hintsStored: Counter;
  readonly hintsDelivered: Counter;
  readonly hintsQueued: Gauge<'target'>;
  readonly siblingsSeen: Counter;
  readonly readsWithSiblings: Counter;
  readonly siblingCollapses: Counter;
  readonly lwwOverwritten: Counter<'reason'>;
  readonly refusals: Counter<'reason'>;
  readonly antiEntropyRepairs: Counter;
}

export function createMetrics(registryIn: unknown): LeaderlessMetrics {
  const registers = [registryIn instanceof Registry ? registryIn : new Registry()];
  return {
    writes: new Counter({ name: 'leaderless_writes_total', help: 'Client increments by outcome (ok, unavailable = 503, timeout = 504)', labelNames: ['outcome'] as const, registers }),
    reads: new Counter({ name: 'leaderless_reads_total', help: 'Client reads by outcome', labelNames: ['outcome'] as const, registers }),
    readRepairs: new Counter({ name: 'leaderless_read_repairs_total', help: 'Stale replicas sent the merged version after a read (Dynamo §4.4)', registers }),
    hintsStored: new Counter({ name: 'leaderless_hints_stored_total', help: 'Hinted writes this node accepted as a stand-in for an unreachable owner (Dynamo §4.6)', registers }),
    hintsDelivered: new Counter({ name: 'leaderless_hints_delivered_total', help: 'Hints handed off to their owner and dropped here', registers }),
    hintsQueued: new Gauge({ name: 'leaderless_hints_queued', help: 'Hints held here, by the owner they wait for', labelNames: ['target'] as const, registers }),
    siblingsSeen: new Counter({ name: 'leaderless_siblings_seen_total', help: 'Concurrent versions seen by reads beyond the first (0 when every read saw one version)', registers }),
    readsWithSiblings: new Counter({ name: 'leaderless_reads_with_siblings_total', help: 'Reads that saw more than one concurrent version', registers }),
    siblingCollapses: new Counter({ name: 'leaderless_sibling_collapses_total', help: 'Times the sibling bound merged all siblings into one version (merge mode: nothing lost)', registers }),
    lwwOverwritten: new Counter({
      name: 'leaderless_lww_overwritten_total',
      help: 'lww mode: values a replica discarded although the winner had not seen them (concurrent = lost update, skew = a causally newer write lost to an older clock); counted per replica',
      labelNames: ['reason'] as const,
      registers,
    }),
    refusals: new Counter({ name: 'leaderless_refusals_total', help: 'Writes a replica refused at a bound (keys_full, dots_full, hints_full)', labelNames: ['reason'] as const, registers }),
    antiEntropyRepairs: new Counter({ name: 'leaderless_anti_entropy_repairs_total', help: 'Objects exchanged by anti-entropy because their digests differed', registers }),
  };
}
