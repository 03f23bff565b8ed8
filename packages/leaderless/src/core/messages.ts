import { BadRequestError, isCounterKey, isIdempotencyKey, vclock } from '@playground/core';
import type { NodeId, VClock } from '@playground/core';
import { LWW_RECENT_KEYS_MAX } from './counter.js';
import type { LwwLoss, ResolveMode, VersionWire } from './versioned.js';

/**
 * The peer protocol. Every message is authenticated by the transport, but its shape is still
 * untrusted: each parser checks it strictly and throws BadRequestError (answered 400, nothing
 * changed) at the first field that does not fit.
 */
export const MSG = {
  put: 'll.put',
  putBatch: 'll.put.batch',
  get: 'll.get',
  state: 'll.state',
  ping: 'll.ping',
  aeBuckets: 'll.ae.buckets',
  aeKeys: 'll.ae.keys',
} as const;

/** A coordinator's write to one replica (or to a stand-in, with `hintFor`, Dynamo §4.6). */
export interface PutMessage {
  key: string;
  mode: ResolveMode;
  version: VersionWire;
  hintFor?: NodeId;
}

/**
 * Several coordinators' writes to one replica in one RPC (see PutBatcher): applied in order,
 * acknowledged together after one fsync. Every put keeps its own reply.
 */
export interface PutBatchMessage {
  puts: PutMessage[];
}

export interface PutBatchReply {
  replies: PutReply[];
}

/** Puts per batch message; a longer batch is refused whole (400, nothing applied). */
export const PUT_BATCH_MAX = 256;

export type RefusalReason = 'keys_full' | 'dots_full' | 'hints_full';

/** What a refusal means, in words for the client's error (each is a bound a flag sets). */
export const REFUSAL_MEANING: Readonly<Record<RefusalReason, string>> = {
  keys_full: 'it stores as many keys as it may (--keys-max)',
  dots_full:
    'its copy of the key remembers as many Idempotency-Keys as a key may (--dedup-max), so it takes no new keyed increment for the key (none is ever counted twice); use another key, or increment without an Idempotency-Key',
  hints_full: 'it holds as many hinted writes as it may (--hint-max)',
};

export type PutReply =
  | { status: 'stored' | 'duplicate'; value: number; clock: VClock; siblings: number; lost?: LwwLoss }
  | { status: 'refused'; reason: RefusalReason };

/** A read: a summary by default (digest read), the whole object with `full`. */
export interface GetMessage {
  key: string;
  full?: boolean;
}

/** What a replica holds for a key, without its dots. Equal digests mean equal objects. */
export interface ReplicaSummary {
  digest: string;
  value: number;
  clock: VClock;
  siblings: number;
  /** lww: the Idempotency-Keys that travel with the value (see LwwRegister.keys). */
  keys?: string[];
}

export type GetReply = ReplicaSummary & { mode: ResolveMode; versions?: VersionWire[] };

/** A whole object to join: read repair, hint handoff, anti-entropy. */
export interface StateMessage {
  key: string;
  mode: ResolveMode;
  versions: VersionWire[];
  hintFor?: NodeId;
}

export type StateReply = { status: 'stored'; digest: string } | { status: 'refused'; reason: RefusalReason };

/** Anti-entropy round 1: the digest of each ring bucket of keys both nodes replicate. */
export interface AeBucketsMessage {
  mode: ResolveMode;
  buckets: string[];
}

export interface AeBucketsReply {
  differ: number[];
}

/** Anti-entropy round 2: per-key digests of the buckets that differ. */
export interface AeKeysMessage {
  mode: ResolveMode;
  buckets: number[];
  keys: Record<string, string>;
}

export interface AeKeysReply {
  /** Objects the asker lacks or holds differently. */
  states: Record<string, VersionWire[]>;
  /** Keys whose object the answerer wants pushed to it. */
  want: string[];
}

export interface ParseLimits {
  readonly members: ReadonlySet<NodeId>;
  readonly mode: ResolveMode;
  readonly siblingsMax: number;
  readonly dotsMax: number;
  readonly buckets: number;
  readonly keysPerMessageMax: number;
}

type Obj = Record<string, unknown>;

function fail(field: string, message: string): never {
  throw new BadRequestError(field, message);
}

function object(value: unknown, field: string): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(field, 'must be an object');
  return value as Obj;
}

