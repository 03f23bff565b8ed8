/**
 * Record framing of every log file: `[u32 length][u32 crc32 of payload][payload]`, little-endian.
 * A record is the unit of atomicity: recovery keeps it whole or not at all.
 */
import { assert, crc32 } from '@playground/core';

export const RECORD_HEADER_BYTES = 8;
/** Larger lengths are garbage (a torn or corrupt header), not records. */
export const MAX_RECORD_PAYLOAD_BYTES = 256 * 1024 * 1024;

/** Frames `payload` as one record. Throws AssertionError on an empty or oversized payload (recovery would not read it back). */
export function frameRecord(payload: Uint8Array): Buffer {
  assert(payload.length > 0, 'a record needs a payload');
  assert(payload.length <= MAX_RECORD_PAYLOAD_BYTES, () => `a record of ${payload.length} bytes is over the bound of ${MAX_RECORD_PAYLOAD_BYTES}`);
  const record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(crc32(payload), 4);
  record.set(payload, RECORD_HEADER_BYTES);
  return record;
}

export type RecordRead =
  | { readonly ok: true; readonly payload: Uint8Array; readonly end: number }
  | { readonly ok: false; readonly reason: string };

export function readRecordAt(bytes: Buffer, offset: number): RecordRead {
  const remaining = bytes.length - offset;
  if (remaining < RECORD_HEADER_BYTES) return { ok: false, reason: `short header (${remaining} bytes)` };
  const length = bytes.readUInt32LE(offset);
  // An empty payload is never written (frameRecord refuses one), and a zeroed header (length 0,
  // crc 0 = crc32 of nothing) is what a torn append often leaves behind.
  if (length === 0 || length > MAX_RECORD_PAYLOAD_BYTES) return { ok: false, reason: `implausible length ${length}` };
  const end = offset + RECORD_HEADER_BYTES + length;
  if (end > bytes.length) return { ok: false, reason: `short record (${length} bytes claimed, ${remaining - RECORD_HEADER_BYTES} present)` };
  const expected = bytes.readUInt32LE(offset + 4);
  const actual = crc32(bytes, offset + RECORD_HEADER_BYTES, end);
  if (actual !== expected) return { ok: false, reason: `crc mismatch (stored ${expected}, computed ${actual})` };
  return { ok: true, payload: bytes.subarray(offset + RECORD_HEADER_BYTES, end), end };
}

/**
 * The first offset at or after `from` where a valid record starts, or null. Tells a torn tail
 * (nothing valid after the bad record) from corruption in the middle. Slow (it tries every
 * byte) but it runs only on a bad record at open, and implausible lengths are rejected at once.
 */
export function findValidRecord(bytes: Buffer, from: number): number | null {
  for (let offset = from; offset + RECORD_HEADER_BYTES < bytes.length; offset++) {
    if (readRecordAt(bytes, offset).ok) return offset;
  }
  return null;
}
