/**
 * ZooKeeper registry, wire-compatible with Nerve/Synapse: each registration is an
 * EPHEMERAL_SEQUENTIAL znode `<path>/<instanceId>_<seq>` holding Nerve's JSON. Registrations and
 * watches are desired state: restored on a new session after expiry, re-armed after reconnect.
 */
import { RegistryError } from '../errors.ts';
import { encodeInstance, parseInstance, toListing } from './instance.ts';
import { RegistryStateCell } from './registry-state.ts';
import type { Instance, Listing, Registry, RegistryState } from './registry.ts';
import { CreateMode, ZkClient, ZkException, ZkOpError, creatorAllWorldRead, type ZkClientOptions } from './zookeeper-client.ts';

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
}

interface WatchEntry {
  readonly path: string;
  readonly onChange: () => void;
  readonly watcher: () => void;
  closed: boolean;
  pending: boolean;
}

export class ZookeeperRegistry implements Registry {
  readonly kind = 'zookeeper';
  private client: ZkClient;
  private readonly conn = new RegistryStateCell('connecting', (s) => this.log('state', `zookeeper ${s}`));
  private closed = false;
  private readonly regs = new Map<string, Registration>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly watches = new Set<WatchEntry>();

  constructor(private readonly opts: ZookeeperRegistryOptions) {
    this.client = this.newSession();
  }

  async register(path: string, instance: Instance): Promise<string> {
    const key = `${path}\0${instance.name}`;
    const json = encodeInstance(instance);
    const reg = this.regs.get(key) ?? { path, instance, json, znode: undefined };
    Object.assign(reg, { instance, json });
    this.regs.set(key, reg);
    try {
      return await this.locked(key, () => this.ensure(reg));
    } catch (err) {
      if (!(err instanceof RegistryError && err.transient) && this.regs.get(key) === reg) this.regs.delete(key);
      throw err;
    }
  }

  async deregister(path: string, instanceName: string): Promise<void> {
    const key = `${path}\0${instanceName}`;
    const reg = this.regs.get(key);
    this.regs.delete(key);
    await this.locked(key, async () => {
      if (reg?.znode) await this.client.remove(reg.znode);
      await this.removeOwn(path, instanceName, 'own');
    });
  }

  async list(path: string): Promise<Listing> {
    const full = this.full(path);
    const children = ((await this.client.getChildren(full)) ?? []).sort();
    const datas = await Promise.all(children.map((c) => this.client.getData(`${full}/${c}`)));
    const entries = children.flatMap((c, i) => {
      const d = datas[i];
      return d ? [parseInstance(`${path}/${c}`, d.data)] : [];
    });
    return toListing(entries);
  }

  watch(path: string, onChange: () => void): () => void {
    const entry: WatchEntry = { path, onChange, closed: false, pending: false, watcher: () => this.fired(entry) };
    this.watches.add(entry);
    void this.arm(entry);
    return () => {
      entry.closed = true;
      this.watches.delete(entry);
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
    for (const w of this.watches) w.closed = true;
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
    for (const w of this.watches) {
      void this.arm(w);
      this.fired(w, false);
    }
  }

  /** Make sure exactly one znode of ours holds `reg`'s data, creating or updating it. */
  private async ensure(reg: Registration): Promise<string> {
    const data = Buffer.from(reg.json);
    if (reg.znode) {
      const cur = await this.client.getData(reg.znode);
      if (cur) {
        if (!cur.data?.equals(data)) await this.client.setData(reg.znode, data);
        return this.relative(reg.znode);
      }
      reg.znode = undefined;
    }
    const full = this.full(reg.path);
    // A node of our own session (from a create whose reply we missed) is adopted, never duplicated.
    const adopted = await this.firstOwn(full, reg.instance.name);
    if (!adopted) {
      await this.client.mkdirp(full);
      const acls = this.opts.auth ? creatorAllWorldRead() : undefined;
      reg.znode = await this.client.create(`${full}/${reg.instance.name}_`, data, CreateMode.EPHEMERAL_SEQUENTIAL, acls);
    } else reg.znode = adopted;
    // Make before break: a crashed predecessor's nodes go only once ours exists, so the instance is
    // never without an entry (for a moment it has two, at the same host:port, which listings merge).
    await this.removeOwn(reg.path, reg.instance.name, 'stale', reg.znode);
    return adopted ? this.ensure(reg) : this.relative(reg.znode);
  }

  /** The first `<name>_*` child of `full` owned by this session, if any. */
  private async firstOwn(full: string, name: string): Promise<string | undefined> {
    const children = (await this.client.getChildren(full))?.filter((c) => c.startsWith(`${name}_`)).sort() ?? [];
    const sid = this.client.sessionId();
    for (const child of children) {
      const stat = await this.client.exists(`${full}/${child}`);
      if (stat?.ephemeralOwner.equals(sid)) return `${full}/${child}`;
    }
    return undefined;
  }

  /**
   * Delete `<name>_*` children of `path`: with 'stale' every one but `keep` (a crashed predecessor's,
   * or a duplicate of ours); with 'own' those of this session.
   */
  private async removeOwn(path: string, name: string, which: 'stale' | 'own', keep?: string): Promise<void> {
    const full = this.full(path);
    const mine = (await this.client.getChildren(full))?.filter((c) => c.startsWith(`${name}_`)).sort() ?? [];
    const sid = this.client.sessionId();
    for (const child of mine) {
      const znode = `${full}/${child}`;
      if (znode === keep) continue;
      const stat = await this.client.exists(znode);
      if (!stat) continue;
      const ours = stat.ephemeralOwner.equals(sid);
      if (which === 'own' && !ours) continue;
      if (which === 'stale' && !ours) this.log('stale-removed', `removing stale znode ${znode} of a previous session`);
      await this.client.remove(znode).catch((err: unknown) => {
        if (err instanceof ZkOpError && err.zkCode === ZkException.NO_AUTH) this.log('stale-kept', `cannot remove ${znode}: no auth`);
        else throw err;
      });
    }
  }

  private async arm(entry: WatchEntry): Promise<void> {
    const full = this.full(entry.path);
    try {
      for (let attempt = 0; attempt < 3 && !entry.closed; attempt++) {
        const children = await this.client.getChildren(full, entry.watcher);
        if (children) {
          await Promise.all(children.map((c) => this.client.getData(`${full}/${c}`, entry.watcher)));
          return;
        }
        if (!(await this.client.exists(full, entry.watcher))) return;
      }
    } catch (err) {
      // Re-armed on the next (re)connect; a failure while connected retries shortly.
      this.log('watch-failed', `watching ${full}: ${err instanceof Error ? err.message : String(err)}`);
      if (this.conn.value === 'connected' && !entry.closed) setTimeout(() => void this.arm(entry), 1000).unref();
    }
  }

  private fired(entry: WatchEntry, rearm = true): void {
    if (entry.closed) return;
    if (rearm) void this.arm(entry);
    if (entry.pending) return;
    entry.pending = true;
    setImmediate(() => {
      entry.pending = false;
      if (!entry.closed) entry.onChange();
    });
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
