/**
 * A ManifestSource over a directory tree. chokidar watches the tree; native fs.watch covers what
 * chokidar does not report (measured): a ConfigMap's "..data" symlink swap and a git-sync swap of
 * the root symlink itself, via watches on directories that hold symlinks and on the root's parent.
 * A periodic bounded rescan is the safety net. Events only schedule a debounced pass; each pass
 * emits a whole snapshot when something changed.
 */
import { watch as fsWatch, type FSWatcher as NativeWatcher } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename, dirname, relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { FileResult } from './file-result.ts';
import { isIgnoredName } from './manifest-files.ts';
import type { ManifestSource } from './manifest-source.ts';
import { SnapshotScanner, type PassResult } from './snapshot-scanner.ts';
import { sourceRevision } from './source-revision.ts';
import { MAX_WALK_DEPTH } from './walk.ts';
import { within } from '../within.ts';

/**
 * `debounceMs`: quiet time before a pass (default 75); `maxWaitMs`: bound on debounce and on settling
 * (1000); `rescanMs`: safety-net rescan (2000); `watch: false` polls only (e.g. NFS, where inotify is blind).
 */
export interface DirectorySourceOptions {
  readonly dir: string;
  readonly watch?: boolean;
  readonly debounceMs?: number;
  readonly maxWaitMs?: number;
  readonly rescanMs?: number;
  /** Follow symlinks whose target is outside `dir` (default false: reported and ignored). */
  readonly followExternalLinks?: boolean;
}

const MAX_NATIVE_WATCHES = 64;

/** Watches `dir` (which may not exist yet, or be a symlink that gets swapped). */
export class DirectorySource implements ManifestSource {
  readonly #dir: string;
  readonly #debounceMs: number;
  readonly #maxWaitMs: number;
  readonly #rescanMs: number;
  readonly #watch: boolean;
  readonly #scanner: SnapshotScanner;
  #onSnapshot: ((files: ReadonlyMap<string, FileResult>) => void) | undefined;
  #tree: { watcher: FSWatcher; rootId: string } | undefined;
  #native = new Map<string, NativeWatcher>();
  #timer: NodeJS.Timeout | undefined;
  #rescan: NodeJS.Timeout | undefined;
  #firstEventAt: number | undefined;
  #running: Promise<void> | undefined;
  #dirty = false;
  #closed = false;
  #revision: string | undefined;
  // Each file result as emitted, stamped with the revision it was first seen at (kept while its content is).
  #stamped = new WeakMap<FileResult, FileResult>();

  constructor(opts: DirectorySourceOptions) {
    this.#dir = opts.dir;
    this.#debounceMs = opts.debounceMs ?? 75;
    this.#maxWaitMs = opts.maxWaitMs ?? 1000;
    this.#rescanMs = opts.rescanMs ?? 2000;
    this.#watch = opts.watch ?? true;
    this.#scanner = new SnapshotScanner(this.#dir, { maxWaitMs: this.#maxWaitMs, followExternalLinks: opts.followExternalLinks ?? false });
  }

