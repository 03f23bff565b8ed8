/**
 * Whole-file replacement that a crash cannot leave half done: Raft's compaction, leaderless's
 * compaction, the CRDT snapshot, and the creation of every log file.
 */
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface AtomicWriteOptions {
  /** fsync the file and the directory (default true). Off only for tests and benchmarks. */
  readonly fsync?: boolean;
}

/**
 * Writes `chunks` to `${path}.tmp`, syncs it, renames it over `path`, syncs the directory: after
 * a crash, `path` holds either its old contents or all of the new ones. Returns the bytes written.
 */
export async function writeFileAtomically(path: string, chunks: readonly Uint8Array[], options: AtomicWriteOptions = {}): Promise<number> {
  const fsync = options.fsync ?? true;
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  let position = 0;
  try {
    for (const chunk of chunks) {
      await writeAll(handle, chunk, position);
      position += chunk.length;
    }
    if (fsync) await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  if (fsync) await syncDirectory(dirname(path));
  return position;
}

/**
 * The contents of a file written by writeFileAtomically, or null if there is none. Removes the
 * temp file a crash before the rename leaves behind.
 */
export async function readFileWrittenAtomically(path: string): Promise<Buffer | null> {
  await rm(`${path}.tmp`, { force: true });
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** A new or renamed file is durable only once its directory entry is (fsync(2), "NOTES"). */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written);
    written += bytesWritten;
  }
}
