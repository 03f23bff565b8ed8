import { describe, expect, it } from 'vitest';
import { AssertionError } from '@playground/core';
import { findValidRecord, frameRecord, readRecordAt, RECORD_HEADER_BYTES } from './record.js';

describe('record framing', () => {
  it('reads back what it framed, record after record', () => {
    const payloads = [Buffer.from([1]), Buffer.from('hello, world'), Buffer.alloc(70_000, 7)];
    const bytes = Buffer.concat(payloads.map((payload) => frameRecord(payload)));
    let offset = 0;
    for (const payload of payloads) {
      const record = readRecordAt(bytes, offset);
      if (!record.ok) throw new Error(record.reason);
      expect(Buffer.from(record.payload).equals(payload)).toBe(true);
      expect(record.end).toBe(offset + RECORD_HEADER_BYTES + payload.length);
      offset = record.end;
    }
    expect(offset).toBe(bytes.length);
  });

  it('is [u32 length][u32 crc32][payload], little-endian', () => {
    // crc32("a") = 0xe8b7be43
    expect(frameRecord(Buffer.from('a'))).toEqual(Buffer.from([1, 0, 0, 0, 0x43, 0xbe, 0xb7, 0xe8, 0x61]));
  });

  it('refuses to frame an empty payload (recovery would take it for a torn header)', () => {
    expect(() => frameRecord(Buffer.alloc(0))).toThrow(AssertionError);
  });

  it('says why a record is not one', () => {
    const good = frameRecord(Buffer.from('payload'));
    expect(readRecordAt(good.subarray(0, 5), 0)).toEqual({ ok: false, reason: 'short header (5 bytes)' });
    expect(readRecordAt(Buffer.alloc(16), 0)).toEqual({ ok: false, reason: 'implausible length 0' });
    expect(readRecordAt(good.subarray(0, good.length - 1), 0)).toMatchObject({ ok: false, reason: expect.stringMatching(/^short record/) });
    const flipped = Buffer.from(good);
    flipped[good.length - 1] = (flipped[good.length - 1] as number) ^ 1;
    expect(readRecordAt(flipped, 0)).toMatchObject({ ok: false, reason: expect.stringMatching(/^crc mismatch/) });
  });

  it('finds the next valid record after garbage, or none', () => {
    const record = frameRecord(Buffer.from('after the damage'));
    const bytes = Buffer.concat([Buffer.from('garbage!!'), record]);
    expect(findValidRecord(bytes, 0)).toBe(9);
    expect(findValidRecord(bytes, 10)).toBeNull();
    expect(findValidRecord(Buffer.alloc(4096), 0)).toBeNull();
  });
});
