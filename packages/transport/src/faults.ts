/**
 * Fault injection for this node's PEER traffic (contract: POST/GET/DELETE /admin/faults).
 * Client routes are never affected: a partitioned node still answers its clients, as a real
 * one on the wrong side of a cut would.
 *
 * Semantics (a new POST REPLACES the faults in force; it does not merge):
 * - `partition` with `direction` out|both: an outbound call to a listed peer is not sent.
 *   `blackhole` makes it hang until the caller's per-attempt timeout (`timeout`, a pulled cable);
 *   `reject` fails it at once (`unreachable`, a dead process).
 * - `partition` with `direction` in|both: a request from a listed peer is held unanswered
 *   (`blackhole`, bounded, freed when the sender disconnects) or its socket destroyed (`reject`).
 * - `delayMs` ± `jitterMs` (uniform) delays each outbound message; the delay counts against the
 *   attempt's timeout, as it would on a slow link.
 * - `dropRate`: an outbound message is not sent; the caller sees `timeout` after its timeout.
 * - `duplicateRate`: an outbound message is sent twice; the second reply is ignored.
 * Delay, drop and duplicate act on messages between nodes, never on a node's call to itself.
 */
import { BadRequestError, isNodeId, type NodeId } from '@playground/core';

export type FaultDirection = 'both' | 'in' | 'out';
export type FaultMode = 'blackhole' | 'reject';

export interface FaultSpec {
  readonly partition: readonly NodeId[];
  readonly direction: FaultDirection;
  readonly mode: FaultMode;
  readonly delayMs: number;
  readonly jitterMs: number;
  readonly dropRate: number;
  readonly duplicateRate: number;
}

/** Upper bound for delayMs and jitterMs: a minute is already far past every RPC timeout. */
export const MAX_FAULT_DELAY_MS = 60_000;

const FIELDS = new Set(['partition', 'direction', 'mode', 'delayMs', 'jitterMs', 'dropRate', 'duplicateRate']);

/**
 * Validates an admin request strictly: an unknown field, an unknown peer id, this node's own id,
 * a rate outside [0, 1] or a negative delay throws BadRequestError naming the field.
 * Defaults: no partition, direction `both`, mode `blackhole`, no delay, no drops, no duplicates.
 */
export function parseFaultSpec(input: unknown, peers: readonly NodeId[], self: NodeId): FaultSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new BadRequestError('body', 'must be a JSON object');
  }
  const o = input as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!FIELDS.has(k)) throw new BadRequestError(k, `unknown field; expected one of ${[...FIELDS].join(', ')}`);
  }
  const partition: NodeId[] = [];
  if (o['partition'] !== undefined) {
    const list = o['partition'];
    if (!Array.isArray(list)) throw new BadRequestError('partition', 'must be an array of peer ids');
    for (const id of list) {
      if (!isNodeId(id) || !peers.includes(id)) {
        throw new BadRequestError('partition', `${JSON.stringify(id)} is not a peer (peers: ${peers.join(', ')})`);
      }
      if (id === self) throw new BadRequestError('partition', `${id} is this node; list the peers to cut it from`);
      if (!partition.includes(id)) partition.push(id);
    }
  }
  return {
    partition,
    direction: oneOf(o, 'direction', ['both', 'in', 'out'] as const, 'both'),
    mode: oneOf(o, 'mode', ['blackhole', 'reject'] as const, 'blackhole'),
    delayMs: number(o, 'delayMs', 0, MAX_FAULT_DELAY_MS),
    jitterMs: number(o, 'jitterMs', 0, MAX_FAULT_DELAY_MS),
    dropRate: number(o, 'dropRate', 0, 1),
    duplicateRate: number(o, 'duplicateRate', 0, 1),
  };
}

function oneOf<T extends string>(o: Record<string, unknown>, field: string, values: readonly T[], fallback: T): T {
  const v = o[field];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new BadRequestError(field, `must be one of ${values.join(', ')}`);
  }
  return v as T;
}

function number(o: Record<string, unknown>, field: string, min: number, max: number): number {
  const v = o[field];
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new BadRequestError(field, `must be a number in [${min}, ${max}]`);
  }
  return v;
}

/** What to do with one outbound message, decided before it is sent. */
export type OutboundFate =
  | { readonly kind: 'send'; readonly delayMs: number; readonly duplicate: boolean }
  | { readonly kind: 'blackhole' }
  | { readonly kind: 'reject' }
  | { readonly kind: 'drop' };

const SEND_NOW: OutboundFate = { kind: 'send', delayMs: 0, duplicate: false };

export class FaultInjector {
  #spec: FaultSpec | null = null;
  #outCut = new Set<NodeId>();
  #inCut = new Set<NodeId>();

  /** `random` returns uniform values in [0, 1); injectable so that tests can pin fates. */
  constructor(private readonly random: () => number = Math.random) {}

  get(): FaultSpec | null {
    return this.#spec;
  }

  /** Replaces whatever is in force (no merge). */
  set(spec: FaultSpec): void {
    this.#spec = spec;
    const out = spec.direction === 'out' || spec.direction === 'both';
    const inb = spec.direction === 'in' || spec.direction === 'both';
    this.#outCut = new Set(out ? spec.partition : []);
    this.#inCut = new Set(inb ? spec.partition : []);
  }

  clear(): void {
    this.#spec = null;
    this.#outCut.clear();
    this.#inCut.clear();
  }

  /** The fate of a message this node is about to send to `peer` (`self` is never faulted). */
  outbound(peer: NodeId, self: NodeId): OutboundFate {
    const s = this.#spec;
    if (s === null || peer === self) return SEND_NOW;
    if (this.#outCut.has(peer)) return s.mode === 'reject' ? { kind: 'reject' } : { kind: 'blackhole' };
    if (s.dropRate > 0 && this.random() < s.dropRate) return { kind: 'drop' };
    const delayMs = s.delayMs > 0 || s.jitterMs > 0 ? Math.max(0, s.delayMs + (this.random() * 2 - 1) * s.jitterMs) : 0;
    const duplicate = s.duplicateRate > 0 && this.random() < s.duplicateRate;
    return delayMs === 0 && !duplicate ? SEND_NOW : { kind: 'send', delayMs, duplicate };
  }

  /** How to treat a message arriving from `peer`: null = deliver. */
  inbound(peer: NodeId): FaultMode | null {
    const s = this.#spec;
    if (s === null || !this.#inCut.has(peer)) return null;
    return s.mode;
  }
}
