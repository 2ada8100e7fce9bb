/** Real-filesystem helpers for tests: temp dirs that clean up, and editor-style saves. */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** A fresh temp dir; `cleanup` removes it (call it in `after`). */
export async function tempDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** Save like an editor: write a temp file beside `path`, then rename it over `path`. */
export async function saveViaRename(path: string, text: string, tmpName = `.${Date.now()}.tmp`): Promise<void> {
  const tmp = join(dirname(path), tmpName);
  await writeFile(tmp, text);
  await rename(tmp, path);
}
