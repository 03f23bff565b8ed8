/**
 * The peer protocol's bodies, and strict parsing of untrusted ones. The transport has
 * authenticated the sender as a member; the shape and every node id inside are checked here.
 * A body that does not fit throws BadRequestError naming the field, before anything is merged.
 *
 * Compact tuples rather than objects: a state message is mostly dots.
 *   plain:     [origin, key, p, n]
 *   dot:       [origin, seq, idem, key, delta, [[depOrigin, depSeq], ...]]
 *   compacted: [origin, upToSeq, [[key, p, n], ...]]
 *   seen:      [[origin, seq], ...]
 */
import { BadRequestError, isCounterKey, isIdempotencyKey, type NodeId } from '@playground/core';
import type { Compacted, CounterMode, Dot, Halves, PlainCell, StateDelta } from './types.js';

export const GOSSIP = 'crdt.gossip';
export const PULL = 'crdt.pull';
/** "Do you hold dots for these Idempotency-Keys?" Asked (batched) before keyed increments make new dots. */
export const IDEM = 'crdt.idem';
export const WIRE_VERSION = 1;

type PlainTuple = [NodeId, string, number, number];
type DotTuple = [NodeId, number, string, string, number, [NodeId, number][]];
type CompactedTuple = [NodeId, number, [string, number, number][]];

export interface WireState {
  readonly plain: PlainTuple[];
  readonly dots: DotTuple[];
  readonly compacted: CompactedTuple[];
}

/** A state message: the sender's delta (or full state) and what it holds, for stability. */
export interface GossipBody {
  readonly v: number;
  readonly mode: CounterMode;
  readonly full: boolean;
  readonly seen: [NodeId, number][];
  readonly state: WireState;
}

/**
 * The reply to a gossip: what the receiver holds after merging; plus, when the receiver's own
 * messages to the sender are failing (a partition healing, its breaker still open), its delta
 * for the sender (push-pull anti-entropy, Demers et al. 1987): one working direction suffices.
 */
export interface GossipReply {
  readonly v: number;
  readonly seen: [NodeId, number][];
  readonly state?: WireState;
}

/** At most this many entries of each kind in one message (a full state of a very busy cluster). */
export const MAX_ENTRIES = 1_000_000;
/** At most this many idempotency keys in one IDEM question (the asker batches up to 1024). */
export const MAX_IDEMS = 4096;

export function encodeState(delta: StateDelta): WireState {
  return {
    plain: delta.plain.map((c) => [c.origin, c.key, c.p, c.n]),
    dots: delta.dots.map((d) => [d.origin, d.seq, d.idem, d.key, d.delta, Object.entries(d.deps).filter(([, s]) => s > 0)]),
    compacted: delta.compacted.map((c) => [c.origin, c.upToSeq, [...c.sums].map(([k, h]) => [k, h.p, h.n] as [string, number, number])]),
  };
}

export function encodeDots(dots: readonly Dot[]): DotTuple[] {
  return encodeState({ plain: [], dots, compacted: [] }).dots;
}

export function encodeSeen(seen: ReadonlyMap<NodeId, number>): [NodeId, number][] {
  return [...seen];
}

/** Parses untrusted input; every node id must be one of `members`. */
export class WireParser {
  private readonly members: ReadonlySet<NodeId>;

  constructor(
    members: readonly NodeId[],
    private readonly mode: CounterMode,
  ) {
    this.members = new Set(members);
  }

  gossip(body: unknown): { full: boolean; seen: Map<NodeId, number>; state: StateDelta } {
    const o = record(body, 'body');
    if (o.v !== WIRE_VERSION) throw new BadRequestError('v', `protocol version ${String(o.v)} is not ${WIRE_VERSION}`);
    if (o.mode !== this.mode) throw new BadRequestError('mode', `peer counts in mode ${String(o.mode)}, this node in ${this.mode}`);
    if (typeof o.full !== 'boolean') throw new BadRequestError('full', 'must be a boolean');
    return { full: o.full, seen: this.seen(o.seen, 'seen'), state: this.state(o.state) };
  }

  reply(body: unknown): { seen: Map<NodeId, number>; state: StateDelta | null } {
    const o = record(body, 'reply');
    if (o.v !== WIRE_VERSION) throw new BadRequestError('v', `protocol version ${String(o.v)} is not ${WIRE_VERSION}`);
    return { seen: this.seen(o.seen, 'seen'), state: o.state === undefined ? null : this.state(o.state) };
  }

  /** The idempotency keys a peer asks about (`idems`, batched; `idem`, one, as older nodes send). */
  idemRequest(body: unknown): string[] {
    const o = record(body, 'body');
    if (o.v !== WIRE_VERSION) throw new BadRequestError('v', `protocol version ${String(o.v)} is not ${WIRE_VERSION}`);
    if (o.idems === undefined) {
      if (!isIdempotencyKey(o.idem)) throw new BadRequestError('idem', 'not an idempotency key (1-128 printable ASCII)');
      return [o.idem];
    }
    const keys = list(o.idems, 'idems');
    if (keys.length > MAX_IDEMS) throw new BadRequestError('idems', `more than ${MAX_IDEMS} keys in one question`);
    keys.forEach((k, i) => {
      if (!isIdempotencyKey(k)) throw new BadRequestError(`idems[${i}]`, 'not an idempotency key (1-128 printable ASCII)');
    });
    return keys as string[];
  }

