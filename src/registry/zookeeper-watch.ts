/**
 * One ZooKeeper watch and its cache: the children of a path and each child's parsed data. On every
 * (re)connect a persistent recursive watch is set on the path and everything is read once (no
 * watches); after that each event names the child it is about, so a created or changed child is
 * read and a deleted one dropped, and the path is never listed again. Delivers what changed (a
 * ListingChange) coalesced. A server without persistent watches (ZooKeeper < 3.6) gets one-shot
 * watches instead: a child watch on the path and a data watch per child, and every change re-lists
 * the path and diffs it against the cache.
 */
import type { Event } from 'node-zookeeper-client';
import { parseInstance } from './instance.ts';
import type { Listing, ListingChange } from './registry.ts';
import { WatchCache } from './watch-cache.ts';
import { ZkException, ZkOpError, type ZkClient, type ZkNodeEvent } from './zookeeper-client.ts';

export interface ZkWatchHost {
  client(): ZkClient;
  /** `path` with the chroot prefixed. */
  full(path: string): string;
  connected(): boolean;
  /** The number of the connection a request issued now goes out on. */
  connection(): number;
  log(type: string, message: string): void;
}

// The re-list after a watch event takes the read the re-arm just did (with watches set, so nothing
// can change unseen); an older one goes to the server, so periodic resyncs stay a real check.
const FRESH_MS = 1000;
// getData calls in flight at once. Measured at 10,000 children, 10 s after the sync: all at once
// left the agent at 226 MiB RSS (about 40 MiB of it live heap), 256 at a time at 164–170 MiB,
// with the sync no slower (3–7 s either way on the shared machine).
const READS_IN_FLIGHT = 256;

export interface ZkWatchOptions {
  /** false: one-shot watches even where the server has persistent ones (tests of the fallback). */
  readonly persistent?: boolean;
}

