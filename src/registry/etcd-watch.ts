/**
 * One etcd watch and its cache: a listing read at a revision, then the watch stream's events from
 * the next revision applied to it key by key. A full re-list happens only at the start, after the
 * stream reconnects, and after etcd cancels the watch (compaction): those deliveries are `reset`.
 */
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { PathBudget, PrefixRead } from './etcd-range.ts';
import { parseInstance } from './instance.ts';
import type { ListingChange } from './registry.ts';
import { WatchCache } from './watch-cache.ts';
import { Backoff } from '../backoff.ts';

export interface EtcdWatchHost {
  readonly client: Etcd3;
  /** The key prefix every registry key carries (stripped from listing keys). */
  readonly keyPrefix: string;
  /** A paged, limited read of a prefix (etcd-range.ts), on the listing connection. */
  read(prefix: string): Promise<PrefixRead>;
  closed(): boolean;
  setState(s: 'connected' | 'disconnected'): void;
  log(type: string, message: string): void;
}

interface Pending {
  readonly kv: IKeyValue;
  readonly deleted: boolean;
}

export class EtcdWatch {
  private readonly cache = new WatchCache();
  private watcher: Watcher | undefined;
  private cancelled = false;
  private readonly backoff = new Backoff({ baseMs: 250, capMs: 5000, jitter: 0 });
  private retry: NodeJS.Timeout | undefined;
  /** Revision of the last full read: events at or below it are already in the cache. */
  private listed = 0n;
  /** Events that arrived while a re-list was in flight, applied after it. */
  private buffered: Pending[] | undefined;
  private delivering = false;
  private wasDisconnected = false;
  /** The path's limits as of the last read, carried on by the events. */
  private budget: PathBudget | undefined;

  constructor(
    private readonly prefix: string,
    private readonly onChange: (change: ListingChange) => void,
    private readonly host: EtcdWatchHost,
  ) {
    void this.open();
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    clearTimeout(this.retry);
    await this.watcher?.cancel().catch(() => undefined);
  }

  // watcher() attaches at once (create() only resolves once connected): we hold the watcher from the
  // start, so it can always be cancelled; one left attached made the closed client retry forever.
  private async open(): Promise<void> {
    if (!(await this.relist())) return;
    if (this.cancelled || this.host.closed()) return;
    const w = this.host.client.watch().prefix(this.prefix).startRevision(String(this.listed + 1n)).watcher();
    this.watcher = w;
    w.on('put', (kv) => this.event({ kv, deleted: false })).on('delete', (kv) => this.event({ kv, deleted: true }));
    w.on('connected', () => {
      this.backoff.reset(this.prefix);
      this.host.setState('connected');
      // The library resumes from its last revision, but what happened while the stream was down
      // is re-read once, so nothing depends on its resume being exact.
      if (this.wasDisconnected) void this.relist();
      this.wasDisconnected = false;
    });
    w.on('disconnected', () => {
      this.wasDisconnected = true;
      this.host.setState('disconnected');
    });
    // etcd cancels a watch whose resume revision was compacted away, and the library gives up on it:
    // watch again from the current revision, after a re-list, so the compacted changes are not missed.
    w.on('error', (err) => {
      if (this.cancelled || this.host.closed() || this.watcher !== w) return;
      const ms = this.backoff.next(this.prefix);
      this.host.log('watch-error', `watching ${this.prefix}: ${err.message}; watching again in ${ms} ms`);
      void w.cancel().catch(() => undefined);
      this.watcher = undefined;
      this.retry = setTimeout(() => !this.cancelled && !this.host.closed() && void this.open(), ms);
    });
  }

  /** Read the whole prefix at one revision and replace the cache (reset), then apply what arrived meanwhile. */
  private async relist(): Promise<boolean> {
    this.buffered ??= [];
    try {
      const res = await this.host.read(this.prefix);
      if (this.cancelled) return false;
      const entries = new Map<string, ReturnType<typeof parseInstance>>();
      for (const kv of res.kvs) {
        const key = kv.key.toString().slice(this.host.keyPrefix.length);
        entries.set(key, parseInstance(key, kv.value));
      }
      for (const r of res.overLimit) entries.set(r.key, r);
      this.budget = res.budget;
      this.listed = res.revision;
      this.cache.replaceAll(entries, true);
      const late = this.buffered ?? [];
      this.buffered = undefined;
      for (const e of late) this.apply(e);
      this.deliver();
      return true;
    } catch (err) {
      if (this.cancelled || this.host.closed()) return false;
      this.host.setState('disconnected');
      const ms = this.backoff.next(this.prefix);
      this.host.log('watch-failed', `listing ${this.prefix}: ${err instanceof Error ? err.message : String(err)}; again in ${ms} ms`);
      // Before the stream exists the whole open() is retried; after, only the re-list.
      const again = this.watcher ? () => void this.relist() : () => void this.open();
      this.retry = setTimeout(() => !this.cancelled && !this.host.closed() && again(), ms);
      return false;
    }
  }

  private event(e: Pending): void {
    if (this.buffered) this.buffered.push(e);
    else {
      this.apply(e);
      this.deliver();
    }
  }

  private apply({ kv, deleted }: Pending): void {
    if (BigInt(kv.mod_revision) <= this.listed) return;
    const key = kv.key.toString().slice(this.host.keyPrefix.length);
    const over = this.budget?.update(kv.key.toString(), deleted ? undefined : kv.key.length + kv.value.length);
    if (deleted) this.cache.delete(key);
    else this.cache.put(key, over ?? parseInstance(key, kv.value));
  }

  private deliver(): void {
    if (this.delivering || this.cancelled) return;
    this.delivering = true;
    setImmediate(() => {
      this.delivering = false;
      const change = this.cancelled ? undefined : this.cache.take();
      if (change) this.onChange(change);
    });
  }
}
