/**
 * One Subscription's registry watch and what it delivered: the registry's watch cache (instances by
 * address) and the addresses changed since the controller last took them. While the registry is
 * connected the cache stands in for a read: every registry re-reads and delivers a `reset` when
 * its connection comes back, so what a connection loss hid is looked at in full.
 */
import { addressOf } from '../net/address.ts';
import type { Instance, ListingChange, Registry, Rejected } from '../registry/registry.ts';
import { within } from '../within.ts';

export interface ViewChange {
  readonly current: ReadonlyMap<string, Instance>;
  /** Addresses changed since the last take; 'all' after a reset or the first delivery. */
  readonly changed: ReadonlySet<string> | 'all';
  readonly rejected: readonly Rejected[];
}

export class RegistryView {
  private readonly unwatch: () => void;
  private dirty = new Set<string>();
  private all = true;
  private last: ListingChange | undefined;
  /** Reconciles waiting in ready() for the first delivery. */
  private waiting = 0;
  private delivered!: () => void;
  private readonly first = new Promise<void>((r) => (this.delivered = r));

  constructor(
    readonly path: string,
    registry: Registry,
    onChange: () => void,
  ) {
    this.unwatch = registry.watch(path, (c) => {
      if (c.reset) this.all = true;
      for (const list of [c.added, c.removed, c.updated]) for (const i of list) this.dirty.add(addressOf(i));
      // A reconcile waiting for the first delivery takes it next: asking for another would run the
      // same work twice (500 Subscription reconciles of 1,000 manifests at a cold start).
      const awaited = !this.last && this.waiting > 0;
      this.last = c;
      this.delivered();
      if (!awaited) onChange();
    });
  }

  /** Wait (at most `ms`) for the first delivery; resolves whether there was one. Rejects when `signal` aborts. */
  async ready(ms: number, signal?: AbortSignal): Promise<boolean> {
    if (this.last) return true;
    this.waiting++;
    try {
      await within(this.first, { ms, onTimeout: () => undefined, signal });
    } finally {
      this.waiting--;
    }
    return this.last !== undefined;
  }

  /** The cache and what changed since the last take (which it clears); undefined before the first delivery. */
  take(): ViewChange | undefined {
    const c = this.last;
    if (!c) return undefined;
    const changed = this.all ? 'all' : this.dirty;
    this.all = false;
    this.dirty = new Set();
    return { current: c.current, changed, rejected: c.rejected };
  }

  /** What was taken could not be applied: the next take looks at everything. */
  untake(): void {
    this.all = true;
  }

  close(): void {
    this.unwatch();
  }
}