  /** The dots a peer holds for the keys asked about; each must carry one of them. */
  idemReply(body: unknown, asked: ReadonlySet<string>): Dot[] {
    const o = record(body, 'reply');
    if (o.v !== WIRE_VERSION) throw new BadRequestError('v', `protocol version ${String(o.v)} is not ${WIRE_VERSION}`);
    const dots = this.state({ plain: [], dots: o.dots, compacted: [] }).dots;
    const stray = dots.find((d) => !asked.has(d.idem));
    if (stray) throw new BadRequestError('dots', `a dot for an idempotency key not asked about (${stray.idem})`);
    return [...dots];
  }

  seen(value: unknown, field: string): Map<NodeId, number> {
    const out = new Map<NodeId, number>();
    list(value, field).forEach((item, i) => {
      const t = tuple(item, 2, `${field}[${i}]`);
      const origin = this.member(t[0], `${field}[${i}][0]`);
      if (out.has(origin)) throw new BadRequestError(`${field}[${i}][0]`, `node ${origin} is listed twice`);
      out.set(origin, count(t[1], `${field}[${i}][1]`));
    });
    return out;
  }

  state(value: unknown): StateDelta {
    const o = record(value, 'state');
    const plain: PlainCell[] = list(o.plain, 'state.plain').map((item, i) => {
      const f = `state.plain[${i}]`;
      const t = tuple(item, 4, f);
      const cell = { origin: this.member(t[0], `${f}[0]`), key: counterKey(t[1], `${f}[1]`), p: count(t[2], `${f}[2]`), n: count(t[3], `${f}[3]`) };
      if (this.mode === 'g' && cell.n !== 0) throw new BadRequestError(`${f}[3]`, 'a G-counter cannot be decremented');
      return cell;
    });
    const dotIds = new Set<string>();
    const dots: Dot[] = list(o.dots, 'state.dots').map((item, i) => {
      const f = `state.dots[${i}]`;
      const t = tuple(item, 6, f);
      const origin = this.member(t[0], `${f}[0]`);
      const seq = count(t[1], `${f}[1]`);
      if (seq < 1) throw new BadRequestError(`${f}[1]`, 'a dot seq starts at 1');
      if (!isIdempotencyKey(t[2])) throw new BadRequestError(`${f}[2]`, 'not an idempotency key (1-128 printable ASCII)');
      const key = counterKey(t[3], `${f}[3]`);
      const delta = integer(t[4], `${f}[4]`);
      if (this.mode === 'g' && delta < 0) throw new BadRequestError(`${f}[4]`, 'a G-counter cannot be decremented');
      const deps = Object.fromEntries([...this.seen(t[5], `${f}[5]`)].filter(([dep]) => dep !== origin));
      const id = `${origin} ${seq}`;
      if (dotIds.has(id)) throw new BadRequestError(f, `dot (${origin}, ${seq}) appears twice`);
      dotIds.add(id);
      return { origin, seq, idem: t[2], key, delta, deps };
    });
    const origins = new Set<NodeId>();
    const compacted: Compacted[] = list(o.compacted, 'state.compacted').map((item, i) => {
      const f = `state.compacted[${i}]`;
      const t = tuple(item, 3, f);
      const origin = this.member(t[0], `${f}[0]`);
      if (origins.has(origin)) throw new BadRequestError(`${f}[0]`, `node ${origin} is listed twice`);
      origins.add(origin);
      const sums = new Map<string, Halves>();
      list(t[2], `${f}[2]`).forEach((s, j) => {
        const st = tuple(s, 3, `${f}[2][${j}]`);
        const key = counterKey(st[0], `${f}[2][${j}][0]`);
        if (sums.has(key)) throw new BadRequestError(`${f}[2][${j}][0]`, `key ${key} is listed twice`);
        const h = { p: count(st[1], `${f}[2][${j}][1]`), n: count(st[2], `${f}[2][${j}][2]`) };
        if (this.mode === 'g' && h.n !== 0) throw new BadRequestError(`${f}[2][${j}][2]`, 'a G-counter cannot be decremented');
        sums.set(key, h);
      });
      return { origin, upToSeq: count(t[1], `${f}[1]`), sums };
    });
    return { plain, dots, compacted };
  }

  private member(value: unknown, field: string): NodeId {
    if (typeof value !== 'string' || !this.members.has(value)) {
      throw new BadRequestError(field, `${JSON.stringify(value)} is not a member of this cluster`);
    }
    return value;
  }
}

function record(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new BadRequestError(field, 'must be an object');
  return value as Record<string, unknown>;
}

function list(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new BadRequestError(field, 'must be an array');
  if (value.length > MAX_ENTRIES) throw new BadRequestError(field, `more than ${MAX_ENTRIES} entries`);
  return value;
}

function tuple(value: unknown, length: number, field: string): unknown[] {
  if (!Array.isArray(value) || value.length !== length) throw new BadRequestError(field, `must be an array of ${length}`);
  return value;
}

function integer(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new BadRequestError(field, 'must be a safe integer');
  return value;
}

function count(value: unknown, field: string): number {
  const n = integer(value, field);
  if (n < 0) throw new BadRequestError(field, 'must not be negative');
  return n;
}

function counterKey(value: unknown, field: string): string {
  if (!isCounterKey(value)) throw new BadRequestError(field, 'not a counter key ([A-Za-z0-9_.:-]{1,128})');
  return value;
}
