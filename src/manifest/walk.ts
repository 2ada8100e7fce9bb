/**
 * Lists the manifest files under a directory, following symlinks (Kubernetes ConfigMap volumes are
 * symlinks into "..data"), bounded in depth and count so a link cycle or a huge tree cannot hang us.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
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
}

/** Walk `root` (shown as `display`). A missing root yields no files; other read errors throw. */
export async function walkManifests(root: string, display = root, opts: { recursive?: boolean } = {}): Promise<Walk> {
  const files: WalkedFile[] = [];
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
        const st = await stat(abs).catch(() => undefined); // dangling links are skipped
        isDir = st?.isDirectory() ?? false;
        isFile = st?.isFile() ?? false;
      }
      if (isDir && recursive) await visit(abs, join(shown, e.name), depth + 1, viaLink || e.isSymbolicLink());
      else if (isFile && isManifestFile(e.name)) files.push({ file: join(shown, e.name), abs });
    }
  }

  await visit(root, display, 0, false);
  files.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  return { files, linkDirs: [...linkDirs] };
}
