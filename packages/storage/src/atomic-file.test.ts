import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileWrittenAtomically, writeFileAtomically } from './atomic-file.js';
import { tempDir } from './test-helpers.js';

describe('writeFileAtomically', () => {
  it('replaces the file with all the chunks and leaves no temp file', async () => {
    const dir = await tempDir();
    const path = join(dir, 'state.bin');
    await writeFile(path, 'old contents, longer than the new ones');
    expect(await writeFileAtomically(path, [Buffer.from('new '), Buffer.from('contents')])).toBe(12);
    expect(await readFile(path, 'utf8')).toBe('new contents');
    expect(await readdir(dir)).toEqual(['state.bin']);
  });
});

describe('readFileWrittenAtomically', () => {
  it('reads null for a missing file, and removes a temp file left by a crash before the rename', async () => {
    const dir = await tempDir();
    const path = join(dir, 'state.bin');
    await writeFile(`${path}.tmp`, 'half written');
    expect(await readFileWrittenAtomically(path)).toBeNull();
    expect(await readdir(dir)).toEqual([]);
    await writeFileAtomically(path, [Buffer.from('whole')]);
    expect(await readFileWrittenAtomically(path)).toEqual(Buffer.from('whole'));
  });
});
