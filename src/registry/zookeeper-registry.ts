/**
 * ZooKeeper registry, wire-compatible with Nerve/Synapse: each registration is an
 * EPHEMERAL_SEQUENTIAL znode `<path>/<instanceId>_<seq>` holding Nerve's JSON. Registrations and
 * watches are desired state: restored on a new session after expiry, re-armed after reconnect.
 */
import { RegistryError } from '../errors.ts';
import { encodeInstance, parseInstance, toListing } from './instance.ts';
import { RegistryStateCell } from './registry-state.ts';
import type { Instance, Listing, ListingChange, Registry, RegistryState, Rejected } from './registry.ts';
import { ZookeeperWatch, type ZkWatchHost } from './zookeeper-watch.ts';
import { CreateMode, ZkClient, ZkException, ZkOpError, creatorAllWorldRead, type ZkClientOptions } from './zookeeper-client.ts';
import { within } from '../within.ts';

export interface ZookeeperRegistryOptions extends ZkClientOptions {
  /** Prefix of every path, e.g. "/smartstack" ("" for none). */
  readonly chroot: string;
  readonly onEvent?: (e: { type: string; message: string }) => void;
}

interface Registration {
  readonly path: string;
  instance: Instance;
  json: string;
  znode: string | undefined;
  /** The json last written to `znode`, and the node version that write produced. */
  written?: string;
  version?: number;
}

export class ZookeeperRegistry implements Registry {
  readonly kind = 'zookeeper';
  private client: ZkClient;
  private readonly conn = new RegistryStateCell('connecting', (s) => this.log('state', `zookeeper ${s}`));
  private closed = false;
  private readonly regs = new Map<string, Registration>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly watches = new Set<ZookeeperWatch>();
  private readonly watchHost: ZkWatchHost = {
    client: () => this.client,
    full: (p) => this.full(p),
    connected: () => this.conn.value === 'connected',
    log: (t, m) => this.log(t, m),
  };

  constructor(private readonly opts: ZookeeperRegistryOptions) {
    this.client = this.newSession();
  }

  async register(path: string, instance: Instance, signal?: AbortSignal): Promise<string> {
    const key = `${path}\0${instance.name}`;
    const json = encodeInstance(instance);
    const reg = this.regs.get(key) ?? { path, instance, json, znode: undefined };
    Object.assign(reg, { instance, json });
    this.regs.set(key, reg);
    try {
      return await within(this.locked(key, () => this.ensure(reg)), { signal });
    } catch (err) {
      if (!(err instanceof RegistryError && err.transient) && this.regs.get(key) === reg) this.regs.delete(key);
      throw err;
    }
  }

  async deregister(path: string, instanceName: string, signal?: AbortSignal): Promise<void> {
    const key = `${path}\0${instanceName}`;
    const reg = this.regs.get(key);
    this.regs.delete(key);
    await within(this.locked(key, async () => {
      if (reg?.znode) await this.client.remove(reg.znode);
      await this.removeOwn(path, instanceName);
    }), { signal });
  }

  list(path: string, signal?: AbortSignal): Promise<Listing> {
    return within(this.read(path), { signal });
  }

  private async read(path: string): Promise<Listing> {
    for (const w of this.watches) if (w.path === path) {
      const fresh = await w.takeFresh();
      if (fresh) return fresh;
      break;
    }
    const full = this.full(path);
    const children = (await this.client.getChildren(full))?.sort();
    if (!children) return toListing([]);
    const entries = await Promise.all(
      children.map(async (c) => {
        const d = await this.client.getData(`${full}/${c}`);
        return d ? parseInstance(`${path}/${c}`, d.data) : undefined;
      }),
    );
    return toListing(entries.filter((e): e is Instance | Rejected => e !== undefined));
  }

  watch(path: string, onChange: (change: ListingChange) => void): () => void {
    const w = new ZookeeperWatch(path, onChange, this.watchHost);
    this.watches.add(w);
    return () => {
      w.close();
      this.watches.delete(w);
    };
  }

  onStateChange(cb: (state: RegistryState) => void): () => void {
    return this.conn.subscribe(cb);
  }

