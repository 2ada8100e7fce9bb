/**
 * Loading manifests for the CLI and tests: a file, a directory of .yaml/.yml/.json files, or "-"
 * for stdin. Reading is size-bounded; unreadable files become fatal located results, never throws
 * for a bad file.
 */
import { open, stat } from 'node:fs/promises';
import { ManifestError } from '../errors.ts';
import { fatalResult, type FileResult } from './file-result.ts';
import { MAX_MANIFEST_BYTES, parseManifestBytes } from './parse.ts';
import { walkManifests } from './walk.ts';

export { parseManifestText, parseManifestBytes } from './parse.ts';
export type { FileResult, LoadedManifest } from './file-result.ts';

/** Read at most MAX_MANIFEST_BYTES + 1 bytes of `abs` (one more, so "too large" is detectable). */
export async function readBounded(abs: string): Promise<Buffer> {
  const fh = await open(abs, 'r');
  try {
    // Buffers sized by the file, not by the bound. Measured: a zero-filled 1 MiB buffer per file took
    // an agent reading 100 small manifests to a 115 MiB RSS peak, and glibc kept much of it.
    const chunks: Buffer[] = [];
    let n = 0;
    let want = Math.min((await fh.stat()).size, MAX_MANIFEST_BYTES) + 1;
    for (let i = 0; i < 1024 && n <= MAX_MANIFEST_BYTES; i++) {
      const buf = Buffer.allocUnsafe(Math.min(want, MAX_MANIFEST_BYTES + 1 - n));
      const { bytesRead } = await fh.read(buf, 0, buf.length, n);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      n += bytesRead;
      want = 64 * 1024; // the file grew since the stat
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
  } finally {
    await fh.close();
  }
}

/** Read and parse one file; read failures become a fatal result for `file`. */
export async function loadFile(abs: string, file = abs): Promise<FileResult> {
  try {
    return parseManifestBytes(await readBounded(abs), file);
  } catch (err) {
    return fatalResult(file, [new ManifestError(`reading file: ${(err as Error).message}`, { context: { file }, cause: err })]);
  }
}

/** Load a file, a directory (recursive by default, sorted by path) or "-" (stdin). Never rejects for bad content. */
export async function loadPath(path: string, opts: { recursive?: boolean } = {}): Promise<FileResult[]> {
  if (path === '-') return [parseManifestBytes(await readStdin(), '<stdin>')];
  const st = await stat(path).catch((err: Error) => err);
  if (st instanceof Error) return [fatalResult(path, [new ManifestError(`reading path: ${st.message}`, { context: { file: path }, cause: st })])];
  if (!st.isDirectory()) return [await loadFile(path)];
  const walk = await walkManifests(path, path, opts);
  const results: FileResult[] = [];
  for (const f of walk.files) results.push(await loadFile(f.abs, f.file));
  return results;
}

/** Read stdin, stopping just past MAX_MANIFEST_BYTES (enough to report "too large"). */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    chunks.push(b);
    size += b.length;
    if (size > MAX_MANIFEST_BYTES) break; // enough to report "too large" without buffering the rest
  }
  return Buffer.concat(chunks);
}
