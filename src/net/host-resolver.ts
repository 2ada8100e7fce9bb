/**
 * Name resolution for registry hostnames, bounded: at most `concurrency` lookups in flight agent-wide,
 * and every name answers within `timeoutMs` of being asked (resolved, or a reason). Registry data is
 * untrusted, so a name that never answers must cost one rejected entry, not a stalled reconcile.
 * A name that resolved before and now only times out keeps its last address (fail static, as
 * HAProxy's resolvers hold a valid answer); a name that fails to resolve is rejected at once.
 */
import { lookup as systemLookup } from 'node:dns/promises';
import { within } from '../within.ts';
import { canonicalIp } from './address.ts';

/** One name → one address; rejects when the name does not resolve. */
export type Lookup = (name: string) => Promise<string>;

export interface HostResolverOptions {
  /** Default: the system resolver (getaddrinfo: /etc/hosts, then DNS), first address. */
  readonly lookup?: Lookup;
  readonly timeoutMs?: number;
  readonly concurrency?: number;
}

export type Resolution = { readonly ip: string } | { readonly reason: string };

export const DEFAULT_RESOLVE_TIMEOUT_MS = 2000;
// getaddrinfo holds a libuv pool thread (4 by default) until it returns, even after we stop
// waiting: two of them in flight leave the other two to file reads and writes when DNS hangs.
export const DEFAULT_RESOLVE_CONCURRENCY = 2;

const MAX_REMEMBERED = 10_000;

export class HostResolver {
  private readonly lookup: Lookup;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  /** Lookups running now, by name; a timed-out one stays here (and holds its slot) until it settles. */
  private readonly inFlight = new Map<string, Promise<Resolution>>();
  private readonly waiting: Array<() => void> = [];
  private running = 0;
  /** The last address of each name that resolved, oldest first (bounded). */
  private readonly lastGood = new Map<string, string>();

  constructor(opts: HostResolverOptions = {}) {
    this.lookup = opts.lookup ?? (async (n) => (await systemLookup(n)).address);
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS;
    this.concurrency = Math.max(1, opts.concurrency ?? DEFAULT_RESOLVE_CONCURRENCY);
  }

  /** Resolve every name at once (bounded as above); the map holds an answer for each. Rejects when `signal` aborts. */
  async resolveAll(names: Iterable<string>, signal?: AbortSignal): Promise<Map<string, Resolution>> {
    const unique = [...new Set(names)];
    const out = new Map<string, Resolution>();
    let open = true;
    const answers = Promise.all(unique.map(async (n) => {
      const r = await this.one(n);
      if (open) out.set(n, r);
    }));
    try {
      await within(answers, { ms: this.timeoutMs, onTimeout: () => [], signal });
    } finally {
      open = false;
    }
    for (const n of unique) {
      const r = out.get(n);
      if (r && 'ip' in r) this.remember(n, r.ip);
      else if (r) this.lastGood.delete(n);
      else {
        const ip = this.lastGood.get(n);
        out.set(n, ip ? { ip } : { reason: `resolving ${n}: no answer within ${this.timeoutMs} ms` });
      }
    }
    return out;
  }

  private remember(name: string, ip: string): void {
    this.lastGood.delete(name);
    this.lastGood.set(name, ip);
    if (this.lastGood.size > MAX_REMEMBERED) this.lastGood.delete(this.lastGood.keys().next().value!);
  }

  private one(name: string): Promise<Resolution> {
    let p = this.inFlight.get(name);
    if (!p) {
      p = this.run(name).finally(() => this.inFlight.delete(name));
      this.inFlight.set(name, p);
    }
    return p;
  }

  private async run(name: string): Promise<Resolution> {
    // A freed slot passes straight to the next waiter, so the count never goes over the cap.
    if (this.running < this.concurrency) this.running++;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return canonicalIp(await this.lookup(name));
    } catch (err) {
      return { reason: `resolving ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
