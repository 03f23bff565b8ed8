/** The CRDT topology's own Prometheus metrics, on the node's registry. */
import { counter, gauge } from '@playground/transport';

type Registry = Parameters<typeof counter>[0];

export interface CrdtSample {
  readonly liveDots: number;
  readonly tombstones: number;
  readonly walBytes: number;
  readonly fsyncs: number;
  readonly messagesSent: number;
  readonly incrementsApplied: number;
}

/** A gauge read when scraped (prom-client calls a metric's `collect` before reporting it). */
function sampled(registry: Registry, name: string, help: string, read: () => number): void {
  const g = gauge(registry, name, help);
  (g as unknown as { collect: () => void }).collect = () => g.set(read());
}

export function createCrdtMetrics(registry: Registry, sample: () => CrdtSample) {
  sampled(registry, 'crdt_messages_per_increment', 'State messages sent to peers per applied increment, since start.', () => {
    const s = sample();
    return s.incrementsApplied === 0 ? 0 : s.messagesSent / s.incrementsApplied;
  });
  sampled(registry, 'crdt_live_dots', 'Keyed increments not yet folded (bounded by --max-live-dots).', () => sample().liveDots);
  sampled(registry, 'crdt_tombstones', 'Folded idempotency keys still remembered (bounded by --max-tombstones).', () => sample().tombstones);
  sampled(registry, 'crdt_wal_bytes', 'Bytes in the write-ahead log since the last snapshot.', () => sample().walBytes);
  sampled(registry, 'crdt_wal_fsyncs', 'fdatasync calls on the write-ahead log since start (one per group commit).', () => sample().fsyncs);
  return {
    increments: counter(registry, 'crdt_increments_total', 'Client increments by outcome.', ['outcome']),
    messages: counter(registry, 'crdt_peer_messages_sent_total', 'State messages sent to peers, by cause and content.', ['cause', 'content']),
    entries: counter(registry, 'crdt_peer_message_entries_total', 'State entries (plain cells, dots, folds) carried by messages sent.', ['content']),
    merges: counter(registry, 'crdt_merges_total', 'Peer states received, by whether they changed anything.', ['result']),
    rounds: counter(registry, 'crdt_gossip_rounds_total', 'Anti-entropy gossip rounds.'),
    idemChecks: counter(registry, 'crdt_idem_checks_total', 'Keyed increments that asked peers whether they already hold the key (--idem-check-ms).'),
    folds: counter(registry, 'crdt_folds_total', "Compacted records made durable (each folds a prefix of one origin's dots)."),
    refused: counter(registry, 'crdt_peer_messages_refused_total', 'Peer messages refused as malformed or contradictory (nothing merged).'),
  };
}

export type CrdtMetrics = ReturnType<typeof createCrdtMetrics>;
