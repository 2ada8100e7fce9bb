/**
 * The cache behind every registry watch: parsed entries by registry key, the instance each address
 * resolves to (dedupe: the first key in sorted order wins, as in `toListing`), and the changes not
 * yet delivered. A change costs work proportional to the keys it touches; the sorted Listing is only
 * built when someone asks for it.
 */
import { addressOf, isRejected, toListing } from './instance.ts';
import type { Instance, Listing, ListingChange, Rejected } from './registry.ts';
import { ordinal } from '../ordinal.ts';

type Entry = Instance | Rejected;

export class WatchCache {
  private readonly entries = new Map<string, Entry>();
  /** address -> keys holding a valid instance at that address. */
  private readonly keysByAddr = new Map<string, Set<string>>();
  private readonly current = new Map<string, Instance>();
  private readonly rejected = new Map<string, Rejected>();
  /** Addresses touched since the last delivery, with the instance delivered before (undefined: none). */
  private readonly pending = new Map<string, Instance | undefined>();
  private rejectedChanged = false;
  private resetPending = false;
  private snapshot: Listing | undefined;

  /** Keys currently cached. */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  /** Set (or replace) one entry. Identical objects are a no-op, so re-applying a cached entry is free. */
  put(key: string, entry: Entry): void {
    const old = this.entries.get(key);
    if (old === entry) return;
    if (old) this.drop(key, old);
    this.entries.set(key, entry);
    if (isRejected(entry)) {
      this.rejected.set(key, entry);
      this.rejectedChanged = true;
      return;
    }
    const addr = addressOf(entry);
    this.touch(addr);
    const keys = this.keysByAddr.get(addr) ?? new Set<string>();
    this.keysByAddr.set(addr, keys);
    keys.add(key);
    this.elect(addr);
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (!old) return;
    this.entries.delete(key);
    this.drop(key, old);
  }

  /**
   * Replace everything with `entries` (a full read). With `reset`, the next delivery says so:
   * changes may have been missed before it (reconnect, expiry, compaction).
   */
  replaceAll(entries: ReadonlyMap<string, Entry>, reset: boolean): void {
    for (const k of [...this.entries.keys()]) if (!entries.has(k)) this.delete(k);
    for (const [k, e] of entries) this.put(k, e);
    if (reset) this.resetPending = true;
  }

  /** The change since the last call, or undefined when nothing visible changed (and no reset). */
  take(): ListingChange | undefined {
    const added: Instance[] = [];
    const removed: Instance[] = [];
    const updated: Instance[] = [];
    for (const [addr, before] of this.pending) {
      const after = this.current.get(addr);
      if (!before && after) added.push(after);
      else if (before && !after) removed.push(before);
      else if (before && after && !sameInstance(before, after)) updated.push(after);
    }
    this.pending.clear();
    const reset = this.resetPending;
    const rejectedChanged = this.rejectedChanged;
    this.resetPending = false;
    this.rejectedChanged = false;
    if (!reset && !rejectedChanged && !added.length && !removed.length && !updated.length) return undefined;
    const rejected = [...this.rejected.values()];
    return { reset, added, removed, updated, current: this.current, rejected, listing: () => this.listing() };
  }

  /** The sorted Listing of what is cached now (memoised until the next change). */
  listing(): Listing {
    this.snapshot ??= toListing([...this.entries].sort(([a], [b]) => ordinal(a, b)).map(([, e]) => e));
    return this.snapshot;
  }

  private drop(key: string, old: Entry): void {
    this.snapshot = undefined;
    if (isRejected(old)) {
      this.rejected.delete(key);
      this.rejectedChanged = true;
      return;
    }
    const addr = addressOf(old);
    this.touch(addr);
    const keys = this.keysByAddr.get(addr);
    keys?.delete(key);
    if (keys && keys.size === 0) this.keysByAddr.delete(addr);
    this.elect(addr);
  }

  private touch(addr: string): void {
    this.snapshot = undefined;
    if (!this.pending.has(addr)) this.pending.set(addr, this.current.get(addr));
  }

  /** The address's instance is the one under its smallest key. */
  private elect(addr: string): void {
    const keys = this.keysByAddr.get(addr);
    if (!keys) {
      this.current.delete(addr);
      return;
    }
    let min: string | undefined;
    for (const k of keys) if (min === undefined || k < min) min = k;
    this.current.set(addr, this.entries.get(min!) as Instance);
  }
}

function sameInstance(a: Instance, b: Instance): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}
