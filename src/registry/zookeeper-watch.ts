/**
 * One ZooKeeper watch and its cache: the children of a path and each child's parsed data, read
 * with watches set. A change re-reads only the children that are new or whose data watch fired,
 * and delivers what changed (a ListingChange) from the diff of the child list against the cache.
 */
import type { Event } from 'node-zookeeper-client';
import { parseInstance } from './instance.ts';
import type { Listing, ListingChange } from './registry.ts';
import { WatchCache } from './watch-cache.ts';
import type { ZkClient } from './zookeeper-client.ts';

export interface ZkWatchHost {
  client(): ZkClient;
  /** `path` with the chroot prefixed. */
  full(path: string): string;
  connected(): boolean;
  log(type: string, message: string): void;
}

// The re-list after a watch event takes the read the re-arm just did (with watches set, so nothing
// can change unseen); an older one goes to the server, so periodic resyncs stay a real check.
const FRESH_MS = 1000;

export class ZookeeperWatch {
  readonly watcher = (event: Event): void => {
    const prefix = `${this.host.full(this.path)}/`;
    if (event.getPath().startsWith(prefix)) this.stale.add(event.getPath().slice(prefix.length));
    if (!this.closed) this.arm();
  };
  /** Parsed data of each child read with `watcher` set; rebuilt (reset) on every (re)connect. */
  private readonly cache = new WatchCache();
  private readonly stale = new Set<string>();
  private closed = false;
  private pending = false;
  /** A read is in flight; `again` asks for one more after it (events meanwhile). */
  private arming = false;
  private again = false;
  private reset = true;
  /** The listing read while (re)arming, for the one list() that follows the change it reports. */
  private fresh?: { readonly at: number; readonly listing: Promise<Listing | undefined> };

  constructor(
    readonly path: string,
    private readonly onChange: (change: ListingChange) => void,
    private readonly host: ZkWatchHost,
  ) {
    this.arm();
  }

  close(): void {
    this.closed = true;
  }

  /** After a (re)connect watches may have been lost: read everything again. */
  reconnected(): void {
    this.reset = true;
    this.stale.clear();
    for (const k of [...this.cache.keys()]) this.stale.add(k.slice(this.path.length + 1));
    this.arm();
  }

  /** The listing of the read the last event caused, when it is at most FRESH_MS old (taken once). */
  async takeFresh(): Promise<Listing | undefined> {
    const fresh = this.fresh;
    this.fresh = undefined;
    return fresh && Date.now() - fresh.at <= FRESH_MS ? await fresh.listing : undefined;
  }

  /**
   * Re-read with watches set. Events during a read (a burst of N changes fires up to 2N watches)
   * coalesce into one more read, followed by one more delivery of the newest read.
   */
  private arm(): void {
    if (this.arming) {
      this.again = true;
      return;
    }
    this.arming = true;
    const listing = this.readWatched().finally(() => {
      this.arming = false;
      if (!this.again || this.closed) return;
      this.again = false;
      this.arm();
    });
    this.fresh = { at: Date.now(), listing };
  }

  /** Read the path with watches set (on the path itself when it is missing); undefined on failure. */
  private async readWatched(): Promise<Listing | undefined> {
    const full = this.host.full(this.path);
    try {
      for (let attempt = 0; attempt < 3 && !this.closed; attempt++) {
        const read = await this.read();
        if (read) return this.applied();
        if (!(await this.host.client().exists(full, this.watcher))) {
          this.cache.replaceAll(new Map(), this.reset);
          return this.applied();
        }
      }
    } catch (err) {
      // Re-armed on the next (re)connect; a failure while connected retries shortly.
      this.host.log('watch-failed', `watching ${full}: ${err instanceof Error ? err.message : String(err)}`);
      if (this.host.connected() && !this.closed) setTimeout(() => this.arm(), 1000).unref();
    }
    return undefined;
  }

  /** getChildren, then the data of new and stale children only; false when the path is missing. */
  private async read(): Promise<boolean> {
    const client = this.host.client();
    const full = this.host.full(this.path);
    const children = await client.getChildren(full, this.watcher);
    if (!children) return false;
    const entries = new Map<string, ReturnType<typeof parseInstance>>();
    await Promise.all(
      children.map(async (c) => {
        const key = `${this.path}/${c}`;
        const hit = this.cache.get(key);
        if (hit && !this.stale.has(c)) return void entries.set(key, hit);
        this.stale.delete(c);
        const d = await client.getData(`${full}/${c}`, this.watcher);
        if (d) entries.set(key, parseInstance(key, d.data));
      }),
    );
    this.cache.replaceAll(entries, this.reset);
    return true;
  }

  /** Deliver what the read changed (coalesced), and hand back the listing for list(). */
  private applied(): Listing {
    this.reset = false;
    if (!this.pending && !this.closed) {
      this.pending = true;
      setImmediate(() => {
        this.pending = false;
        const change = this.closed ? undefined : this.cache.take();
        if (change) this.onChange(change);
      });
    }
    return this.cache.listing();
  }
}
