/** Raft's own series on the node's Prometheus registry. */
import { Counter, Histogram, type Registry } from 'prom-client';

export class RaftMetrics {
  readonly proposals: Counter;
  readonly elected: Counter;
  readonly leaderChanges: Counter;
  readonly messagesSent: Counter;
  readonly messagesReceived: Counter;
  readonly messagesDropped: Counter<'peer'>;
  private readonly saveSeconds: Histogram;
  private readonly batchEntries: Histogram;

  constructor(registry: unknown) {
    const registers = [registry as Registry];
    this.proposals = new Counter({ name: 'raft_proposals_total', help: 'increments proposed by this node as leader', registers });
    this.elected = new Counter({ name: 'raft_elections_won_total', help: 'times this node became leader', registers });
    this.leaderChanges = new Counter({ name: 'raft_leader_changes_total', help: 'leader changes seen by this node', registers });
    this.messagesSent = new Counter({ name: 'raft_messages_sent_total', help: 'Raft messages handed to the transport', registers });
    this.messagesReceived = new Counter({ name: 'raft_messages_received_total', help: 'Raft messages received from peers', registers });
    this.messagesDropped = new Counter({
      name: 'raft_messages_dropped_total',
      help: 'Raft messages dropped (send queue full, or the request failed)',
      labelNames: ['peer'],
      registers,
    });
    this.saveSeconds = new Histogram({
      name: 'raft_log_save_seconds',
      help: 'time to append and fsync one Ready',
      buckets: [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05],
      registers,
    });
    this.batchEntries = new Histogram({
      name: 'raft_log_save_entries',
      help: 'entries per fsync (group commit)',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
      registers,
    });
  }

  observeSave(ms: number, entries: number): void {
    this.saveSeconds.observe(ms / 1000);
    if (entries > 0) this.batchEntries.observe(entries);
  }
}