  /** Watch, emit the first (settled) snapshot, then resolve. Later snapshots only when something changed. */
  async start(onSnapshot: (files: ReadonlyMap<string, FileResult>) => void): Promise<void> {
    this.#onSnapshot = onSnapshot;
    if (this.#watch) this.#watchNative(dirname(resolve(this.#dir)), basename(resolve(this.#dir)));
    const bound = Math.ceil(this.#maxWaitMs / Math.max(1, this.#debounceMs)) + 3;
    let res = await this.#scanner.pass();
    for (let i = 0; res.unsettled && i < bound && !this.#closed; i++) {
      await new Promise((r) => setTimeout(r, this.#debounceMs));
      res = await this.#scanner.pass();
    }
    if (this.#closed) return;
    this.#revision = await sourceRevision(this.#dir);
    await this.#syncWatchers(res);
    onSnapshot(this.#snapshot());
    this.#rescan = setInterval(() => this.#requestPass(), this.#rescanMs);
  }

  /** Stop watching; frees every watcher and timer. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#rescan);
    for (const w of this.#native.values()) w.close();
    this.#native.clear();
    const tree = this.#tree;
    this.#tree = undefined;
    if (tree) await closeTree(tree.watcher);
    await this.#running?.catch(() => undefined);
  }

  /** The revision of the directory at the last pass: a git checkout's HEAD, or the commit a git-sync link's target is named by. */
  revision(): string | undefined {
    return this.#revision;
  }

  #snapshot(): Map<string, FileResult> {
    const out = new Map<string, FileResult>();
    for (const [file, r] of this.#scanner.snapshot()) {
      let stamped = this.#stamped.get(r);
      if (!stamped) {
        stamped = this.#revision === undefined ? r : { ...r, revision: this.#revision };
        this.#stamped.set(r, stamped);
      }
      out.set(file, stamped);
    }
    return out;
  }

  // Debounce: a pass after `debounceMs` of quiet, but no later than `maxWaitMs` after the first event.
  #schedule(): void {
    if (this.#closed) return;
    const now = Date.now();
    this.#firstEventAt ??= now;
    clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(this.#debounceMs, this.#firstEventAt + this.#maxWaitMs - now));
    this.#timer = setTimeout(() => this.#requestPass(), wait);
  }

  #requestPass(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#dirty = true;
      return;
    }
    this.#firstEventAt = undefined;
    this.#running = this.#pass().finally(() => {
      this.#running = undefined;
      if (this.#dirty) {
        this.#dirty = false;
        this.#schedule();
      }
    });
  }

  async #pass(): Promise<void> {
    const res = await this.#scanner.pass();
    if (this.#closed) return;
    await this.#syncWatchers(res);
    if (this.#closed) return;
    // A new commit that changed no manifest changes only the revision in force: checked every pass (cheap: a few small reads of .git).
    const revision = await sourceRevision(this.#dir);
    const moved = revision !== this.#revision;
    this.#revision = revision;
    if (res.changed || moved) this.#onSnapshot?.(this.#snapshot());
    if (res.unsettled) this.#dirty = true; // re-read after a quiet period: accept only stable content
  }

  // Keeps the chokidar tree watch on the current root inode and native watches on symlink holders.
  async #syncWatchers(res: PassResult): Promise<void> {
    if (!this.#watch) return;
    if (this.#tree && this.#tree.rootId !== res.rootId) {
      const old = this.#tree.watcher;
      this.#tree = undefined;
      await closeTree(old);
    }
    if (!this.#tree && res.realRoot && res.rootId && !this.#closed) {
      const root = res.realRoot;
      const watcher = watch(root, {
        ignoreInitial: true,
        // Following links let a loop (a dir linked into itself) fan out into 2^depth paths, and an
        // ELOOP error emitted after close() crashed the process; the walk follows links with
        // cycle detection and reports the linked dirs, which get native watches instead.
        followSymlinks: false,
        depth: MAX_WALK_DEPTH,
        ignored: (p: string) => relative(root, p).split(sep).some((part) => part !== '' && isIgnoredName(part)),
      });
      watcher.on('all', () => this.#schedule());
      watcher.on('error', () => this.#schedule());
      this.#tree = { watcher, rootId: res.rootId };
      // Until chokidar is ready, new files count as "initial" and are not reported: wait (bounded),
      // then re-scan once to catch anything that changed while it was starting.
      await within(new Promise<void>((r) => watcher.once('ready', () => r())), { ms: this.#maxWaitMs * 5, onTimeout: () => undefined });
      this.#schedule();
    }
    const parent = dirname(resolve(this.#dir));
    const wanted = new Set<string>([parent]);
    for (const d of res.linkDirs) {
      const real = await realpath(d).catch(() => undefined);
      if (real && wanted.size < MAX_NATIVE_WATCHES) wanted.add(real);
    }
    for (const [d, w] of this.#native) {
      if (!wanted.has(d)) {
        w.close();
        this.#native.delete(d);
      }
    }
    for (const d of wanted) if (!this.#closed) this.#watchNative(d, d === parent ? basename(resolve(this.#dir)) : undefined);
  }

  // Native watch on one directory; `only` filters to one entry name (the root inside its parent).
  #watchNative(dir: string, only?: string): void {
    if (this.#native.has(dir)) return;
    try {
      const w = fsWatch(dir, { persistent: true }, (_event, name) => {
        if (only === undefined || name === null || name === only) this.#schedule();
      });
      w.on('error', () => {
        w.close();
        this.#native.delete(dir);
        this.#schedule();
      });
      this.#native.set(dir, w);
    } catch {
      // The directory does not exist (yet): the periodic rescan covers it.
    }
  }
}

// chokidar drops its listeners on close, but a scan still in flight may emit 'error' afterwards:
// with no listener that would be an uncaught exception.
async function closeTree(watcher: FSWatcher): Promise<void> {
  await watcher.close();
  watcher.on('error', () => undefined);
}
