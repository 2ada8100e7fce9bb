/**
 * ZooKeeper registry, wire-compatible with Nerve/Synapse: each registration is an
 * EPHEMERAL_SEQUENTIAL znode `<path>/<instanceId>_<seq>` holding Nerve's JSON. Registrations and
 * watches are desired state: restored on a new session after expiry, re-armed after reconnect.
 */
import { RegistryError } from '../errors.ts';
import { addressOf, encodeInstance, isRejected, parseInstance, toListing } from './instance.ts';
import { RegistryStateCell } from './registry-state.ts';
import type { Instance, Listing, ListingChange, Registry, RegistryState, Rejected } from './registry.ts';
import { ZookeeperWatch, type ZkWatchHost } from './zookeeper-watch.ts';
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
  /** A create may have succeeded without its reply reaching us: search the path before creating. */
  uncertain?: boolean;
  /** The json last written to `znode`, and the node version that write produced. */
  written?: string;
  version?: number;
}

interface ZNode {
  readonly znode: string;
  readonly version: number;
}

const NO_OWNER = Buffer.alloc(8);

export class ZookeeperRegistry implements Registry {
  readonly kind = 'zookeeper';
  private client: ZkClient;
  private readonly conn = new RegistryStateCell('connecting', (s) => this.log('state', `zookeeper ${s}`));
  private closed = false;
  private readonly regs = new Map<string, Registration>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly watches = new Set<ZookeeperWatch>();
  /** Conflicting znodes already reported (once each). */
  private readonly conflicts = new Set<string>();
  private readonly watchHost: ZkWatchHost = {
    client: () => this.client,
    full: (p) => this.full(p),
    connected: () => this.conn.value === 'connected',
    log: (t, m) => this.log(t, m),
  };

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
      if (reg) await this.removeOwn(path, reg.instance);
    });
  }

  async list(path: string): Promise<Listing> {
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
   * every call made registering N instances cost O(N²) reads. A first registration is one create
   * (parents are made only when the create says they are missing); the path is searched first only
   * when an earlier attempt may have created a node whose reply was lost.
   */
  private async ensure(reg: Registration): Promise<string> {
    const data = Buffer.from(reg.json);
    if (reg.znode && (await this.refresh(reg, data))) return this.relative(reg.znode);
    reg.znode = undefined;
    const full = this.full(reg.path);
    const found = reg.uncertain ? await this.existing(full, reg.instance, this.client.sessionId()) : undefined;
    const own = found?.own[0];
    if (own) {
      // A node of our own session (from a create whose reply we missed) is adopted, never duplicated.
      reg.znode = own.znode;
      await this.refresh(reg, data, own.version);
    } else {
      reg.uncertain = true;
      reg.znode = await this.create(full, reg.instance.name, data);
      reg.written = reg.json;
      reg.version = 0;
    }
    reg.uncertain = false;
    // Make before break: a crashed predecessor's nodes go only once ours exists, so the instance is
    // never without an entry (for a moment it has two, at the same host:port, which listings merge).
    // Off the caller's path: registering stays one round trip.
    const znode = reg.znode;
    void this.locked(`${reg.path}\0${reg.instance.name}`, () => this.removeStale(reg, znode)).catch((err: unknown) =>
      this.log('stale-failed', `removing stale nodes of ${znode}: ${err instanceof Error ? err.message : String(err)}`),
    );
    return this.relative(reg.znode);
  }

  private async create(full: string, name: string, data: Buffer): Promise<string> {
    const acls = this.opts.auth ? creatorAllWorldRead() : undefined;
    const make = (): Promise<string> => this.client.create(`${full}/${name}_`, data, CreateMode.EPHEMERAL_SEQUENTIAL, acls);
    try {
      return await make();
    } catch (err) {
      // The library sends requests queued before the session is up ahead of its auth packet, so a
      // first create with the `auth` ACL can be refused; by its reply the auth has been processed.
      if (err instanceof ZkOpError && err.zkCode === ZkException.INVALID_ACL && acls) return this.create(full, name, data);
      if (!(err instanceof ZkOpError && err.zkCode === ZkException.NO_NODE)) throw err;
      await this.client.mkdirp(full);
      return make();
    }
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

  /**
   * The nodes that are this instance's: named `<name>_<10 digits>` (Nerve's sequential suffix, so
   * `web` never matches `web_2_…`) and holding data that names `name`. `own`: this session's.
   * `stale`: a predecessor's (a persistent node, or another session at our address). `conflicts`:
   * live nodes of another session at another address — another host using our id; never deleted.
   */
  private async existing(full: string, inst: Instance, sid: Buffer): Promise<{ own: ZNode[]; stale: string[]; conflicts: string[] }> {
    const re = new RegExp(`^${inst.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_\\d{10}$`);
    const children = (await this.client.getChildren(full))?.filter((c) => re.test(c)).sort() ?? [];
    const found = { own: [] as ZNode[], stale: [] as string[], conflicts: [] as string[] };
    for (const child of children) {
      const znode = `${full}/${child}`;
      const d = await this.client.getData(znode);
      if (!d) continue;
      const parsed = parseInstance(znode, d.data);
      if (isRejected(parsed) || parsed.name !== inst.name) continue;
      const owner = d.stat.ephemeralOwner;
      if (owner.equals(sid)) found.own.push({ znode, version: d.stat.version });
      else if (!owner.equals(NO_OWNER) && addressOf(parsed) !== addressOf(inst)) found.conflicts.push(znode);
      else found.stale.push(znode);
    }
    return found;
  }

  private async removeStale(reg: Registration, ours: string): Promise<void> {
    const { own, stale, conflicts } = await this.existing(this.full(reg.path), reg.instance, this.client.sessionId());
    for (const c of conflicts)
      if (!this.conflicts.has(c)) {
        this.conflicts.add(c);
        this.log('instance-conflict', `${c} holds instance id ${reg.instance.name} for another address and another live session (another host?); it is left alone: give each host its own instance id`);
      }
    const doomed = [...stale, ...own.filter((n) => n.znode !== ours).map((n) => n.znode)];
    for (const znode of doomed) {
      this.log('stale-removed', `removing stale znode ${znode} (a previous session's, or a duplicate)`);
      await this.client.remove(znode).catch((err: unknown) => {
        if (err instanceof ZkOpError && err.zkCode === ZkException.NO_AUTH) this.log('stale-kept', `cannot remove ${znode}: no auth`);
        else throw err;
      });
    }
  }

  /** Delete the nodes of this instance that this session owns (ours, and duplicates from missed replies). */
  private async removeOwn(path: string, inst: Instance): Promise<void> {
    const { own } = await this.existing(this.full(path), inst, this.client.sessionId());
    for (const n of own) await this.client.remove(n.znode);
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
