/**
 * Validation of Raft messages from peers. The sender is authenticated (HMAC), but a message is
 * still untrusted in shape: a malformed one is refused with a 400 and never reaches the core.
 */
import { BadRequestError, isCounterKey, isIdempotencyKey, isNodeId, type NodeId } from '@playground/core';
import type { Command, Entry, Message } from './core/types.js';

/** Bound on messages in one peer request (a batch of appends, votes and responses). */
export const MAX_MESSAGES_PER_REQUEST = 4096;
/** Bound on entries in one append; matches the largest batch a leader may send. */
export const MAX_ENTRIES_PER_APPEND = 8192;
const MAX_ABS_DELTA = Number.MAX_SAFE_INTEGER;

type Raw = Record<string, unknown>;

function fail(field: string, message: string): never {
  throw new BadRequestError(field, message);
}

function index(raw: Raw, field: string): number {
  const v = raw[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(field, 'must be a non-negative integer');
  return v;
}

function bool(raw: Raw, field: string): boolean {
  const v = raw[field];
  if (typeof v !== 'boolean') fail(field, 'must be a boolean');
  return v;
}

function contextOf(raw: Raw): string | null {
  const v = raw.context;
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string' || v.length > 256) fail('context', 'must be null or a string of at most 256 characters');
  return v;
}

export function parseCommand(raw: unknown): Command | null {
  if (raw === null || raw === undefined) return null;
  if (typeof raw !== 'object') fail('command', 'must be null or an object');
  const c = raw as Raw;
  if (c.kind !== 'incr') fail('command.kind', 'must be "incr"');
  if (!isCounterKey(c.key)) fail('command.key', 'is not a valid counter key');
  if (typeof c.delta !== 'number' || !Number.isSafeInteger(c.delta) || Math.abs(c.delta) > MAX_ABS_DELTA) {
    fail('command.delta', 'must be a safe integer');
  }
  if (c.idem !== undefined && !isIdempotencyKey(c.idem)) fail('command.idem', 'is not a valid idempotency key');
  if (typeof c.proposedAtMs !== 'number' || !Number.isFinite(c.proposedAtMs)) fail('command.proposedAtMs', 'must be a number');
  return c.idem === undefined
    ? { kind: 'incr', key: c.key, delta: c.delta, proposedAtMs: c.proposedAtMs }
    : { kind: 'incr', key: c.key, delta: c.delta, idem: c.idem as string, proposedAtMs: c.proposedAtMs };
}

function parseEntries(raw: unknown, prevIndex: number): Entry[] {
  if (!Array.isArray(raw)) fail('entries', 'must be an array');
  if (raw.length > MAX_ENTRIES_PER_APPEND) fail('entries', `at most ${MAX_ENTRIES_PER_APPEND} per append`);
  return raw.map((e: unknown, i: number) => {
    if (e === null || typeof e !== 'object') fail(`entries[${i}]`, 'must be an object');
    const entry = e as Raw;
    const idx = index(entry, 'index');
    if (idx !== prevIndex + 1 + i) fail(`entries[${i}].index`, `must be ${prevIndex + 1 + i} (entries are contiguous after prevIndex)`);
    return { term: index(entry, 'term'), index: idx, command: parseCommand(entry.command) };
  });
}

/** Parses one peer request body: an array of messages, each from `from` to `self`. */
export function parseMessages(body: unknown, from: NodeId, self: NodeId): Message[] {
  if (!Array.isArray(body)) fail('body', 'must be an array of Raft messages');
  if (body.length > MAX_MESSAGES_PER_REQUEST) fail('body', `at most ${MAX_MESSAGES_PER_REQUEST} messages per request`);
  return body.map((m: unknown) => parseMessage(m, from, self));
}

function parseMessage(value: unknown, from: NodeId, self: NodeId): Message {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('message', 'must be an object');
  const raw = value as Raw;
  if (raw.from !== from) fail('from', `must be the authenticated sender ${from}`);
  if (raw.to !== self) fail('to', `must be this node (${self})`);
  if (!isNodeId(raw.from)) fail('from', 'is not a node id');
  const term = index(raw, 'term');
  const base = { from, to: self, term };
  switch (raw.type) {
    case 'vote':
    case 'prevote':
      return { ...base, type: raw.type, lastLogIndex: index(raw, 'lastLogIndex'), lastLogTerm: index(raw, 'lastLogTerm') };
    case 'vote_resp':
    case 'prevote_resp':
      return { ...base, type: raw.type, granted: bool(raw, 'granted') };
    case 'app': {
      const prevIndex = index(raw, 'prevIndex');
      return {
        ...base,
        type: 'app',
        prevIndex,
        prevTerm: index(raw, 'prevTerm'),
        entries: parseEntries(raw.entries, prevIndex),
        commit: index(raw, 'commit'),
      };
    }
    case 'app_resp':
      return {
        ...base,
        type: 'app_resp',
        reject: bool(raw, 'reject'),
        index: index(raw, 'index'),
        hintTerm: index(raw, 'hintTerm'),
        hintIndex: index(raw, 'hintIndex'),
      };
    case 'hb':
      return { ...base, type: 'hb', commit: index(raw, 'commit'), context: contextOf(raw) };
    case 'hb_resp':
      return { ...base, type: 'hb_resp', context: contextOf(raw) };
    default:
      fail('type', `unknown Raft message type ${JSON.stringify(raw.type)}`);
  }
}
