import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LogCorruptError } from '@playground/storage';
import { Replica } from './core/replica.js';
import { Store } from './store.js';
import type { WalRecord } from './store.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'leaderless-store-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

const empty = { objects: [], hints: [], own: [] };
/** A store that never compacts (the tests that compact say so). */
const storeIn = (dir: string): Store => new Store({ dir, compactBytes: 1 << 30, snapshot: () => empty });
/** A closed store in a fresh directory that appended `records` one by one: that directory. */
async function dirHolding(records: readonly WalRecord[]): Promise<string> {
  const dir = await tempDir();
  const store = storeIn(dir);
  await store.open();
  for (const record of records) await store.append(record);
  await store.close();
  return dir;
}
const put = (i: number): WalRecord => ({ t: 'put', m: { key: `k${i % 3}`, mode: 'merge', version: { c: { n1: i + 1 }, d: [[`k:id${i}`, 1]] } } });

describe('Store', () => {
  it('gives back every acknowledged record after a restart, batching fsyncs', async () => {
    const dir = await tempDir();
    const store = storeIn(dir);
    expect((await store.open()).records).toEqual([]);
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.append(put(i))));
    expect(store.records).toBe(200);
    expect(store.fsyncs).toBeLessThan(200); // group commit
    await store.close();
    const again = storeIn(dir);
    const { records } = await again.open();
    expect(records).toEqual(Array.from({ length: 200 }, (_, i) => put(i)));
    await again.close();
  });

  it('cuts a torn tail off and keeps what precedes it', async () => {
    const dir = await dirHolding([put(1), put(2)]);
    await appendFile(join(dir, 'leaderless.wal'), Buffer.from([40, 0, 0, 0, 1, 2, 3, 4, 5])); // half a record
    const again = storeIn(dir);
    const { records, truncatedBytes } = await again.open();
    expect(records).toEqual([put(1), put(2)]);
    expect(truncatedBytes).toBe(9);
    await again.append(put(3));
    await again.close();
    const third = storeIn(dir);
    expect((await third.open()).records).toEqual([put(1), put(2), put(3)]);
    await third.close();
  });

  it('cuts a last record whose checksum does not match (a torn append)', async () => {
    const dir = await dirHolding([put(1), put(2)]);
    const path = join(dir, 'leaderless.wal');
    const bytes = await readFile(path);
    bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0xff;
    await writeFile(path, bytes);
    const again = storeIn(dir);
    expect((await again.open()).records).toEqual([put(1)]);
    await again.close();
  });

  it('writes the appends of one turn as one record, so a crash tearing any byte of it loses that batch and refuses nothing', async () => {
    const dir = await tempDir();
    const store = storeIn(dir);
    await store.open();
    await store.append(put(0));
    const batchAt = (await stat(store.path)).size;
    await Promise.all([1, 2, 3, 4].map((i) => store.append(put(i))));
    await store.close();
    const bytes = await readFile(store.path);
    expect(bytes.readUInt32LE(batchAt) + 8).toBe(bytes.length - batchAt); // one record holds all four
    // A torn write can damage any page of the batch, the first included, and leave later ones whole.
    bytes[batchAt + 12] = (bytes[batchAt + 12] as number) ^ 0xff;
    await writeFile(store.path, bytes);
    const again = storeIn(dir);
    expect(await again.open()).toEqual({ records: [put(0)], truncatedBytes: bytes.length - batchAt });
    await again.close();
  });

  it('refuses to open on corruption in the middle, naming the file and the byte offset, and cuts nothing', async () => {
    const dir = await tempDir();
    const store = storeIn(dir);
    await store.open();
    await store.append(put(1));
    const secondAt = (await stat(store.path)).size;
    await store.append(put(2));
    await store.append(put(3));
    await store.close();
    const bytes = await readFile(store.path);
    bytes[secondAt + 12] = (bytes[secondAt + 12] as number) ^ 0xff;
    await writeFile(store.path, bytes);
    const again = storeIn(dir);
    const opening = again.open();
    await expect(opening).rejects.toBeInstanceOf(LogCorruptError);
    await expect(opening).rejects.toThrow(`${store.path}: corrupt at byte ${secondAt}: crc mismatch`);
    await expect(again.append(put(4))).rejects.toThrow(/store is not open/);
    expect(await readFile(store.path)).toEqual(bytes); // nothing cut: put(3) is acknowledged data
  });

  it('compacts into a snapshot from which a replica recovers the same state', async () => {
    const dir = await tempDir();
    const config = { self: 'n1', mode: 'merge' as const, siblingsMax: 8, dotsMax: 1000, keysMax: 100, hintMax: 100, buckets: 16 };
    const replica = new Replica(config);
    const store = new Store({ dir, compactBytes: 2048, snapshot: () => replica.snapshot() });
    await store.open();
    for (let i = 0; i < 100; i++) {
      const record = put(i);
      if (record.t === 'put') replica.applyPut(record.m);
      await store.append(record);
    }
    await store.close();
    expect((await stat(join(dir, 'leaderless.wal'))).size).toBeLessThan(4096);
    const again = new Store({ dir, compactBytes: 2048, snapshot: () => empty });
    const { records } = await again.open();
    expect(records[0]?.t).toBe('snap');
    const recovered = new Replica(config);
    for (const r of records) {
      if (r.t === 'snap') recovered.restore(r.s);
      else if (r.t === 'put') recovered.applyPut(r.m, true);
    }
    expect(recovered.object('k0')?.value()).toBe(34);
    expect(recovered.snapshot()).toEqual(replica.snapshot());
    await again.close();
  });
});
