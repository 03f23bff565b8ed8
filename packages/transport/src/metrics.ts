/**
 * The transport's Prometheus metrics, registered on the node's own registry (never the global
 * one: tests run several nodes in one process). Topologies add their own metrics to the same
 * registry with `counter`/`gauge`/`histogram` below (or prom-client directly).
 * Labels are bounded: routes are route patterns, peers come from the member list, message
 * types from the topology's small vocabulary.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type BreakerState = 'closed' | 'half_open' | 'open';
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, half_open: 1, open: 2 };

export interface TransportMetrics {
  readonly registry: Registry;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  readonly peerSent: Counter<'peer' | 'type'>;
  readonly peerReceived: Counter<'peer' | 'type'>;
  readonly peerFailures: Counter<'peer' | 'type' | 'kind'>;
  /** Messages lost to injected faults: cause = drop | blackhole | reject; direction = in | out. */
  readonly peerDropped: Counter<'peer' | 'type' | 'direction' | 'cause'>;
  readonly peerDuplicated: Counter<'peer' | 'type'>;
  readonly peerRpcDuration: Histogram<'peer' | 'type'>;
  readonly peerInFlight: Gauge<'peer'>;
  readonly peerBreakerState: Gauge<'peer'>;
}

const LATENCY_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createTransportMetrics(registry: Registry): TransportMetrics {
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests answered, by route pattern and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers,
    }),
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency, by route pattern',
      labelNames: ['method', 'route'] as const,
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    peerSent: new Counter({
      name: 'peer_messages_sent_total',
      help: 'Peer messages put on the wire (duplicates included)',
      labelNames: ['peer', 'type'] as const,
      registers,
    }),
    peerReceived: new Counter({
      name: 'peer_messages_received_total',
      help: 'Authenticated peer messages delivered to the topology',
      labelNames: ['peer', 'type'] as const,
      registers,
    }),
    peerFailures: new Counter({
      name: 'peer_rpc_failures_total',
      help: 'Peer RPC attempts without a reply, by failure kind',
      labelNames: ['peer', 'type', 'kind'] as const,
      registers,
    }),
    peerDropped: new Counter({
      name: 'peer_messages_dropped_total',
      help: 'Peer messages lost to injected faults',
      labelNames: ['peer', 'type', 'direction', 'cause'] as const,
      registers,
    }),
    peerDuplicated: new Counter({
      name: 'peer_messages_duplicated_total',
      help: 'Peer messages sent twice by an injected fault',
      labelNames: ['peer', 'type'] as const,
      registers,
    }),
    peerRpcDuration: new Histogram({
      name: 'peer_rpc_duration_seconds',
      help: 'Peer RPC attempt latency (replies only)',
      labelNames: ['peer', 'type'] as const,
      buckets: LATENCY_BUCKETS_S,
      registers,
    }),
    peerInFlight: new Gauge({
      name: 'peer_rpc_in_flight',
      help: 'Peer RPCs awaiting a reply, per peer',
      labelNames: ['peer'] as const,
      registers,
    }),
    peerBreakerState: new Gauge({
      name: 'peer_circuit_breaker_state',
      help: 'Circuit breaker per peer: 0 closed, 1 half-open, 2 open',
      labelNames: ['peer'] as const,
      registers,
    }),
  };
}

/** Small helpers so that topologies register on the node's registry without importing prom-client. */
export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [registry] });
}
export function gauge<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
  return new Gauge({ name, help, labelNames, registers: [registry] });
}
export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets: number[] = LATENCY_BUCKETS_S,
): Histogram<L> {
  return new Histogram({ name, help, labelNames, buckets, registers: [registry] });
}