export class ZookeeperWatch {
  readonly watcher = (event: Event): void => {
    const prefix = `${this.host.full(this.path)}/`;
    if (event.getPath().startsWith(prefix)) this.stale.add(event.getPath().slice(prefix.length));
    if (!this.closed) this.arm();
  };
  /** The persistent watch's events: the path's own creation or deletion, and its children's changes. */
  private readonly onNode = (e: ZkNodeEvent): void => {
    if (this.closed) return;
    const full = this.host.full(this.path);
    if (e.path === full) {
      if (e.type === 'changed') return;
      this.relist = true;
    } else {
      const name = e.path.slice(full.length + 1);
      if (name.includes('/')) return;
      this.dirty.set(name, e.type === 'deleted' ? 'gone' : 'read');
    }
    // The events of one socket read (a burst) go into one round of reads.
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.closed) this.arm();
    });
  };
  private persistent: boolean;
  /** Children whose events are not applied yet: the last event of each says read it or drop it. */
  private dirty = new Map<string, 'read' | 'gone'>();
  /** The path itself was created or deleted: list it again. */
  private relist = false;
  private scheduled = false;
  /** Parsed data of each child read with `watcher` set; rebuilt (reset) on every (re)connect. */
  private readonly cache = new WatchCache();
  private readonly stale = new Set<string>();
  /** Names of the children in the cache, and the same names in the order of the last listing. */
  private known = new Set<string>();
  private order: readonly string[] = [];
  private closed = false;
  private pending = false;
  /** A read is in flight; `again` asks for one more after it (events meanwhile). */
  private arming = false;
  private again = false;
  private reset = true;
  /** The connection the read rebuilding the cache (a reset) was issued on, while it is on its way or done. */
  private rebuiltOn: number | undefined;
  /** The read done while (re)arming (whether it worked), for the one list() that follows the change it reports. */
  private fresh?: { readonly at: number; readonly read: Promise<boolean> };

  constructor(
    readonly path: string,
    private readonly onChange: (change: ListingChange) => void,
    private readonly host: ZkWatchHost,
    opts: ZkWatchOptions = {},
  ) {
    this.persistent = opts.persistent ?? true;
    this.arm();
  }

  /** Stop acting on events (the server's persistent watch stays until the connection drops: see ZkClient.removeWatch). */
  close(): void {
    this.closed = true;
    this.host.client().removeWatch(this.host.full(this.path), this.onNode);
  }

  /**
   * After a (re)connect watches may have been lost: read everything again, unless the cache is
   * being (or was) rebuilt by a read issued on this very connection, as is every watch set up
   * while the first connection was being made.
   */
  reconnected(): void {
    if (this.rebuiltOn === this.host.connection()) return;
    this.reset = true;
    this.stale.clear();
    // Everything is read again; an event from before the reconnect must not undo that read.
    this.dirty.clear();
    for (const k of [...this.cache.keys()]) this.stale.add(k.slice(this.path.length + 1));
    this.arm();
  }

  /** The listing of the read the last event caused, when it is at most FRESH_MS old (taken once). */
  async takeFresh(): Promise<Listing | undefined> {
    const fresh = this.fresh;
    this.fresh = undefined;
    // Built on demand: a watcher that only takes the deltas never pays for a sorted 10,000-entry listing.
    return fresh && Date.now() - fresh.at <= FRESH_MS && (await fresh.read) ? this.cache.listing() : undefined;
  }

  /**
   * Read what changed. Events during a read (a burst of N changes fires up to 2N one-shot watches)
   * coalesce into one more read, followed by one more delivery of the newest read.
   */
  private arm(): void {
    if (this.arming) {
      this.again = true;
      return;
    }
    this.arming = true;
    if (this.reset) this.rebuiltOn = this.host.connection();
    const read = this.readWatched().then((ok) => {
      this.arming = false;
      if (!ok) this.rebuiltOn = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        this.arm();
      }
      return ok;
    });
    this.fresh = { at: Date.now(), read };
  }

  /**
   * A reset sets the persistent watch and lists the path; after it, only the children events named
   * are read (one-shot watches: the path is listed again, with watches set, on the path itself
   * when it is missing). False on failure.
   */
  private async readWatched(): Promise<boolean> {
    const full = this.host.full(this.path);
    try {
      if (this.reset && this.persistent) await this.addWatch(full);
      if (this.persistent && !this.reset && !this.relist) return await this.drain();
      this.relist = false;
      for (let attempt = 0; attempt < 3 && !this.closed; attempt++) {
        const read = await this.read();
        if (read) return this.applied();
        if (this.persistent || !(await this.host.client().exists(full, this.watcher))) {
          this.cache.replaceAll(new Map(), this.reset);
          this.known = new Set();
          this.order = [];
          return this.applied();
        }
      }
    } catch (err) {
      // Re-armed on the next (re)connect; a failure while connected retries shortly.
      this.host.log('watch-failed', `watching ${full}: ${err instanceof Error ? err.message : String(err)}`);
      if (this.host.connected() && !this.closed) setTimeout(() => this.arm(), 1000).unref();
    }
    return false;
  }

  /** Set the persistent watch on this connection; a server without them turns this watch to one-shot watches. */
  private async addWatch(full: string): Promise<void> {
    try {
      await this.host.client().addWatch(full, this.onNode);
    } catch (err) {
      if (!(err instanceof ZkOpError && err.zkCode === ZkException.UNIMPLEMENTED)) throw err;
      this.persistent = false;
      this.host.log('watch-fallback', `watching ${full}: the server has no persistent watches (ZooKeeper < 3.6); using one-shot watches`);
    }
  }

  /**
   * Apply the children's events: drop the deleted, read the created and changed. Replies and events
   * come in one order, so a read answered NO_NODE was deleted (an event says so, or will), and an
   * event arriving during the reads is applied by the next round, after them.
   */
  private async drain(): Promise<boolean> {
    const batch = this.dirty;
    this.dirty = new Map();
    const key = (c: string) => `${this.path}/${c}`;
    const reads: string[] = [];
    for (const [c, what] of batch) {
      if (what === 'read') reads.push(c);
      else this.cache.delete(key(c)), this.known.delete(c);
    }
    try {
      for (const [c, d] of await this.getAll(reads)) {
        if (d) this.cache.put(key(c), parseInstance(key(c), d.data)), this.known.add(c);
        else this.cache.delete(key(c)), this.known.delete(c);
      }
    } catch (err) {
      for (const c of reads) if (!this.dirty.has(c)) this.dirty.set(c, 'read');
      throw err;
    }
    return this.applied();
  }

  /** getChildren, then the data of new and stale children only; false when the path is missing. */
  private async read(): Promise<boolean> {
    const client = this.host.client();
    const full = this.host.full(this.path);
    const children = await client.getChildren(full, this.persistent ? undefined : this.watcher);
    if (!children) return false;
    const key = (c: string) => `${this.path}/${c}`;
    // With the persistent watch, the cached data is current (events say what changed): a listing
    // only adds the new children and drops the missing ones.
    if (this.reset || this.persistent) {
      const listed = new Set(children);
      const misses = children.filter((c) => this.stale.has(c) || !this.known.has(c));
      this.stale.clear();
      const read = await this.getAll(misses);
      const entries = new Map<string, ReturnType<typeof parseInstance>>();
      for (const c of listed) {
        const hit = this.cache.get(key(c));
        if (hit) entries.set(key(c), hit);
      }
      for (const [c, d] of read) d ? entries.set(key(c), parseInstance(key(c), d.data)) : entries.delete(key(c));
      this.cache.replaceAll(entries, this.reset);
      this.known = new Set([...entries.keys()].map((k) => k.slice(this.path.length + 1)));
      this.order = children.filter((c) => this.known.has(c));
      return true;
    }
    const { added, gone } = diffChildren(this.order, this.known, children);
    // A stale name still listed is read again; one that is not is gone (or was never cached).
    const misses = [...added];
    for (const c of this.stale) if (this.known.has(c) && !gone.has(c)) misses.push(c);
    this.stale.clear();
    const read = await this.getAll(misses);
    for (const c of gone) this.cache.delete(key(c)), this.known.delete(c);
    const missing = new Set<string>();
    for (const [c, d] of read) {
      if (d) this.cache.put(key(c), parseInstance(key(c), d.data)), this.known.add(c);
      else this.cache.delete(key(c)), this.known.delete(c), missing.add(c);
    }
    this.order = missing.size ? children.filter((c) => !missing.has(c)) : children;
    return true;
  }

  /** getData of each named child (with the data watch set, one-shot), READS_IN_FLIGHT at a time, in order. */
  private async getAll(names: readonly string[]): Promise<(readonly [string, Awaited<ReturnType<ZkClient['getData']>>])[]> {
    const full = this.host.full(this.path);
    const watcher = this.persistent ? undefined : this.watcher;
    const read = await this.host.client().getDataAll(names.map((c) => `${full}/${c}`), watcher, READS_IN_FLIGHT);
    return names.map((c, i) => [c, read[i]] as const);
  }

  /** Deliver what the read changed (coalesced). */
  private applied(): true {
    this.reset = false;
    if (!this.pending && !this.closed) {
      this.pending = true;
      setImmediate(() => {
        this.pending = false;
        const change = this.closed ? undefined : this.cache.take();
        if (change) this.onChange(change);
      });
    }
    return true;
  }
}

/**
 * The names `children` adds to, and the names it no longer holds of, the last listing `prev` (whose
 * names are `known`). ZooKeeper lists a node's children in its HashSet's order, which adding or
 * removing a child leaves alone for the others, so the two lists are walked side by side comparing
 * strings, and `known` is asked only where they differ; any other order is still diffed right.
 * Measured at 10,000 children: hashing every name of each listing (a Set of it, a lookup per name
 * in `known` and per known name in it) was 6–16 ms per read, 2–3 reads per 1 % change.
 */
export function diffChildren(prev: readonly string[], known: ReadonlySet<string>, children: readonly string[]): { added: string[]; gone: Set<string> } {
  const added: string[] = [];
  // Names of `prev` passed over: gone, unless listed further on.
  const gone = new Set<string>();
  let j = 0;
  for (const c of children) {
    if (prev[j] === c) j++;
    else if (!known.has(c)) added.push(c);
    else if (!gone.delete(c)) {
      // c is further on in `prev`: the names before it are gone or listed further on.
      while (j < prev.length && prev[j] !== c) gone.add(prev[j++]!);
      j++;
    }
  }
  while (j < prev.length) gone.add(prev[j++]!);
  return { added, gone };
}