  state(): RegistryState {
    return this.conn.value;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watches) w.close();
    this.watches.clear();
    await this.client.close();
    this.setState('closed');
  }

  private newSession(): ZkClient {
    const client = new ZkClient(this.opts);
    client.onEvent((e) => {
      if (client !== this.client || this.closed) return;
      if (e === 'connected') void this.onConnected(client);
      else if (e === 'disconnected') this.setState('disconnected');
      else if (e === 'expired') this.onExpired();
    });
    client.connect();
    return client;
  }

  private onExpired(): void {
    this.log('expired', 'zookeeper session expired; starting a new session and re-registering');
    this.setState('expired');
    for (const r of this.regs.values()) r.znode = undefined;
    const old = this.client;
    this.client = this.newSession();
    void old.close();
  }

  private async onConnected(client: ZkClient): Promise<void> {
    this.setState('connected');
    const results = await Promise.allSettled(
      [...this.regs].map(([key, reg]) => this.locked(key, () => this.ensure(reg))),
    );
    for (const r of results) if (r.status === 'rejected') this.log('register-failed', String(r.reason));
    if (client !== this.client) return;
    for (const w of this.watches) w.reconnected();
  }

  /**
   * Make sure exactly one znode of ours holds `reg`'s data, creating or updating it. Once we hold a
   * node, only that node is touched (a stat, or a write when the data changed): listing the path on
   * every call made registering N instances cost O(N²) reads.
   */
  private async ensure(reg: Registration): Promise<string> {
    const data = Buffer.from(reg.json);
    if (reg.znode && (await this.refresh(reg, data))) return this.relative(reg.znode);
    reg.znode = undefined;
    const full = this.full(reg.path);
    const sid = this.client.sessionId();
    const { own, stale } = await this.existing(full, reg.instance.name, sid);
    if (own) {
      // A node of our own session (from a create whose reply we missed) is adopted, never duplicated.
      reg.znode = own.znode;
      await this.refresh(reg, data, own.version);
    } else {
      await this.client.mkdirp(full);
      const acls = this.opts.auth ? creatorAllWorldRead() : undefined;
      reg.znode = await this.client.create(`${full}/${reg.instance.name}_`, data, CreateMode.EPHEMERAL_SEQUENTIAL, acls);
      reg.written = reg.json;
      reg.version = 0;
    }
    // Make before break: a crashed predecessor's nodes go only once ours exists, so the instance is
    // never without an entry (for a moment it has two, at the same host:port, which listings merge).
    for (const znode of stale) if (znode !== reg.znode) await this.removeStale(znode);
    return this.relative(reg.znode);
  }

  /**
   * Bring our known node up to date; false when it is gone. A version we did not write means someone
   * else changed it, so it is rewritten.
   */
  private async refresh(reg: Registration, data: Buffer, knownVersion?: number): Promise<boolean> {
    const znode = reg.znode!;
    const version = knownVersion ?? (await this.client.exists(znode))?.version;
    if (version === undefined) return false;
    if (reg.written === reg.json && version === reg.version) return true;
    try {
      reg.version = (await this.client.setData(znode, data)).version;
      reg.written = reg.json;
      return true;
    } catch (err) {
      if (err instanceof ZkOpError && err.zkCode === ZkException.NO_NODE) return false;
      throw err;
    }
  }

  /** One listing of `<name>_*` children of `full`: the first owned by session `sid`, and all others. */
  private async existing(full: string, name: string, sid: Buffer): Promise<{ own?: { znode: string; version: number }; stale: string[] }> {
    const children = (await this.client.getChildren(full))?.filter((c) => c.startsWith(`${name}_`)).sort() ?? [];
    let own: { znode: string; version: number } | undefined;
    const stale: string[] = [];
    for (const child of children) {
      const znode = `${full}/${child}`;
      const stat = await this.client.exists(znode);
      if (!stat) continue;
      if (!own && stat.ephemeralOwner.equals(sid)) own = { znode, version: stat.version };
      else stale.push(znode);
    }
    return own ? { own, stale } : { stale };
  }

  private async removeStale(znode: string): Promise<void> {
    this.log('stale-removed', `removing stale znode ${znode} (a previous session's, or a duplicate)`);
    await this.client.remove(znode).catch((err: unknown) => {
      if (err instanceof ZkOpError && err.zkCode === ZkException.NO_AUTH) this.log('stale-kept', `cannot remove ${znode}: no auth`);
      else throw err;
    });
  }

  /** Delete the `<name>_*` children of `path` that this session owns (duplicates from missed replies). */
  private async removeOwn(path: string, name: string): Promise<void> {
    const full = this.full(path);
    const sid = this.client.sessionId();
    const { own, stale } = await this.existing(full, name, sid);
    if (own) await this.client.remove(own.znode);
    for (const znode of stale) if ((await this.client.exists(znode))?.ephemeralOwner.equals(sid)) await this.client.remove(znode);
  }

  private locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => this.locks.get(key) === tail && this.locks.delete(key));
    return next;
  }

  private full(path: string): string {
    return `${this.opts.chroot}${path}`;
  }

  private relative(znode: string): string {
    return znode.slice(this.opts.chroot.length);
  }

  private setState(s: RegistryState): void {
    if (!this.closed || s === 'closed') this.conn.set(s);
  }

  private log(type: string, message: string): void {
    this.opts.onEvent?.({ type, message });
  }
}
