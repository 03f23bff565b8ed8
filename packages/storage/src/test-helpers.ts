/** Temp dirs for the storage tests: each test gets one under os.tmpdir(), removed after it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

const dirs: string[] = [];

afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'playground-storage-'));
  dirs.push(dir);
  return dir;
}

/** A payload that reads back as itself. */
export const text = (value: string): Buffer => Buffer.from(value, 'utf8');
export const asText = (payload: Uint8Array): string => Buffer.from(payload).toString('utf8');
