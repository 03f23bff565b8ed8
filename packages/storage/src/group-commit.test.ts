import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GroupCommitLog, LogFailedError, type FlushPoint, type GroupCommitOptions } from './group-commit.js';
import { frameRecord } from './record.js';
import { recoverLog } from './recover.js';
import { asText, tempDir, text } from './test-helpers.js';

/** A batch's record holds its appends one per line (the appends hold no newline). */
const perAppend = (flushAt: FlushPoint = 'check'): GroupCommitOptions<string> => ({
  flushAt,
  encode: (batch) => text(batch.join('\n')),
});

async function openLog(options: GroupCommitOptions<string> = perAppend()): Promise<{ log: GroupCommitLog<string>; path: string }> {
  const path = join(await tempDir(), 'test.log');
  await writeFile(path, '');
  return { log: await GroupCommitLog.open(path, options), path };
}

/** Every append in the file, in order. */
const contents = async (path: string): Promise<string[]> => (await recoverLog(path, { decode: (payload) => asText(payload).split('\n') })).records.flat();

describe('GroupCommitLog', () => {
  it('writes the appends of one turn in one write and one fdatasync, resolving each after it', async () => {
    const { log, path } = await openLog();
    const values = Array.from({ length: 50 }, (_, i) => `v${i}`);
    const settled: string[] = [];
    await Promise.all(values.map((value) => log.append(value).then(() => settled.push(value))));
    expect(log.fsyncs).toBe(1);
    expect(log.appended).toBe(50);
    expect(settled).toEqual(values);
    expect(log.bytes).toBe((await readFile(path)).length);
    await log.close();
    expect(await contents(path)).toEqual(values);
  });

  it('gives appends awaited one by one an fsync each', async () => {
    const { log, path } = await openLog();
    for (let i = 0; i < 5; i++) await log.append(`v${i}`);
    expect(log.fsyncs).toBe(5);
    await log.close();
    expect(await contents(path)).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  it("'check' waits for the check phase, 'microtask' only for the appender to yield", async () => {
    for (const [flushAt, fsyncs] of [['check', 1], ['microtask', 2]] as const) {
      const { log } = await openLog(perAppend(flushAt));
      const first = log.append('first');
      for (let tick = 0; tick < 5; tick++) await null; // later in the same turn
      await Promise.all([first, log.append('second')]);
      expect(log.fsyncs, flushAt).toBe(fsyncs);
      await log.close();
    }
  });

  it('syncs a batch the caller marks off the event loop on the thread pool (the loop runs meanwhile), others in place', async () => {
    const { log, path } = await openLog({ ...perAppend('microtask'), syncOffLoop: (items) => items.length > 1 });
    // Appended in one go and synced in place: done before the loop gets to its check phase.
    let loopRan = false;
    setImmediate(() => (loopRan = true));
    await log.append('alone');
    expect(loopRan).toBe(false);
    // A batch of two: the fdatasync goes to the thread pool, the loop turns before it is done,
    // and the appends still resolve only after it.
    loopRan = false;
    setImmediate(() => (loopRan = true));
    const settled: string[] = [];
    await Promise.all(['x', 'y'].map((value) => log.append(value).then(() => settled.push(`${value} after loop: ${loopRan}`))));
    expect(settled).toEqual(['x after loop: true', 'y after loop: true']);
    expect(log.fsyncs).toBe(2);
    await log.close();
    expect(await contents(path)).toEqual(['alone', 'x', 'y']);
  });

  it('writes a whole batch as one record', async () => {
    const { log, path } = await openLog({ flushAt: 'microtask', encode: (batch) => text(batch.join('+')) });
    await Promise.all([log.append('a'), log.append('b'), log.append('c')]);
    await log.append('d');
    await log.close();
    expect(await contents(path)).toEqual(['a+b+c', 'd']);
  });

  it('holds an unsynced append back until the next synced one (written with it, one fdatasync), a sync() or close', async () => {
    const { log, path } = await openLog();
    await log.append('unsynced', false);
    expect(log.fsyncs).toBe(0);
    expect(await contents(path)).toEqual([]); // it promises nothing: not even written yet
    await log.append('synced');
    expect(log.fsyncs).toBe(1);
    expect(await contents(path)).toEqual(['unsynced', 'synced']);
    await log.append('again', false);
    await log.sync();
    expect(log.fsyncs).toBe(2);
    expect(await contents(path)).toEqual(['unsynced', 'synced', 'again']);
    await log.sync(); // nothing new to sync: no fdatasync
    expect(log.fsyncs).toBe(2);
    await log.append('at close', false);
    await log.close();
    expect(await contents(path)).toEqual(['unsynced', 'synced', 'again', 'at close']);
  });

  it('sync() waits for the appends queued before it, and writes nothing', async () => {
    const { log, path } = await openLog();
    const order: string[] = [];
    const appended = log.append('a').then(() => order.push('append'));
    await log.sync().then(() => order.push('sync'));
    await appended;
    expect(order).toEqual(['append', 'sync']);
    expect(log.fsyncs).toBe(1);
    await log.close();
    expect(await contents(path)).toEqual(['a']);
  });

  it('never fdatasyncs with fsync off', async () => {
    const { log } = await openLog({ ...perAppend(), fsync: false });
    await Promise.all([log.append('a'), log.append('b')]);
    await log.sync();
    expect(log.fsyncs).toBe(0);
    await log.close();
  });

  it('runs an exclusive task between group commits; appends made meanwhile go after it', async () => {
    const { log, path } = await openLog();
    const before = log.append('before');
    let seenByTask: string[] = [];
    let during: Promise<void> | undefined;
    const task = log.exclusive(async (file) => {
      seenByTask = await contents(path);
      during = log.append('during');
      expect(log.pending).toBe(1);
      await file.replace([frameRecord(text('snapshot'))]);
      return 'done';
    });
    await expect(task).resolves.toBe('done');
    await Promise.all([before, during]);
    expect(seenByTask).toEqual(['before']);
    await log.append('after');
    expect(log.bytes).toBe((await readFile(path)).length);
    await log.close();
    expect(await contents(path)).toEqual(['snapshot', 'during', 'after']);
  });

  it('truncates the file from an exclusive task', async () => {
    const { log, path } = await openLog();
    await log.append('old');
    await log.exclusive((file) => file.truncate());
    expect(log.bytes).toBe(0);
    await log.append('new');
    await log.close();
    expect(await contents(path)).toEqual(['new']);
  });

  it('close() waits for what is queued; later appends reject', async () => {
    const { log, path } = await openLog();
    const queued = [log.append('a'), log.append('b')];
    await log.close();
    await Promise.all(queued);
    await expect(log.append('c')).rejects.toThrow(/append on a closed log/);
    expect(await contents(path)).toEqual(['a', 'b']);
  });

  it.skipIf(!existsSync('/dev/full'))('fails the batch, the queued appends and every later one when the disk write fails', async () => {
    const log = await GroupCommitLog.open('/dev/full', perAppend()); // every write: ENOSPC
    const batch = [log.append('a'), log.append('b'), log.sync()];
    for (const settled of batch) await expect(settled).rejects.toThrow(LogFailedError);
    await expect(batch[0]).rejects.toThrow(/ENOSPC/);
    expect(log.failed).toBe(true);
    await expect(log.append('later')).rejects.toThrow(/refused an append after an earlier failure: ENOSPC/);
    await expect(log.sync()).rejects.toThrow(LogFailedError);
    await expect(log.exclusive(async () => undefined)).rejects.toThrow(LogFailedError);
    expect(() => log.checkWritable()).toThrow(LogFailedError);
    expect(log.fsyncs).toBe(0);
    await log.close();
  });

  it('fails the same way when a batch cannot be encoded, and writes nothing', async () => {
    const { log, path } = await openLog({ flushAt: 'check', encode: () => { throw new Error('cannot encode'); } });
    const batch = [log.append('a'), log.append('b')];
    for (const settled of batch) await expect(settled).rejects.toThrow(/the log failed and takes no more appends: cannot encode/);
    await expect(log.append('later')).rejects.toThrow(LogFailedError);
    await log.close();
    expect((await readFile(path)).length).toBe(0);
  });

  it('fails when an exclusive task throws: it rejects with its error, the appends queued behind it with LogFailedError', async () => {
    const { log, path } = await openLog();
    await log.append('kept');
    let behind: Promise<void> | undefined;
    const task = log.exclusive(async () => {
      behind = log.append('behind');
      throw new Error('rewrite failed');
    });
    await expect(task).rejects.toThrow('rewrite failed');
    await expect(behind).rejects.toThrow(LogFailedError);
    await expect(log.append('later')).rejects.toThrow(/after an earlier failure: rewrite failed/);
    await log.close();
    expect(await contents(path)).toEqual(['kept']);
  });

  it('fail() stops the log for a caller that found a broken invariant', async () => {
    const { log } = await openLog();
    const queued = log.append('queued');
    log.fail(new Error('invariant broken'));
    await expect(queued).rejects.toThrow(/invariant broken/);
    expect(() => log.checkWritable()).toThrow(/refused an append after an earlier failure: invariant broken/);
    expect(log.fsyncs).toBe(0);
    await log.close();
  });
});
