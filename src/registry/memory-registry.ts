/**
 * The embedded registry (`memory://`): one process, no server. Also the reference implementation
 * the conformance suite checks the real ones against. Stores the same JSON bytes the real ones do,
 * so `seed()` can plant hostile data for tests.
 */
import { RegistryError } from '../errors.ts';
import { encodeInstance, parseInstance, toListing } from './instance.ts';
import { RegistryStateCell } from './registry-state.ts';
import type { Instance, Listing, ListingChange, Rejected, Registry, RegistryState } from './registry.ts';
import { WatchCache } from './watch-cache.ts';
import { throwIfAborted } from '../within.ts';
import { ordinal } from '../ordinal.ts';

interface MemoryWatch {
  readonly onChange: (change: ListingChange) => void;
  readonly cache: WatchCache;
  /** Raw bytes per child as last delivered. */
  raw?: Map<string, string>;
  reset: boolean;
  pending: boolean;
}

/**
 * The data several MemoryRegistry clients share, as agents share one ZooKeeper: each client has its
 * own connection state and watches, and hears every client's writes.
 */
export class MemoryStore {
  /** path -> child key -> JSON data */
  readonly data = new Map<string, Map<string, string>>();
  readonly clients = new Set<{ notify(path: string): void }>();

  /** Tell every client's watches on `path` that it changed. */
  changed(path: string): void {
    for (const c of this.clients) c.notify(path);
  }
}

export class MemoryRegistry implements Registry {
  readonly kind = 'memory';
  private readonly data: Map<string, Map<string, string>>;
  private readonly watchers = new Map<string, Set<MemoryWatch>>();
  private readonly conn = new RegistryStateCell('connected');

  /** A client of `store`; by default of a store of its own (one process, `memory://`). */
  constructor(private readonly store = new MemoryStore()) {
    this.data = store.data;
    store.clients.add(this);
  }

  async register(path: string, instance: Instance, signal?: AbortSignal): Promise<string> {
    throwIfAborted(signal);
    this.assertOpen();
    const children = this.data.get(path) ?? new Map<string, string>();
    this.data.set(path, children);
    const json = encodeInstance(instance);
    if (children.get(instance.name) !== json) {
      children.set(instance.name, json);
      this.store.changed(path);
    }
    return `${path}/${instance.name}`;
  }

  async deregister(path: string, instanceName: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    this.assertOpen();
    if (this.data.get(path)?.delete(instanceName)) this.store.changed(path);
  }

  async list(path: string, signal?: AbortSignal): Promise<Listing> {
    throwIfAborted(signal);
    this.assertOpen();
    const children = [...(this.data.get(path) ?? new Map<string, string>())].sort(([a], [b]) => ordinal(a, b));
    return toListing(children.map(([k, v]) => parseInstance(`${path}/${k}`, v)));
  }

  watch(path: string, onChange: (change: ListingChange) => void): () => void {
    const set = this.watchers.get(path) ?? new Set();
    this.watchers.set(path, set);
    const w: MemoryWatch = { onChange, cache: new WatchCache(), reset: true, pending: false };
    set.add(w);
    this.deliver(path, w);
    return () => set.delete(w);
  }

  onStateChange(cb: (state: RegistryState) => void): () => void {
    return this.conn.subscribe(cb);
  }

  state(): RegistryState {
    return this.conn.value;
  }

  async close(): Promise<void> {
    this.setState('closed');
    this.watchers.clear();
    this.store.clients.delete(this);
  }

  /** Test hook: write raw (possibly hostile) data as another agent would. */
  seed(path: string, key: string, raw: string): void {
    const children = this.data.get(path) ?? new Map<string, string>();
    this.data.set(path, children);
    children.set(key, raw);
    this.store.changed(path);
  }

  /** Test hook: simulate an outage (operations throw transient errors) and recovery. */
  setAvailable(available: boolean): void {
    this.setState(available ? 'connected' : 'disconnected');
    if (available) for (const [path, set] of this.watchers) for (const w of set) (w.reset = true), this.deliver(path, w);
  }

  private setState(s: RegistryState): void {
    this.conn.set(s);
  }

  private assertOpen(): void {
    const s = this.conn.value;
    if (s !== 'connected') throw new RegistryError(`memory registry is ${s}`, { transient: s !== 'closed' });
  }

  /** The store's callback: deliver to this client's watches on `path`. */
  notify(path: string): void {
    for (const w of this.watchers.get(path) ?? []) this.deliver(path, w);
  }

  /** The reference implementation diffs a full read; the real registries apply only what changed. */
  private deliver(path: string, w: MemoryWatch): void {
    if (w.pending) return;
    w.pending = true;
    queueMicrotask(() => {
      w.pending = false;
      if (this.conn.value !== 'connected' || !this.watchers.get(path)?.has(w)) return;
      const children = this.data.get(path) ?? new Map<string, string>();
      const entries = new Map<string, Instance | Rejected>();
      for (const [k, v] of children) {
        const key = `${path}/${k}`;
        const cached = w.raw?.get(k) === v ? w.cache.get(key) : undefined;
        entries.set(key, cached ?? parseInstance(key, v));
      }
      w.raw = new Map(children);
      w.cache.replaceAll(entries, w.reset);
      w.reset = false;
      const change = w.cache.take();
      if (change) w.onChange(change);
    });
  }
}
