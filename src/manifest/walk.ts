/**
 * Lists the manifest files under a directory, following symlinks (Kubernetes ConfigMap volumes are
 * symlinks into "..data"), bounded in depth and count so a link cycle or a huge tree cannot hang us.
 * A link whose target resolves outside the root is not followed (unless opted in): it would let
 * whoever can write the directory make the agent read any file it can (and quote it in an error),
 * or walk /usr on every scan (measured: ~10 s a scan, every 2 s).
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { isIgnoredName, isManifestFile } from './manifest-files.ts';

export const MAX_WALK_DEPTH = 16;
export const MAX_WALK_FILES = 10_000;

/** One manifest file: `file` is the display path (root as given + relative path), `abs` what to read. */
export interface WalkedFile {
  readonly file: string;
  readonly abs: string;
}

/**
 * Result of a walk: files sorted by display path, and the directories to watch natively: those that
 * hold symlinks, and those reached through one (the tree watcher does not follow links).
 */
export interface Walk {
  readonly files: WalkedFile[];
  readonly linkDirs: string[];
  /** Links not followed because their target is outside the root (display path, resolved target). */
  readonly external: Array<{ readonly file: string; readonly target: string }>;
}

/** True when `path` is `root` or inside it (both real paths). */
export const isWithin = (root: string, path: string) => path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);

/** Walk `root` (shown as `display`). A missing root yields no files; other read errors throw. */
export async function walkManifests(root: string, display = root, opts: { recursive?: boolean; followExternalLinks?: boolean } = {}): Promise<Walk> {
  const files: WalkedFile[] = [];
  const external: Array<{ file: string; target: string }> = [];
  let realRoot: string | undefined;
  const linkDirs = new Set<string>();
  const visited = new Set<string>();
  const recursive = opts.recursive ?? true;

  async function visit(dir: string, shown: string, depth: number, viaLink: boolean): Promise<void> {
    let real: string;
    try {
      real = await realpath(dir);
    } catch (err) {
      if (depth > 0 || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return;
    }
    realRoot ??= real;
    if (visited.has(real) || depth > MAX_WALK_DEPTH) return;
    visited.add(real);
    if (viaLink) linkDirs.add(dir);
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
      throw err;
    });
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (isIgnoredName(e.name) || files.length >= MAX_WALK_FILES) continue;
      const abs = join(dir, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        linkDirs.add(dir);
        const target = await realpath(abs).catch(() => undefined); // dangling links are skipped
        if (target !== undefined && !opts.followExternalLinks && !isWithin(realRoot!, target)) {
          external.push({ file: join(shown, e.name), target });
          continue;
        }
        const st = target === undefined ? undefined : await stat(abs).catch(() => undefined);
        isDir = st?.isDirectory() ?? false;
        isFile = st?.isFile() ?? false;
      }
      if (isDir && recursive) await visit(abs, join(shown, e.name), depth + 1, viaLink || e.isSymbolicLink());
      else if (isFile && isManifestFile(e.name)) files.push({ file: join(shown, e.name), abs });
    }
  }

  await visit(root, display, 0, false);
  files.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { files, linkDirs: [...linkDirs], external };
}
