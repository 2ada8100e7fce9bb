/**
 * Atomic file replacement for configs HAProxy reads: temp file in the same directory, fsync,
 * optional validation of the temp file, rename. Identical bytes mean no write at all.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let seq = 0;

/**
 * Replace `path` with `data` unless it already holds exactly those bytes. `validate` runs on the
 * fsynced temp file before the rename; if it throws, `path` is untouched and the error propagates.
 * Resolves true when the file changed.
 */
export async function writeFileAtomic(path: string, data: string, validate?: (tmpPath: string) => Promise<void>): Promise<boolean> {
  const current = await readFile(path, 'utf8').catch(() => undefined);
  if (current === data) return false;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++seq}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o600); // never through a planted link
    try {
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (validate) await validate(tmp);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  // fsync the directory so the rename itself survives a crash.
  const dir = await open(dirname(path), 'r').catch(() => undefined);
  await dir?.sync().catch(() => undefined);
  await dir?.close();
  return true;
}
