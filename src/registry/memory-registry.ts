/**
 * The embedded registry (`memory://`): one process, no server. Also the reference implementation
 * the conformance suite checks the real ones against. Stores the same JSON bytes the real ones do,
 * so `seed()` can plant hostile data for tests.
 */
import { RegistryError } from '../errors.ts';
import { encodeInstance, parseInstance, toListing } from './instance.ts';
import { RegistryStateCell } from './registry-state.ts';
import type { Instance, Listing, Registry, RegistryState } from './registry.ts';

export class MemoryRegistry implements Registry {
  readonly kind = 'memory';
  /** path -> child key -> JSON data */
  private readonly data = new Map<string, Map<string, string>>();
  private readonly watchers = new Map<string, Set<() => void>>();
  private readonly conn = new RegistryStateCell('connected');

  async register(path: string, instance: Instance): Promise<string> {
    this.assertOpen();
    const children = this.data.get(path) ?? new Map<string, string>();
    this.data.set(path, children);
    const json = encodeInstance(instance);
    if (children.get(instance.name) !== json) {
      children.set(instance.name, json);
      this.notify(path);
    }
    return `${path}/${instance.name}`;
  }

  async deregister(path: string, instanceName: string): Promise<void> {
    this.assertOpen();
    if (this.data.get(path)?.delete(instanceName)) this.notify(path);
  }

  async list(path: string): Promise<Listing> {
    this.assertOpen();
    const children = [...(this.data.get(path) ?? new Map<string, string>())].sort(([a], [b]) => a.localeCompare(b));
    return toListing(children.map(([k, v]) => parseInstance(`${path}/${k}`, v)));
  }

  watch(path: string, onChange: () => void): () => void {
    const set = this.watchers.get(path) ?? new Set();
    this.watchers.set(path, set);
    set.add(onChange);
    return () => set.delete(onChange);
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
  }

  /** Test hook: write raw (possibly hostile) data as another agent would. */
  seed(path: string, key: string, raw: string): void {
    const children = this.data.get(path) ?? new Map<string, string>();
    this.data.set(path, children);
    children.set(key, raw);
    this.notify(path);
  }

  /** Test hook: simulate an outage (operations throw transient errors) and recovery. */
  setAvailable(available: boolean): void {
    this.setState(available ? 'connected' : 'disconnected');
    if (available) for (const path of this.watchers.keys()) this.notify(path);
  }

  private setState(s: RegistryState): void {
    this.conn.set(s);
  }

  private assertOpen(): void {
    const s = this.conn.value;
    if (s !== 'connected') throw new RegistryError(`memory registry is ${s}`, { transient: s !== 'closed' });
  }

  private notify(path: string): void {
    for (const cb of this.watchers.get(path) ?? []) queueMicrotask(cb);
  }
}
