/**
 * Reading one etcd prefix in pages, within limits. Anyone with write access can put entries under a
 * watched path: 80 values of 60 KB made one range response 4.8 MB, over gRPC's 4 MiB receive limit,
 * and its retries opened the client's circuit breaker for every other path. Here every page is read
 * at one revision, a page too large to receive is halved and read again, and each path has an entry
 * and a byte budget: entries past it are reported as rejected (keys only are read for them).
 */
import { GRPCResourceExhastedError, type IKeyValue, type KVClient } from 'etcd3';
import type { Rejected } from './registry.ts';

export interface PathLimits {
  /** Entries read per path; those past it are counted and reported as one rejected entry. */
  readonly maxEntries: number;
  /** Key and value bytes admitted per path; entries past it are rejected (their keys still listed). */
  readonly maxBytes: number;
}

export const DEFAULT_PATH_LIMITS: PathLimits = { maxEntries: 100_000, maxBytes: 16 * 1024 * 1024 };

export interface PrefixRead {
  /** Entries admitted, in key order. */
  readonly kvs: readonly IKeyValue[];
  /** Entries past the path's limits. */
  readonly overLimit: readonly Rejected[];
  readonly revision: bigint;
  /** The path's budget as of the read, for the watch's events to carry on. */
  readonly budget: PathBudget;
}

/** Entries per page at most. Measured, 10,000 ~100-byte entries: 512 a page (21 round trips) p50 260 ms, 8,192 (3) 120 ms, a plain single range 145 ms. */
const MAX_PAGE = 8192;
/** Pages are sized from the entries seen so far to about this many bytes. */
const PAGE_BYTES = 1024 * 1024;

/**
 * Read every key under `prefix` (a string ending in "/") at one revision. `keyOf` turns an etcd key
 * into the key rejected entries are reported under.
 */
export async function readPrefix(kv: KVClient, prefix: string, limits: PathLimits, keyOf: (k: string) => string): Promise<PrefixRead> {
  const end = prefixEnd(Buffer.from(prefix));
  const budget = new PathBudget(limits, keyOf);
  const kvs: IKeyValue[] = [];
  let from: Buffer = Buffer.from(prefix);
  let revision: string | undefined;
  let total: number | undefined;
  let page = 64;
  let seen = 0;
  let seenBytes = 0;
  for (;;) {
    const keysOnly = budget.full();
    let res;
    try {
      res = await kv.range({ key: from, range_end: end, limit: page, ...(revision && { revision }), ...(keysOnly && { keys_only: true }) });
    } catch (err) {
      if (!(err instanceof GRPCResourceExhastedError)) throw err;
      if (page > 1) {
        page = Math.ceil(page / 2);
        continue;
      }
      // One value alone is over the receive limit (etcd's --max-request-bytes raised past it): skip it by name.
      const one = await kv.range({ key: from, range_end: end, limit: 1, keys_only: true, ...(revision && { revision }) });
      const k = one.kvs[0];
      if (!k) break;
      budget.reject(k.key.toString(), `value too large to receive (${err.message.replace(/^.*?(\(\d+ vs \d+\)).*$/, '$1')})`);
      from = after(k.key);
      continue;
    }
    revision ??= res.header.revision;
    total ??= Number(res.count);
    for (const e of res.kvs) {
      if (budget.entries >= limits.maxEntries) break;
      seen++;
      seenBytes += e.key.length + e.value.length;
      if (budget.admit(e.key.toString(), e.key.length + e.value.length, keysOnly)) kvs.push(e);
    }
    const last = res.kvs.at(-1);
    if (!res.more || !last || budget.entries >= limits.maxEntries) break;
    from = after(last.key);
    page = budget.full() ? MAX_PAGE : Math.max(1, Math.min(MAX_PAGE, Math.floor(PAGE_BYTES / Math.max(1, seenBytes / seen))));
  }
  const overLimit = [...budget.rejected];
  if (total !== undefined && total > budget.entries)
    overLimit.push({ key: `${keyOf(prefix)}*`, reason: `${total - budget.entries} more entries past the ${limits.maxEntries}-entry limit of a path are not read` });
  return { kvs, overLimit, revision: BigInt(revision ?? 0), budget };
}

/** The limits of one path as entries come and go (the listing, then the watch's events). */
export class PathBudget {
  private readonly sizes = new Map<string, number>();
  private readonly present = new Set<string>();
  private bytes = 0;
  private overBytes = false;
  readonly rejected: Rejected[] = [];

  constructor(
    private readonly limits: PathLimits,
    private readonly keyOf: (k: string) => string,
  ) {}

  /** Keys counted (admitted or not). */
  get entries(): number {
    return this.present.size;
  }

  /** An entry did not fit: those after it in key order are rejected too, so only their keys are read. */
  full(): boolean {
    return this.overBytes;
  }

  /** Count `key` in while listing; false (and a rejected entry) when it does not fit, or `keysOnly` says its value was not read. */
  admit(key: string, size: number, keysOnly = false): boolean {
    this.present.add(key);
    if (!keysOnly && !this.overBytes && this.bytes + size <= this.limits.maxBytes) {
      this.sizes.set(key, size);
      this.bytes += size;
      return true;
    }
    this.overBytes = true;
    this.reject(key, `over the ${this.limits.maxBytes}-byte limit of a path (the entries before it in key order fill it)`);
    return false;
  }

  reject(key: string, reason: string): void {
    this.present.add(key);
    this.rejected.push({ key: this.keyOf(key), reason });
  }

  /** A watch event: the new size of `key` (undefined: deleted). Returns a Rejected when it does not fit. */
  update(key: string, size: number | undefined): Rejected | undefined {
    const old = this.sizes.get(key);
    if (old !== undefined) {
      this.bytes -= old;
      this.sizes.delete(key);
    }
    if (size === undefined) {
      this.present.delete(key);
      return undefined;
    }
    this.present.add(key);
    if (this.present.size > this.limits.maxEntries) return { key: this.keyOf(key), reason: `past the ${this.limits.maxEntries}-entry limit of a path` };
    if (this.bytes + size > this.limits.maxBytes) return { key: this.keyOf(key), reason: `over the ${this.limits.maxBytes}-byte limit of a path` };
    this.sizes.set(key, size);
    this.bytes += size;
    return undefined;
  }
}

/** The smallest key after `key`. */
function after(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([0])]);
}

/** The end of the range of keys starting with `prefix`. */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
