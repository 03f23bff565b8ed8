import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { frameRecord, LogCorruptError } from '@playground/storage';
import { CounterCrdt } from './core/counter.js';
import { LocalWriter } from './core/local.js';
import { WireParser } from './core/wire.js';
import { encodeRecord, encodeSnapshot, recover } from './persist.js';
import { CrdtStore } from './store.js';

const members = ['n1', 'n2', 'n3'];
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'crdt-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function fresh(): { crdt: CounterCrdt; writer: LocalWriter; parser: WireParser } {
  const crdt = new CounterCrdt({ self: 'n1', members, mode: 'pn', maxTombstones: 100, maxChangeLog: 1000 });
  return { crdt, writer: new LocalWriter(crdt), parser: new WireParser(members, 'pn') };
}

/** What a node does: append, fsync, then merge. */
async function write(store: CrdtStore, crdt: CounterCrdt, delta: Parameters<CounterCrdt['merge']>[0]): Promise<void> {
  await store.append(encodeRecord(delta));
  crdt.merge(delta);
}

async function reopen(): Promise<{ crdt: CounterCrdt; store: CrdtStore; truncatedBytes: number }> {
  const store = new CrdtStore(dir);
  const { snapshot, records, truncatedBytes } = await store.open();
  const { crdt, parser } = fresh();
  recover(crdt, parser, snapshot, records);
  return { crdt, store, truncatedBytes };
}

/** Writes one plain increment of 'a' per amount and closes the store: the log's path, and where each record starts. */
async function logOf(amounts: readonly number[]): Promise<{ wal: string; offsets: number[] }> {
  const store = new CrdtStore(dir);
  await store.open();
  const { crdt, writer } = fresh();
  const offsets: number[] = [];
  for (const amount of amounts) {
    offsets.push(store.logBytes);
    await write(store, crdt, writer.preparePlain('a', amount));
  }
  await store.close();
  return { wal: join(dir, 'crdt-wal.log'), offsets };
}

/** Flips every bit of the byte at `at`; returns the file's new contents. */
async function flipByte(path: string, at: number): Promise<Buffer> {
  const bytes = await readFile(path);
  bytes[at] = (bytes[at] as number) ^ 0xff;
  await writeFile(path, bytes);
  return bytes;
}

describe('crdt store', () => {
  it('recovers every acknowledged increment after a restart, with one fsync per group of concurrent appends', async () => {
    const store = new CrdtStore(dir);
    await store.open();
    const { crdt, writer } = fresh();
    await Promise.all(Array.from({ length: 50 }, (_, i) => write(store, crdt, i % 2 ? writer.preparePlain('a', 2) : writer.prepareDot('a', 1, `k${i}`).delta)));
    expect(crdt.value('a')).toBe(25 * 2 + 25);
    expect(store.fsyncCount).toBeLessThan(10);
    await store.close();
    const again = await reopen();
    expect(again.crdt.value('a')).toBe(75);
    expect(again.crdt.lookupIdem('k0')).toBeDefined();
    expect(again.crdt.highestOwnSeq()).toBe(25);
    await again.store.close();
  });

  it('cuts a torn tail and keeps everything before it', async () => {
    const { wal } = await logOf([1, 1, 1, 1, 1]);
    const torn = frameRecord(pack(encodeRecord(fresh().writer.preparePlain('a', 100)))).subarray(0, 7);
    await appendFile(wal, torn);
    const again = await reopen();
    expect(again.truncatedBytes).toBe(7);
    expect(again.crdt.value('a')).toBe(5);
    await write(again.store, again.crdt, new LocalWriter(again.crdt).preparePlain('a', 1));
    await again.store.close();
    const third = await reopen();
    expect(third.crdt.value('a')).toBe(6);
    await third.store.close();
  });

  it('cuts a last record whose checksum does not match (a torn write)', async () => {
    const { wal } = await logOf([1, 10, 100]);
    await flipByte(wal, (await stat(wal)).size - 1);
    const again = await reopen();
    expect(again.crdt.value('a')).toBe(11);
    expect(again.truncatedBytes).toBeGreaterThan(0);
    await again.store.close();
  });

  it('writes the appends of one turn as one record: damage anywhere in it (a torn write) loses that batch only', async () => {
    const store = new CrdtStore(dir);
    await store.open();
    const { crdt, writer } = fresh();
    await write(store, crdt, writer.preparePlain('a', 1));
    const batchAt = store.logBytes;
    await Promise.all([10, 100, 1000].map((amount) => write(store, crdt, writer.preparePlain('a', amount))));
    await store.close();
    const wal = join(dir, 'crdt-wal.log');
    const size = (await flipByte(wal, batchAt + 10)).length; // the batch's first bytes torn, its later pages whole
    const again = await reopen();
    expect(again.crdt.value('a')).toBe(1);
    expect(again.truncatedBytes).toBe(size - batchAt);
    expect((await stat(wal)).size).toBe(batchAt);
    await again.store.close();
  });

  it('refuses to start on corruption in the middle of the log, naming the file and the byte offset, and cuts nothing', async () => {
    const { wal, offsets } = await logOf([1, 10, 100]);
    const secondAt = offsets[1] as number;
    const bytes = await flipByte(wal, secondAt + 10);
    const again = new CrdtStore(dir);
    const opening = again.open();
    await expect(opening).rejects.toBeInstanceOf(LogCorruptError);
    await expect(opening).rejects.toThrow(`${wal}: corrupt at byte ${secondAt}: crc mismatch`);
    expect(() => again.append(encodeRecord(fresh().writer.preparePlain('a', 1)))).toThrow(/store is not open/);
    expect(await readFile(wal)).toEqual(bytes); // nothing cut: the third increment was acknowledged
  });

  it('snapshots, truncates the log, and recovers snapshot + later records (tombstones included)', async () => {
    const store = new CrdtStore(dir);
    await store.open();
    const { crdt, writer } = fresh();
    await write(store, crdt, writer.prepareDot('a', 3, 'k1').delta);
    await write(store, crdt, writer.preparePlain('b', -4));
    // Fold n1's dot as if every member had reported it: it becomes a tombstone.
    await write(store, crdt, { plain: [], dots: [], compacted: crdt.planCompaction(new Map([['n1', 1]])) });
    expect(crdt.tombstoneCount).toBe(1);
    await store.snapshot(encodeSnapshot(crdt));
    expect((await stat(join(dir, 'crdt-wal.log'))).size).toBe(0);
    await write(store, crdt, writer.preparePlain('a', 10));
    await store.close();
    const again = await reopen();
    expect(again.crdt.value('a')).toBe(13);
    expect(again.crdt.value('b')).toBe(-4);
    expect(again.crdt.lookupIdem('k1')?.folded).toBe(true);
    expect(again.crdt.highestOwnSeq()).toBe(1);
    await again.store.close();
  });

  it('refuses to start from a damaged snapshot', async () => {
    await writeFile(join(dir, 'crdt-snapshot.bin'), Buffer.from('not a snapshot at all'));
    await expect(new CrdtStore(dir).open()).rejects.toThrow(/corrupt/);
    expect((await readFile(join(dir, 'crdt-snapshot.bin'))).length).toBeGreaterThan(0);
  });
});
