/**
 * Atomic file replacement (HAProxy configs, the last-known-state file, manifests `apply` writes):
 * temp file in the same directory, fsync, rename, fsync of the directory. Identical bytes mean no
 * write at all.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

let seq = 0;

/**
 * Replace `path` with `data` unless it already holds exactly those bytes; a new file gets `mode`
 * (default 0600, less the umask). On a failure `path` is untouched. Resolves true when the file changed.
 * `previous`: what this caller last wrote there, when it alone writes the file: compared instead of
 * reading the file back (the 10,000-server state file is ~1 MB, rewritten once a second).
 */
export async function writeFileAtomic(path: string, data: string, opts: { mode?: number; previous?: string } = {}): Promise<boolean> {
  const current = opts.previous ?? (await readFile(path, 'utf8').catch(() => undefined));
  if (current === data) return false;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++seq}.tmp`);
  try {
    const fh = await open(tmp, 'wx', opts.mode ?? 0o600); // never through a planted link
    try {
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
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
