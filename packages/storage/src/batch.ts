/**
 * A group commit written as ONE record (leaderless, CRDT): the record's payload is a msgpack
 * array of the appends' own msgpack payloads, `frameRecord(packr.pack(payloads))`. One record
 * per fdatasync means a crash can tear only the last record, so recovery may call anything
 * else damage (recover.ts). The codec is the caller's, so this package stays free of msgpack.
 */
export interface Unpacker {
  unpack(bytes: Uint8Array): unknown;
}

/** The appends of one batch record; a record written before batching (one append) reads as one. */
export function unpackBatch(codec: Unpacker, payload: Uint8Array): unknown[] {
  const value = codec.unpack(payload);
  // An append is never an array of byte strings, so this tells the two formats apart.
  if (Array.isArray(value) && value.every((item) => item instanceof Uint8Array)) return value.map((item) => codec.unpack(item as Uint8Array));
  return [value];
}
