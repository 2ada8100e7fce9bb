/**
 * Each Subscription's last known non-empty server set, kept in memory and on disk (Synapse's
 * state_file_path), so an agent that starts while its registry is unreachable serves what the
 * previous one last saw, however that one ended (SIGTERM, SIGKILL, reboot). Sets older than the
 * TTL are not used. A corrupt, truncated or foreign file is reported once with its path and ignored.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describeError } from '../errors.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import type { Endpoint as BackendServer } from '../proxy/proxy.ts';
import { isValidHost } from '../manifest/schema.ts';
import { isKeyOf, type ObjectKey } from '../object-key.ts';

const KIND = 'dockstack.io/last-known-backends';
const VERSION = 1;
/** Bounded on both sides: a file this large is not read, and writes drop the oldest sets to fit. */
export const MAX_STATE_BYTES = 4 * 1024 * 1024;
export const DEFAULT_STATE_TTL_MS = 24 * 3600 * 1000;
/** At most one write per this long: a 10,000-server set is ~0.5 MB of JSON, and churn changes it every few ms. */
const WRITE_EVERY_MS = 1000;

export interface KnownSet {
  readonly path: string;
  readonly servers: readonly BackendServer[];
  /** When a registry last listed this set (epoch ms). */
  readonly seenAt: number;
  /** True while the set is the one read from the file at start (no registry answer since). */
  readonly fromFile: boolean;
}

export interface LastKnownOptions {
  /** The state file; undefined keeps sets in memory only. */
  readonly file?: string;
  readonly ttlMs?: number;
  readonly now?: () => number;
  /** Called once per problem with the file (unreadable, corrupt, foreign, unwritable). */
  readonly onProblem?: (message: string) => void;
}

export class LastKnownState {
  /** A set given as a map is the caller's live map: read when needed (a get, a write). */
  private readonly sets = new Map<ObjectKey, Omit<KnownSet, 'servers'> & { readonly servers: readonly BackendServer[] | ReadonlyMap<string, BackendServer>; serversJson?: string }>();
  private timer: NodeJS.Timeout | undefined;
  private lastWrite = 0;
  private readonly now: () => number;
  private readonly ttlMs: number;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  private writeFailed = false;
  /** The text of the last successful write (the agent alone writes the file). */
  private written: string | undefined;

  constructor(private readonly opts: LastKnownOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? DEFAULT_STATE_TTL_MS;
  }

