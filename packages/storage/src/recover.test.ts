import { appendFile, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { frameRecord } from './record.js';
import { LogCorruptError, recoverLog, scanRecords } from './recover.js';
import { asText, tempDir, text } from './test-helpers.js';

const HEADER = Buffer.from('TESTLOG1', 'latin1');
const decode = asText;

/** A log file holding `values`, one record each, after HEADER; returns its path and where each record starts. */
async function logOf(values: readonly string[]): Promise<{ path: string; offsets: number[]; bytes: Buffer }> {
  const path = join(await tempDir(), 'test.log');
  const offsets: number[] = [];
  let at = HEADER.length;
  const records = values.map((value) => {
    const record = frameRecord(text(value));
    offsets.push(at);
    at += record.length;
    return record;
  });
  const bytes = Buffer.concat([HEADER, ...records]);
  await writeFile(path, bytes);
  return { path, offsets, bytes };
}

describe('recoverLog', () => {
  it('creates a missing file holding just the header, and reads it back empty', async () => {
    const path = join(await tempDir(), 'new.log');
    expect(await recoverLog(path, { header: HEADER, decode })).toEqual({ records: [], validBytes: HEADER.length, truncatedBytes: 0, tailReason: null });
    expect(await readFile(path)).toEqual(HEADER);
    expect((await recoverLog(path, { header: HEADER, decode })).records).toEqual([]);
  });

  it('creates an empty file when there is no header', async () => {
    const path = join(await tempDir(), 'new.log');
    expect((await recoverLog(path, { decode })).validBytes).toBe(0);
    expect((await stat(path)).size).toBe(0);
  });

  it('reads every record in order', async () => {
    const { path, bytes } = await logOf(['one', 'two', 'three']);
    const recovered = await recoverLog(path, { header: HEADER, decode });
    expect(recovered).toEqual({ records: ['one', 'two', 'three'], validBytes: bytes.length, truncatedBytes: 0, tailReason: null });
  });

  it('cuts a torn tail at every byte of the last record, keeping the records before it', async () => {
    const { path, offsets, bytes } = await logOf(['one', 'two', 'three']);
    const lastAt = offsets[2] as number;
    for (let cut = lastAt + 1; cut < bytes.length; cut++) {
      await writeFile(path, bytes.subarray(0, cut));
      const recovered = await recoverLog(path, { header: HEADER, decode });
      expect(recovered.records, `cut at ${cut}`).toEqual(['one', 'two']);
      expect(recovered.truncatedBytes).toBe(cut - lastAt);
      expect(recovered.tailReason).toMatch(/^short (header|record)/);
      expect((await stat(path)).size).toBe(lastAt);
    }
  });

  it('cuts a last record with a flipped byte, and a zeroed tail', async () => {
    const { path, offsets, bytes } = await logOf(['one', 'two']);
    const lastAt = offsets[1] as number;
    for (let at = lastAt; at < bytes.length; at++) {
      const bad = Buffer.from(bytes);
      bad[at] = (bad[at] as number) ^ 0x40;
      await writeFile(path, bad);
      expect((await recoverLog(path, { header: HEADER, decode })).records, `flip at ${at}`).toEqual(['one']);
    }
    await appendFile(path, Buffer.alloc(4096)); // what a crash after a size update leaves
    const recovered = await recoverLog(path, { header: HEADER, decode });
    expect(recovered).toMatchObject({ records: ['one'], truncatedBytes: 4096, tailReason: 'implausible length 0' });
  });

  it('refuses corruption in the middle, naming the file and the byte offset, and changes nothing', async () => {
    const { path, offsets, bytes } = await logOf(['one', 'two', 'three']);
    const secondAt = offsets[1] as number;
    const bad = Buffer.from(bytes);
    bad[secondAt + 9] = (bad[secondAt + 9] as number) ^ 0xff;
    await writeFile(path, Buffer.concat([bad, Buffer.from([1, 2, 3])])); // and a torn tail
    const recovering = recoverLog(path, { header: HEADER, decode });
    await expect(recovering).rejects.toBeInstanceOf(LogCorruptError);
    await expect(recovering).rejects.toThrow(`${path}: corrupt at byte ${secondAt}: crc mismatch`);
    await expect(recovering).rejects.toMatchObject({ file: path, offset: secondAt });
    await expect(recovering).rejects.toThrow(`a valid record follows at byte ${offsets[2]}`);
    expect(await readFile(path)).toEqual(Buffer.concat([bad, Buffer.from([1, 2, 3])]));
  });

  it('refuses a record whose checksum holds but that decode rejects', async () => {
    const { path, offsets, bytes } = await logOf(['one', 'not a value', 'three']);
    const recovering = recoverLog(path, {
      header: HEADER,
      decode: (payload) => {
        const value = asText(payload);
        if (value.includes(' ')) throw new Error('no spaces here');
        return value;
      },
    });
    await expect(recovering).rejects.toThrow(`${path}: corrupt at byte ${offsets[1]}: checksum ok, yet the record makes no sense: no spaces here`);
    expect(await readFile(path)).toEqual(bytes);
  });

  it('refuses a file without the header', async () => {
    const path = join(await tempDir(), 'other.log');
    await writeFile(path, 'hello, world');
    await expect(recoverLog(path, { header: HEADER, decode })).rejects.toThrow(`${path}: corrupt at byte 0: expected the header "TESTLOG1"`);
    await writeFile(path, 'TEST');
    await expect(recoverLog(path, { header: HEADER, decode })).rejects.toBeInstanceOf(LogCorruptError);
  });

  it('removes the temp file of a rewrite that crashed before its rename', async () => {
    const { path } = await logOf(['one']);
    await writeFile(`${path}.tmp`, 'half a rewrite');
    expect((await recoverLog(path, { header: HEADER, decode })).records).toEqual(['one']);
    expect(await readdir(join(path, '..'))).toEqual(['test.log']);
  });
});

describe('scanRecords', () => {
  it('starts where it is told and reports where the valid records end', () => {
    const bytes = Buffer.concat([Buffer.from('hdr'), frameRecord(text('a')), frameRecord(text('b')), Buffer.from([9, 0])]);
    const scanned = scanRecords('f', bytes, 3);
    expect(scanned.records.map((record) => [record.offset, asText(record.payload)])).toEqual([[3, 'a'], [12, 'b']]);
    expect(scanned.validBytes).toBe(21);
    expect(scanned.tailReason).toBe('short header (2 bytes)');
  });
});
