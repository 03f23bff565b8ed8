import { readFile, stat, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AssertionError } from '@playground/core';
import { LogCorruptError, LogFailedError, readRecordAt } from '@playground/storage';
import { INITIAL_HARD_STATE } from './durable-state.js';
import { MemoryLog } from './memory-log.js';
import { entries, entry, hardState, tempDir } from './test-helpers.js';
import { LOG_FILE_NAME, RaftLogFile, type RaftLogFileOptions } from './wal.js';

let dir: string;
let cleanup: () => Promise<void>;
const warnings: string[] = [];
const quiet: RaftLogFileOptions = { fsync: false, log: (message) => warnings.push(message) };

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  warnings.length = 0;
});
afterEach(async () => cleanup());

async function reopen(options: RaftLogFileOptions = quiet) {
  const opened = await RaftLogFile.open(dir, options);
  await opened.log.close();
  return opened;
}

const fileOf = () => join(dir, LOG_FILE_NAME);

describe('RaftLogFile', () => {
  it('opens empty, with fsync on, and creates the file', async () => {
    const { log, state, recovered } = await RaftLogFile.open(dir);
    expect(state).toEqual({ hardState: INITIAL_HARD_STATE, entries: [] });
    expect(recovered.truncatedTailBytes).toBe(0);
    await log.save(hardState(1, 0, 'n1'), entries(1, 1, 3));
    await log.close();
    expect((await reopen({})).state).toEqual({ hardState: hardState(1, 0, 'n1'), entries: entries(1, 1, 3) });
  });

  it('gives back identical state after close and reopen, hard state included', async () => {
    const { log } = await RaftLogFile.open(dir, quiet);
    await log.save(hardState(1, 0, 'a'), entries(1, 1, 2));
    await log.save(hardState(2, 2, 'b'), entries(2, 3, 5));
    await log.save(hardState(2, 5, 'b'), []);
    await log.close();
    const expected = { hardState: hardState(2, 5, 'b'), entries: [...entries(1, 1, 2), ...entries(2, 3, 5)] };
    expect((await reopen()).state).toEqual(expected);
    expect((await reopen()).state).toEqual(expected); // reopening changes nothing
  });

  it('replays an overwritten suffix the way the follower wrote it (Raft §5.3), like MemoryLog', async () => {
    const memory = new MemoryLog();
    const { log } = await RaftLogFile.open(dir, quiet);
    const saves = [
      [hardState(1, 1), entries(1, 1, 6)],
      [hardState(3, 2), [entry(3, 3), entry(3, 4)]], // cut after 2, a new leader's entries
      [null, [entry(3, 5)]],
      [hardState(4, 2), [entry(4, 4)]], // cut after 3 again
    ] as const;
    for (const [hs, list] of saves) {
      await log.save(hs, list);
      await memory.save(hs, list);
    }
    await log.close();
    const { state } = await reopen();
    expect(state.entries.map((e) => [e.index, e.term])).toEqual([[1, 1], [2, 1], [3, 3], [4, 4]]);
    expect(state).toEqual(memory.state());
  });

  it('fsyncs entries, terms and votes, but not a save that only moves the commit index (written with the next one)', async () => {
    const { log } = await RaftLogFile.open(dir, { ...quiet, fsync: true });
    await log.save(hardState(1, 0, 'n1'), []);
    expect(log.syncs).toBe(1);
    await log.save(null, [entry(1, 1), entry(1, 2)]);
    expect(log.syncs).toBe(2);
    await log.save(hardState(1, 2, 'n1'), []); // commit only: recoverable from the leader
    expect(log.syncs).toBe(2);
    await log.save(hardState(2, 2, null), []); // a new term is a promise: synced
    expect(log.syncs).toBe(3);
    await log.close();
    const { state } = await reopen();
    expect(state.hardState).toEqual(hardState(2, 2, null));
    expect(state.entries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('keeps the order of concurrent saves and resolves them in order', async () => {
    const { log } = await RaftLogFile.open(dir, { ...quiet, fsync: true });
    const resolved: number[] = [];
    const pending: Promise<unknown>[] = [log.save(hardState(1), [])];
    for (let index = 1; index <= 50; index++) {
      const hs = index % 7 === 0 ? hardState(1, index - 1) : null;
      pending.push(log.save(hs, [entry(1, index)]).then(() => resolved.push(index)));
    }
    await Promise.all(pending);
    await log.close();
    expect(resolved).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const { state } = await reopen();
    expect(state.entries.map((e) => e.index)).toEqual(resolved);
    expect(state.hardState).toEqual(hardState(1, 48));
    // Group commit: saves queued behind an in-flight sync share the next record (and sync).
    const bytes = await readFile(fileOf());
    let records = 0;
    for (let at = 8; at < bytes.length; records++) {
      const record = readRecordAt(bytes, at);
      if (!record.ok) throw new Error(record.reason);
      at = record.end;
    }
    expect(records).toBeLessThan(51);
  });

  it('takes a save made the moment the previous one resolves', { timeout: 5000 }, async () => {
    const { log } = await RaftLogFile.open(dir, quiet);
    let chain: Promise<void> = log.save(hardState(1), []);
    for (let index = 1; index <= 100; index++) chain = chain.then(() => log.save(null, [entry(1, index)]));
    await chain;
    await log.close();
    expect((await reopen()).state.entries).toHaveLength(100);
  });

  it('recovers a torn tail cut at every byte of the last record, entries before it intact', async () => {
    const { log } = await RaftLogFile.open(dir, quiet);
    await log.save(hardState(1, 1, 'a'), entries(1, 1, 3));
    const goodBytes = (await stat(fileOf())).size;
    await log.save(hardState(2, 3, 'b'), entries(2, 4, 6));
    await log.close();
    const full = await readFile(fileOf());
    const before = { hardState: hardState(1, 1, 'a'), entries: entries(1, 1, 3) };
    for (let cut = goodBytes; cut < full.length; cut++) {
      await writeFile(fileOf(), full.subarray(0, cut));
      const { state, recovered } = await reopen();
      expect(state, `cut at ${cut}`).toEqual(before);
      expect(recovered.truncatedTailBytes).toBe(cut - goodBytes);
      expect((await stat(fileOf())).size).toBe(goodBytes);
    }
    expect(warnings.some((w) => w.includes('torn tail'))).toBe(true);
  });

  it('recovers a last record with a flipped byte, or a zeroed tail, and appends after it', async () => {
    const { log } = await RaftLogFile.open(dir, quiet);
    await log.save(hardState(1), entries(1, 1, 2));
    const goodBytes = (await stat(fileOf())).size;
    await log.save(null, entries(1, 3, 4));
    await log.close();
    const full = await readFile(fileOf());
    for (let at = goodBytes; at < full.length; at++) {
      const bad = Buffer.from(full);
      bad[at] = (bad[at] as number) ^ 0x40;
      await writeFile(fileOf(), bad);
      expect((await reopen()).state.entries, `flip at ${at}`).toEqual(entries(1, 1, 2));
    }
    await appendFile(fileOf(), Buffer.alloc(4096)); // what a crash after a size update leaves
    const { log: again, recovered } = await RaftLogFile.open(dir, quiet);
    expect(recovered.truncatedTailBytes).toBe(4096);
    await again.save(null, [entry(1, 3)]);
    await again.close();
    expect((await reopen()).state.entries).toEqual([...entries(1, 1, 2), entry(1, 3)]);
  });

  it('refuses to open on corruption in the middle, naming the file and the byte offset', async () => {
    const { log } = await RaftLogFile.open(dir, quiet);
    await log.save(hardState(1), entries(1, 1, 2));
    const secondAt = (await stat(fileOf())).size;
    await log.save(null, entries(1, 3, 4));
    await log.save(null, entries(1, 5, 6));
    await log.close();
    const bad = await readFile(fileOf());
    bad[secondAt + 12] = (bad[secondAt + 12] as number) ^ 0xff;
    await writeFile(fileOf(), bad);
    const opening = RaftLogFile.open(dir, quiet);
    await expect(opening).rejects.toBeInstanceOf(LogCorruptError);
    await expect(opening).rejects.toThrow(`${fileOf()}: corrupt at byte ${secondAt}`);
    expect(await readFile(fileOf())).toEqual(bad); // nothing was cut
  });

  it('refuses a file that is not a raft log', async () => {
    await writeFile(fileOf(), 'hello, world');
    await expect(RaftLogFile.open(dir, quiet)).rejects.toThrow(/corrupt at byte 0: expected the header "RAFTLOG1"/);
  });

  it('refuses every save after a save breaks an invariant', async () => {
    const { log } = await RaftLogFile.open(dir, quiet);
    await log.save(hardState(1, 1), entries(1, 1, 2));
    await expect(log.save(null, [entry(1, 4)])).rejects.toBeInstanceOf(AssertionError); // a gap
    await expect(log.save(null, [entry(1, 3)])).rejects.toBeInstanceOf(LogFailedError);
    await log.close();
    expect((await reopen()).state.entries).toEqual(entries(1, 1, 2));
  });

  it('fails the save and every later one when the disk write fails', async () => {
    const { log } = await RaftLogFile.open(dir, quiet);
    await log.save(hardState(1), [entry(1, 1)]);
    // Simulate a dead disk: the descriptor goes away under the log.
    await (log as unknown as { file: { handle: { close(): Promise<void> } } }).file.handle.close();
    const first = log.save(null, [entry(1, 2)]);
    const queued = log.save(null, [entry(1, 3)]);
    await expect(first).rejects.toBeInstanceOf(LogFailedError);
    await expect(queued).rejects.toBeInstanceOf(LogFailedError);
    await expect(log.save(null, [entry(1, 4)])).rejects.toThrow(/refused an append after an earlier failure/);
  });

  it('compacts a file made mostly of overwritten suffixes, keeping the state', async () => {
    const { log } = await RaftLogFile.open(dir, quiet);
    await log.save(hardState(1, 1), entries(1, 1, 2));
    for (let term = 2; term <= 60; term++) await log.save(hardState(term, 1), entries(term, 2, 40));
    await log.close();
    const before = (await stat(fileOf())).size;
    const { state, recovered } = await reopen({ ...quiet, compactMinBytes: 1024 });
    expect(recovered.compactedBytes).toBeGreaterThan(before / 2);
    expect((await stat(fileOf())).size).toBe(before - recovered.compactedBytes);
    expect(state).toEqual({ hardState: hardState(60, 1), entries: [...entries(1, 1, 1), ...entries(60, 2, 40)] });
    expect((await reopen({ ...quiet, compactMinBytes: 1024 })).state).toEqual(state);
  });
});

describe('MemoryLog', () => {
  it('checks saves like the file: no committed entry is overwritten, one vote per term', async () => {
    const log = new MemoryLog();
    await log.save(hardState(2, 2, 'a'), entries(2, 1, 3));
    await expect(log.save(null, [entry(2, 2)])).rejects.toThrow(/at or below commit 2/);
    await expect(log.save(hardState(2, 2, 'b'), [])).rejects.toThrow(/vote changed within term 2/);
    await expect(log.save(hardState(2, 4, 'a'), [])).rejects.toThrow(/beyond the last index 3/);
    await expect(log.save(hardState(1, 2, 'a'), [])).rejects.toThrow(/term went backwards/);
    await expect(log.save(null, [entry(3, 4)])).rejects.toThrow(/beyond the current term 2/);
    expect(log.state()).toEqual({ hardState: hardState(2, 2, 'a'), entries: entries(2, 1, 3) });
  });
});
