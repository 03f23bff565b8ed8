/**
 * The log of leaderless and CRDT: each group commit is one record whose payload is a msgpack
 * array of the appends' own msgpack payloads. The codec is the caller's, so this package stays
 * free of msgpack.
 */
import { GroupCommitLog } from './group-commit.js';
import { recoverLog } from './recover.js';

export interface Codec {
  pack(value: unknown): Uint8Array;
  unpack(bytes: Uint8Array): unknown;
}

/** The appends of one batch record; a record written before batching (one append) reads as one. */
export function unpackBatch(codec: Pick<Codec, 'unpack'>, payload: Uint8Array): unknown[] {
  const value = codec.unpack(payload);
  // An append is never an array of byte strings, so this tells the two formats apart.
  if (Array.isArray(value) && value.every((item) => item instanceof Uint8Array)) return value.map((item) => codec.unpack(item as Uint8Array));
  return [value];
}

export interface BatchLog {
  /** Appends take `codec.pack(value)`: packed at once, so the caller may reuse the value. */
  readonly log: GroupCommitLog<Uint8Array>;
  /** Every append recovered, in order. */
  readonly records: unknown[];
  readonly truncatedBytes: number;
}

/**
 * Recovers the batch log at `path` (recoverLog: a torn tail is cut, damage refuses) and opens it
 * for appending, flushed in the check phase (group-commit.ts).
 */
export async function openBatchLog(path: string, codec: Codec): Promise<BatchLog> {
  const recovered = await recoverLog(path, { decode: (payload) => unpackBatch(codec, payload) });
  const log = await GroupCommitLog.open<Uint8Array>(path, { flushAt: 'check', encode: (payloads) => codec.pack(payloads) });
  return { log, records: recovered.records.flat(), truncatedBytes: recovered.truncatedBytes };
}
