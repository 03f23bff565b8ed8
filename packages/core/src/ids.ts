/** Identifiers and the validation rules the node contract gives them. */

export type NodeId = string;

/** Counter keys: `[A-Za-z0-9_.:-]{1,128}` (contract, POST /incr). */
export const COUNTER_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const DEFAULT_COUNTER_KEY = 'counter';

/** Node ids: short and safe in URLs, file names, metrics labels and env vars. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

/** Idempotency keys: 1-128 printable ASCII characters (contract, POST /incr). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,128}$/;

export function isCounterKey(value: unknown): value is string {
  return typeof value === 'string' && COUNTER_KEY_PATTERN.test(value);
}

export function isNodeId(value: unknown): value is NodeId {
  return typeof value === 'string' && NODE_ID_PATTERN.test(value);
}

export function isIdempotencyKey(value: unknown): value is string {
  return typeof value === 'string' && IDEMPOTENCY_KEY_PATTERN.test(value);
}

export interface PeerAddress {
  readonly id: NodeId;
  readonly host: string;
  readonly port: number;
}

/** Parses `n1=127.0.0.1:8001,n2=127.0.0.1:8002` into addresses, or says what is wrong. */
export function parsePeers(spec: string): PeerAddress[] | string {
  const peers: PeerAddress[] = [];
  const seen = new Set<string>();
  for (const part of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=]+)=(.+):(\d{1,5})$/.exec(part);
    if (!m) return `peer ${JSON.stringify(part)} is not of the form id=host:port`;
    const [, id, host, portText] = m as unknown as [string, string, string, string];
    if (!isNodeId(id)) return `peer id ${JSON.stringify(id)} must match ${NODE_ID_PATTERN.source}`;
    const port = Number(portText);
    if (port < 1 || port > 65535) return `peer ${id} has port ${port}, outside 1..65535`;
    if (seen.has(id)) return `peer id ${id} is listed twice`;
    seen.add(id);
    peers.push({ id, host: host.replace(/^\[(.*)\]$/, '$1'), port });
  }
  if (peers.length === 0) return 'the peer list is empty';
  return peers;
}