function onlyFields(o: Obj, field: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${field}.${k}`, 'is not a known field');
}

function key(value: unknown, field = 'key'): string {
  if (!isCounterKey(value)) fail(field, 'must match [A-Za-z0-9_.:-]{1,128}');
  return value;
}

function member(value: unknown, field: string, limits: ParseLimits): NodeId {
  if (typeof value !== 'string' || !limits.members.has(value)) fail(field, 'must name a cluster member');
  return value;
}

function safeInt(value: unknown, field: string, min = Number.MIN_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) fail(field, `must be an integer >= ${min}`);
  return value;
}

function mode(value: unknown, limits: ParseLimits): ResolveMode {
  if (value !== 'merge' && value !== 'lww') fail('mode', 'must be merge or lww');
  if (value !== limits.mode) fail('mode', `this node resolves with ${limits.mode}, the message says ${value}`);
  return value;
}

/** A vector clock from a peer or a client: bounded by the membership, naming only members. */
export function parseMemberClock(value: unknown, field: string, members: ReadonlySet<NodeId>): VClock {
  const clock = vclock.parseClock(value, members.size);
  if (typeof clock === 'string') fail(field, clock);
  for (const node of Object.keys(clock)) if (!members.has(node)) fail(field, `names ${JSON.stringify(node)}, not a cluster member`);
  return clock;
}

export const DOT_PREFIX = 'k:';

export function parseVersion(value: unknown, field: string, limits: ParseLimits): VersionWire {
  const o = object(value, field);
  const c = parseMemberClock(o.c, `${field}.c`, limits.members);
  if (limits.mode === 'lww') {
    onlyFields(o, field, ['c', 'v', 't', 'w', 'k']);
    const out: VersionWire = { c, v: safeInt(o.v, `${field}.v`), t: safeInt(o.t, `${field}.t`), w: member(o.w, `${field}.w`, limits) };
    if (o.k !== undefined) {
      if (!Array.isArray(o.k) || o.k.length > LWW_RECENT_KEYS_MAX || !o.k.every(isIdempotencyKey)) {
        fail(`${field}.k`, `must be at most ${LWW_RECENT_KEYS_MAX} idempotency keys`);
      }
      out.k = o.k as string[];
    }
    return out;
  }
  onlyFields(o, field, ['c', 'd', 's']);
  const out: VersionWire = { c };
  if (o.d !== undefined) {
    if (!Array.isArray(o.d) || o.d.length > limits.dotsMax) fail(`${field}.d`, `must be an array of at most ${limits.dotsMax} dots`);
    out.d = o.d.map((pair, i): [string, number] => {
      if (!Array.isArray(pair) || pair.length !== 2) fail(`${field}.d[${i}]`, 'must be [id, delta]');
      const [id, delta] = pair as [unknown, unknown];
      if (typeof id !== 'string' || !id.startsWith(DOT_PREFIX) || !isIdempotencyKey(id.slice(DOT_PREFIX.length))) {
        fail(`${field}.d[${i}]`, 'dot id must be k:<idempotency key>');
      }
      return [id, safeInt(delta, `${field}.d[${i}]`)];
    });
  }
  if (o.s !== undefined) {
    const s = object(o.s, `${field}.s`);
    out.s = {};
    for (const [node, pn] of Object.entries(s)) {
      member(node, `${field}.s`, limits);
      if (!Array.isArray(pn) || pn.length !== 2) fail(`${field}.s.${node}`, 'must be [p, n]');
      out.s[node] = [safeInt(pn[0], `${field}.s.${node}`, 0), safeInt(pn[1], `${field}.s.${node}`, 0)];
    }
  }
  return out;
}

export function parseVersions(value: unknown, field: string, limits: ParseLimits): VersionWire[] {
  if (!Array.isArray(value) || value.length > limits.siblingsMax) fail(field, `must be an array of at most ${limits.siblingsMax} versions`);
  return value.map((v, i) => parseVersion(v, `${field}[${i}]`, limits));
}

export function parsePut(body: unknown, limits: ParseLimits): PutMessage {
  const o = object(body, 'body');
  onlyFields(o, 'body', ['key', 'mode', 'version', 'hintFor']);
  const msg: PutMessage = { key: key(o.key), mode: mode(o.mode, limits), version: parseVersion(o.version, 'version', limits) };
  if (o.hintFor !== undefined) msg.hintFor = member(o.hintFor, 'hintFor', limits);
  return msg;
}

/** Parses every put before any is applied, so that a bad batch changes nothing. */
export function parsePutBatch(body: unknown, limits: ParseLimits): PutMessage[] {
  const o = object(body, 'body');
  onlyFields(o, 'body', ['puts']);
  if (!Array.isArray(o.puts) || o.puts.length === 0 || o.puts.length > PUT_BATCH_MAX) fail('puts', `must be an array of 1..${PUT_BATCH_MAX} puts`);
  return o.puts.map((p: unknown, i) => {
    try {
      return parsePut(p, limits);
    } catch (e) {
      if (e instanceof BadRequestError) fail(`puts[${i}]`, e.message);
      throw e;
    }
  });
}

export function parseGet(body: unknown): GetMessage {
  const o = object(body, 'body');
  onlyFields(o, 'body', ['key', 'full']);
  if (o.full !== undefined && typeof o.full !== 'boolean') fail('full', 'must be a boolean');
  return o.full === true ? { key: key(o.key), full: true } : { key: key(o.key) };
}

/** A replica's answer to a read (checked by the coordinator: a peer's bug must not crash it). */
export function parseGetReply(body: unknown, full: boolean, limits: ParseLimits): GetReply {
  const o = object(body, 'reply');
  const reply: GetReply = {
    mode: mode(o.mode, limits),
    digest: hex16(o.digest, 'digest'),
    value: safeInt(o.value, 'value'),
    clock: parseMemberClock(o.clock, 'clock', limits.members),
    siblings: safeInt(o.siblings, 'siblings', 0),
  };
  if (o.keys !== undefined) {
    if (!Array.isArray(o.keys) || o.keys.length > LWW_RECENT_KEYS_MAX || !o.keys.every(isIdempotencyKey)) fail('keys', 'must be idempotency keys');
    reply.keys = o.keys as string[];
  }
  if (full) reply.versions = parseVersions(o.versions, 'versions', limits);
  return reply;
}

export function parseState(body: unknown, limits: ParseLimits): StateMessage {
  const o = object(body, 'body');
  onlyFields(o, 'body', ['key', 'mode', 'versions', 'hintFor']);
  const msg: StateMessage = { key: key(o.key), mode: mode(o.mode, limits), versions: parseVersions(o.versions, 'versions', limits) };
  if (o.hintFor !== undefined) msg.hintFor = member(o.hintFor, 'hintFor', limits);
  return msg;
}

function hex16(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[0-9a-f]{16}$/.test(value)) fail(field, 'must be a 16-digit hex digest');
  return value;
}

export function parseAeBuckets(body: unknown, limits: ParseLimits): AeBucketsMessage {
  const o = object(body, 'body');
  onlyFields(o, 'body', ['mode', 'buckets']);
  if (!Array.isArray(o.buckets) || o.buckets.length !== limits.buckets) fail('buckets', `must be ${limits.buckets} digests`);
  return { mode: mode(o.mode, limits), buckets: o.buckets.map((b, i) => hex16(b, `buckets[${i}]`)) };
}

export function parseAeKeys(body: unknown, limits: ParseLimits): AeKeysMessage {
  const o = object(body, 'body');
  onlyFields(o, 'body', ['mode', 'buckets', 'keys']);
  if (!Array.isArray(o.buckets) || o.buckets.length > limits.buckets) fail('buckets', 'must be an array of bucket numbers');
  const buckets = o.buckets.map((b, i) => {
    const n = safeInt(b, `buckets[${i}]`, 0);
    if (n >= limits.buckets) fail(`buckets[${i}]`, `must be below ${limits.buckets}`);
    return n;
  });
  const keysIn = object(o.keys, 'keys');
  const entries = Object.entries(keysIn);
  if (entries.length > limits.keysPerMessageMax) fail('keys', `at most ${limits.keysPerMessageMax} keys per message`);
  const keys: Record<string, string> = {};
  for (const [k, d] of entries) keys[key(k, 'keys')] = hex16(d, `keys.${k}`);
  return { mode: mode(o.mode, limits), buckets, keys };
}

export function parsePing(body: unknown): Record<string, never> {
  const o = object(body, 'body');
  onlyFields(o, 'body', []);
  return {};
}
