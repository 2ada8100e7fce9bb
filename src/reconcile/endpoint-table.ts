/**
 * One Subscription's servers as the proxy gets them, kept incrementally: registry entries (by
 * their "host:port") → endpoints with IP literals (names resolved, bounded by the resolver), one
 * per address (the first entry to claim an address holds it; the next takes over when it goes),
 * maintenance applied. A change costs work proportional to the entries it names, and the table
 * says what changed since the last commit: the proxy's update, the events, the status.
 */
import { isIP } from 'node:net';
import { addressOf, canonicalIp } from '../net/address.ts';
import type { HostResolver, Resolution } from '../net/host-resolver.ts';
import type { Endpoint, EndpointChange } from '../proxy/proxy.ts';
import type { Rejected } from '../registry/registry.ts';
import { ordinal } from '../ordinal.ts';

/** A server as the registry (or a fallback) names it: host may be a hostname. */
export interface SourceServer {
  readonly host: string;
  readonly port: number;
  readonly weight?: number;
}

export interface TableChange extends EndpointChange {
  /** Addresses that joined, and left, the set. */
  readonly added: readonly string[];
  readonly gone: readonly string[];
}

/** An entry's server, and what it came to: an endpoint at an address, or why it was rejected. */
type Entry = { readonly source: SourceServer } & ({ readonly addr: string; readonly endpoint: Endpoint } | { readonly reason: string });

export class EndpointTable {
  /** Entry → its endpoint (held or not), or why it was rejected. */
  private readonly entries = new Map<string, Entry>();
  /** Address → entries resolving to it, holder first. */
  private readonly claims = new Map<string, string[]>();
  private readonly live = new Map<string, Endpoint>();
  /** Entries whose host is a name: re-resolved at every patch. */
  private readonly named = new Set<string>();
  /** Addresses changed since the last commit, with the endpoint they had then. */
  private readonly pending = new Map<string, Endpoint | undefined>();
  private sorted: readonly string[] = [];

  constructor(private readonly resolver: HostResolver) {}

  /** Set each entry to its server (undefined: gone), names re-resolved; `maint` holds addresses out of rotation. */
  async patch(changes: Iterable<readonly [string, SourceServer | undefined]>, maint: ReadonlySet<string>, signal?: AbortSignal): Promise<void> {
    const todo = new Map(changes);
    for (const e of this.named) if (!todo.has(e)) todo.set(e, this.entries.get(e)?.source);
    const names = [...todo.values()].flatMap((s) => (s && isIP(s.host) === 0 ? [s.host] : []));
    const resolved: ReadonlyMap<string, Resolution> = names.length ? await this.resolver.resolveAll(names, signal) : new Map();
    for (const [entry, s] of todo) {
      this.drop(entry);
      if (!s) continue;
      if (isIP(s.host) === 0) this.named.add(entry);
      const r = resolved.get(s.host) ?? canonicalIp(s.host);
      if ('reason' in r) {
        this.entries.set(entry, { source: s, reason: r.reason });
        continue;
      }
      const addr = addressOf({ host: r.ip, port: s.port });
      const endpoint: Endpoint = { host: r.ip, port: s.port, ...(s.weight !== undefined && { weight: s.weight }), ...((maint.has(entry) || maint.has(addr)) && { maintenance: true }) };
      this.entries.set(entry, { source: s, addr, endpoint });
      const list = this.claims.get(addr) ?? [];
      this.claims.set(addr, list);
      list.push(entry);
      if (list.length === 1) this.put(addr, endpoint);
    }
  }

  /** Make the table hold exactly `servers` (by "host:port"): every entry is looked at. */
  async replace(servers: Iterable<SourceServer>, maint: ReadonlySet<string>, signal?: AbortSignal): Promise<void> {
    const next = new Map<string, SourceServer | undefined>();
    for (const e of this.entries.keys()) next.set(e, undefined);
    for (const s of servers) next.set(addressOf(s), s);
    await this.patch(next, maint, signal);
  }

  endpoints(): Endpoint[] {
    return [...this.live.values()];
  }

  get size(): number {
    return this.live.size;
  }

  /** Entries rejected (a name that does not resolve). */
  rejected(): Rejected[] {
    return [...this.named].flatMap((e) => {
      const x = this.entries.get(e);
      return x && 'reason' in x ? [{ key: e, reason: x.reason }] : [];
    });
  }

  /** What changed since the last commit (the proxy's update and the events). */
  change(): TableChange {
    const set: Endpoint[] = [];
    const removed: Endpoint[] = [];
    const added: string[] = [];
    const gone: string[] = [];
    for (const [addr, before] of this.pending) {
      const now = this.live.get(addr);
      if (now && !same(before, now)) set.push(now);
      if (now && !before) added.push(addr);
      if (!now && before) removed.push(before), gone.push(addr);
    }
    return { set, removed, added, gone };
  }

  /** The change was applied: the sorted address list moves on, and changes count from here. */
  commit(c: TableChange = this.change()): void {
    if (c.added.length || c.gone.length) {
      const next = [...this.sorted];
      for (const a of c.gone) {
        const i = search(next, a);
        if (next[i] === a) next.splice(i, 1);
      }
      for (const a of [...c.added].sort(ordinal)) next.splice(search(next, a), 0, a);
      this.sorted = next;
    }
    this.pending.clear();
  }

  /** The addresses served, sorted; a new array whenever the set changed at a commit. */
  addresses(): readonly string[] {
    return this.sorted;
  }

  /** Forget `entry`: its address passes to the next entry claiming it, or leaves the set. */
  private drop(entry: string): void {
    const old = this.entries.get(entry);
    if (!old) return;
    this.entries.delete(entry);
    this.named.delete(entry);
    if ('reason' in old) return;
    const list = this.claims.get(old.addr)!;
    const holder = list[0] === entry;
    list.splice(list.indexOf(entry), 1);
    if (!holder) return;
    const next = list[0];
    if (next === undefined) {
      this.claims.delete(old.addr);
      this.put(old.addr, undefined);
    } else {
      const e = this.entries.get(next);
      if (e && 'endpoint' in e) this.put(old.addr, e.endpoint);
    }
  }

  private put(addr: string, e: Endpoint | undefined): void {
    if (!this.pending.has(addr)) this.pending.set(addr, this.live.get(addr));
    if (e) this.live.set(addr, e);
    else this.live.delete(addr);
  }
}

function same(a: Endpoint | undefined, b: Endpoint): boolean {
  return !!a && a.host === b.host && a.port === b.port && a.weight === b.weight && a.maintenance === b.maintenance;
}

/** First index in sorted `xs` whose value is ≥ `x`. */
function search(xs: readonly string[], x: string): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