  /** Read the file (missing is fine); anything wrong with it is reported once and the file ignored. */
  async load(): Promise<void> {
    const file = this.opts.file;
    if (!file) return;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.problem(`${describeError(err, `reading state file ${file}`)}; ignoring it`);
      return;
    }
    if (text.length > MAX_STATE_BYTES) return this.problem(`reading state file ${file}: ${text.length} bytes, over the ${MAX_STATE_BYTES}-byte limit; ignoring it`);
    const parsed = parseState(text);
    if (typeof parsed === 'string') return this.problem(`reading state file ${file}: ${parsed}; ignoring it`);
    for (const [key, set] of parsed) this.sets.set(key, set);
  }

  /** The set last known for `key` under `path`, unless it is older than the TTL. */
  get(key: ObjectKey, path: string): KnownSet | undefined {
    const s = this.sets.get(key);
    if (!s || s.path !== path || this.now() - s.seenAt > this.ttlMs) return undefined;
    return { ...s, servers: listOf(s.servers) };
  }

  /** Remember a non-empty set a registry just listed (empty sets are ignored: they are what fail static guards against). */
  set(key: ObjectKey, path: string, servers: readonly BackendServer[]): void;
  /**
   * The same with the caller's live map (address → server: host, port, weight only), kept by
   * reference: the caller only changes it to another non-empty registry set, and says whether it
   * did since the last call.
   */
  set(key: ObjectKey, path: string, servers: ReadonlyMap<string, BackendServer>, changed: boolean): void;
  set(key: ObjectKey, path: string, servers: readonly BackendServer[] | ReadonlyMap<string, BackendServer>, changed?: boolean): void {
    if (('size' in servers ? servers.size : servers.length) === 0) return;
    const prev = this.sets.get(key);
    const kept = 'size' in servers ? servers : servers.map(({ host, port, weight }) => ({ host, port, ...(weight !== undefined && { weight }) }));
    // seenAt refreshes on every listing; the file is rewritten when the set changes, or when the
    // stored time is a tenth of the TTL old (so a stable set does not expire on disk).
    const same = prev && prev.path === path && ('size' in servers ? prev.servers === servers && !changed : sameServers(listOf(prev.servers), servers));
    this.sets.set(key, { path, servers: kept, seenAt: this.now(), fromFile: false, ...(same && prev.serversJson !== undefined && { serversJson: prev.serversJson }) });
    if (!same || prev.fromFile || this.now() - prev.seenAt > this.ttlMs / 10) this.save();
  }

  delete(key: ObjectKey): void {
    if (this.sets.delete(key)) this.save();
  }

  /** Wait for pending writes. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.write();
    }
    await this.writing;
  }

  private save(): void {
    if (!this.opts.file) return;
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, Math.max(0, this.lastWrite + WRITE_EVERY_MS - Date.now()));
    this.timer.unref();
  }

  private write(): void {
    const file = this.opts.file!;
    // One write at a time; writes requested meanwhile coalesce into the next one.
    this.writing = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      this.lastWrite = Date.now();
      try {
        await mkdir(dirname(file), { recursive: true, mode: 0o700 });
        const text = this.render();
        await writeFileAtomic(file, text, { ...(this.written !== undefined && { previous: this.written }) });
        this.written = text;
        this.writeFailed = false;
      } catch (err) {
        if (!this.writeFailed) this.problem(describeError(err, `writing state file ${file}`));
        this.writeFailed = true;
      }
    });
  }

  private render(): string {
    const entries = [...this.sets.entries()].sort((a, b) => b[1].seenAt - a[1].seenAt);
    // What JSON.stringify of the whole state gives (unindented: a 10,000-server set is written in
    // half the time), with each set's server list rendered once until it changes.
    const parts = entries.map(([k, s]) => {
      s.serversJson ??= JSON.stringify(listOf(s.servers));
      return `${JSON.stringify(k)}:{"path":${JSON.stringify(s.path)},"seenAt":"${new Date(s.seenAt).toISOString()}","servers":${s.serversJson}}`;
    });
    for (;;) {
      const text = `{"kind":${JSON.stringify(KIND)},"version":${VERSION},"subscriptions":{${parts.join(',')}}}\n`;
      if (text.length <= MAX_STATE_BYTES || parts.length === 0) return text;
      parts.pop(); // drop the oldest set to stay within the bound
    }
  }

  private problem(message: string): void {
    this.opts.onProblem?.(message);
  }
}

/** The sets in a state file's text, or why it cannot be used. Every server is validated: the file is input. */
export function parseState(text: string): Map<ObjectKey, KnownSet> | string {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return `not JSON (truncated or corrupt): ${(err as Error).message}`;
  }
  const o = raw as { kind?: unknown; version?: unknown; subscriptions?: unknown } | null;
  if (typeof o !== 'object' || o === null || o.kind !== KIND) return `not a DockStack state file (kind ${JSON.stringify((o as { kind?: unknown } | null)?.kind)?.slice(0, 60)})`;
  if (o.version !== VERSION) return `unsupported version ${JSON.stringify(o.version)}`;
  if (typeof o.subscriptions !== 'object' || o.subscriptions === null) return 'no "subscriptions" object';
  const out = new Map<ObjectKey, KnownSet>();
  for (const [key, v] of Object.entries(o.subscriptions as Record<string, unknown>)) {
    const e = v as { path?: unknown; seenAt?: unknown; servers?: unknown } | null;
    const seenAt = typeof e?.seenAt === 'string' ? Date.parse(e.seenAt) : NaN;
    if (!isKeyOf('Subscription', key) || typeof e?.path !== 'string' || Number.isNaN(seenAt) || !Array.isArray(e.servers)) return `entry ${JSON.stringify(key).slice(0, 80)} is malformed`;
    const servers: BackendServer[] = [];
    for (const s of e.servers as unknown[]) {
      const x = s as { host?: unknown; port?: unknown; weight?: unknown } | null;
      const okHost = typeof x?.host === 'string' && isValidHost(x.host);
      const okPort = typeof x?.port === 'number' && Number.isInteger(x.port) && x.port >= 1 && x.port <= 65535;
      const okWeight = x?.weight === undefined || (typeof x.weight === 'number' && Number.isInteger(x.weight) && x.weight >= 0 && x.weight <= 256);
      if (!okHost || !okPort || !okWeight) return `entry ${JSON.stringify(key).slice(0, 80)} has an invalid server ${JSON.stringify(s)?.slice(0, 80)}`;
      servers.push({ host: x!.host as string, port: x!.port as number, ...(x!.weight !== undefined && { weight: x!.weight as number }) });
    }
    if (servers.length) out.set(key, { path: e.path, servers, seenAt, fromFile: true });
  }
  return out;
}

function listOf(servers: readonly BackendServer[] | ReadonlyMap<string, BackendServer>): readonly BackendServer[] {
  return 'size' in servers ? [...servers.values()] : servers;
}

function sameServers(a: readonly BackendServer[], b: readonly BackendServer[]): boolean {
  return a.length === b.length && a.every((s, i) => s.host === b[i]!.host && s.port === b[i]!.port && s.weight === b[i]!.weight);
}
