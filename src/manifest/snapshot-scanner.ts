/**
 * The state half of the directory source: one `pass()` re-walks the directory, re-reads only files
 * whose stat changed, re-parses only files whose content changed, and accepts new content only once
 * it is stable (two reads equal, or untouched for `maxWaitMs`), so a half-written file is not
 * applied. Knows nothing of watchers or timers.
 */
import { createHash } from 'node:crypto';
import { realpath, stat } from 'node:fs/promises';
import { ManifestError } from '../errors.ts';
import type { FileResult } from './file-result.ts';
import { readBounded } from './load.ts';
import { parseManifestBytes } from './parse.ts';
import { walkManifests } from './walk.ts';
import { ordinal } from '../ordinal.ts';

interface Committed {
  sig: string;
  hash: string;
  result: FileResult;
}

/** What a pass saw: whether the snapshot changed, whether files are still settling, what to watch. */
export interface PassResult {
  readonly changed: boolean;
  readonly unsettled: boolean;
  /** realpath + inode of the root, undefined if missing: a change means the root was swapped or re-created. */
  readonly rootId: string | undefined;
  readonly realRoot: string | undefined;
  readonly linkDirs: string[];
}

/** Scans `root` (display paths start with `root` as given). `now` is injectable for tests. */
export class SnapshotScanner {
  readonly #root: string;
  readonly #maxWaitMs: number;
  readonly #now: () => number;
  #committed = new Map<string, Committed>();
  #pending = new Map<string, { sig: string; hash: string; since: number }>();

  readonly #followExternalLinks: boolean;

  constructor(root: string, opts: { maxWaitMs?: number; now?: () => number; followExternalLinks?: boolean } = {}) {
    this.#root = root;
    this.#followExternalLinks = opts.followExternalLinks ?? false;
    this.#maxWaitMs = opts.maxWaitMs ?? 1000;
    this.#now = opts.now ?? Date.now;
  }

  /** The committed snapshot, sorted by file. */
  snapshot(): Map<string, FileResult> {
    return new Map([...this.#committed].sort(([a], [b]) => ordinal(a, b)).map(([f, c]) => [f, c.result]));
  }

  /** Re-scan once. Never rejects: an unreadable directory leaves the snapshot as it was. */
  async pass(): Promise<PassResult> {
    let realRoot: string | undefined;
    let rootId: string | undefined;
    try {
      realRoot = await realpath(this.#root);
      rootId = `${realRoot}:${(await stat(realRoot)).ino}`;
    } catch {
      realRoot = undefined;
    }
    let walk;
    try {
      walk = await walkManifests(this.#root, this.#root, { followExternalLinks: this.#followExternalLinks });
    } catch {
      return { changed: false, unsettled: true, rootId, realRoot, linkDirs: [] }; // mid-swap: retry
    }
    let changed = false;
    let unsettled = false;
    const seen = new Set<string>();
    for (const { file, target } of walk.external) {
      seen.add(file);
      const sig = `external:${target}`;
      if (this.#committed.get(file)?.sig === sig) continue;
      const err = new ManifestError(`symlink to ${target}, outside the manifests directory: ignored (--follow-external-links to allow)`, { context: { file } });
      this.#committed.set(file, { sig, hash: '', result: { file, manifests: [], errors: [err], errorKeys: new Map(), fatal: false } });
      changed = true;
    }
    for (const { file, abs } of walk.files) {
      const outcome = await this.#check(file, abs).catch(() => 'gone' as const);
      if (outcome === 'gone') continue;
      seen.add(file);
      if (outcome === 'committed') changed = true;
      if (outcome === 'pending') unsettled = true;
    }
    for (const file of [...this.#committed.keys()]) {
      if (!seen.has(file)) {
        this.#committed.delete(file);
        changed = true;
      }
    }
    for (const file of [...this.#pending.keys()]) if (!seen.has(file)) this.#pending.delete(file);
    return { changed, unsettled, rootId, realRoot, linkDirs: walk.linkDirs };
  }

  async #check(file: string, abs: string): Promise<'same' | 'committed' | 'pending' | 'gone'> {
    const st = await stat(abs, { bigint: true }).catch(() => undefined);
    if (!st) return 'gone';
    const sig = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    const prev = this.#committed.get(file);
    if (prev?.sig === sig) {
      this.#pending.delete(file);
      return 'same';
    }
    const bytes = await readBounded(abs);
    const hash = createHash('sha256').update(bytes).digest('hex');
    if (prev?.hash === hash) {
      prev.sig = sig;
      this.#pending.delete(file);
      return 'same';
    }
    const now = this.#now();
    const pending = this.#pending.get(file);
    const quietFor = now - Number(st.mtimeMs);
    const stable =
      (pending?.hash === hash && pending.sig === sig) || quietFor >= this.#maxWaitMs || (pending !== undefined && now - pending.since >= this.#maxWaitMs);
    if (!stable) {
      this.#pending.set(file, { sig, hash, since: pending?.since ?? now });
      return 'pending';
    }
    this.#pending.delete(file);
    this.#committed.set(file, { sig, hash, result: parseManifestBytes(bytes, file) });
    return 'committed';
  }
}
