/** Small builders shared by the storage tests. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, HardState } from '../core/types.js';

export function entry(term: number, index: number, idem?: string): Entry {
  return {
    term,
    index,
    command: { kind: 'incr', key: 'counter', delta: index, proposedAtMs: 1_700_000_000_000 + index, ...(idem ? { idem } : {}) },
  };
}

export function entries(term: number, from: number, to: number): Entry[] {
  const list: Entry[] = [];
  for (let index = from; index <= to; index++) list.push(entry(term, index, `idem-${term}-${index}`));
  return list;
}

export function hardState(term: number, commit = 0, vote: string | null = null): HardState {
  return { term, vote, commit };
}

/** A fresh temp dir; call the returned cleanup in afterEach. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'raft-wal-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
