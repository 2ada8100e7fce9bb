/**
 * ZooKeeper registry, wire-compatible with Nerve/Synapse: each registration is an
 * EPHEMERAL_SEQUENTIAL znode `<path>/<instanceId>_<seq>` holding Nerve's JSON. Registrations and
 * watches are desired state: restored on a new session after expiry, re-armed after reconnect.
 */
import { InstanceConflictError, RegistryError } from '../errors.ts';
import { encodeInstance, isRejected, parseInstance, toListing } from './instance.ts';
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
  /** The connection (see `connection()`) the last successful ensure was issued on. */
  ensuredOn?: number;
}

interface ZNode {
  readonly znode: string;
  readonly version: number;
}

/** The ephemeralOwner of a persistent node. */
const NO_OWNER = Buffer.alloc(8);

export class ZookeeperRegistry implements Registry {
  readonly kind = 'zookeeper';
  private client: ZkClient;
  private readonly conn = new RegistryStateCell('connecting', (s) => this.log('state', `zookeeper ${s}`));
  private closed = false;
  private readonly regs = new Map<string, Registration>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly watches = new Set<ZookeeperWatch>();
  /** Per session: each path's children as first listed, plus the nodes we created since (see scanned()). */
  private scans = new Map<string, Promise<Set<string>>>();
  /** Connections made so far, across sessions. */
  private connections = 0;
  private readonly watchHost: ZkWatchHost = {
    client: () => this.client,
    full: (p) => this.full(p),
    connected: () => this.conn.value === 'connected',
    connection: () => this.connection(),
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
      await this.removeOwn(this.full(path), instanceName, reg?.znode);
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

  async close(signal?: AbortSignal): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watches) w.close();
    this.watches.clear();
    await this.client.close(signal);
    this.setState('closed');
  }

  private newSession(): ZkClient {
    const client = new ZkClient({ ...this.opts, onDrop: (why) => this.log('connection-dropped', `zookeeper: ${why}`) });
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
    this.scans = new Map();
    const old = this.client;
    this.client = this.newSession();
    void old.close();
  }

  /** The number of the connection a request issued now goes out on (the next one while disconnected). */
  private connection(): number {
    return this.conn.value === 'connected' ? this.connections : this.connections + 1;
  }

  private async onConnected(client: ZkClient): Promise<void> {
    const n = ++this.connections;
    this.setState('connected');
    this.scans = new Map();
    // A register issued while connecting went out on this connection: at a cold start all of them
    // did, and ensuring each again cost 500 `exists` of 1,000 manifests.
    const results = await Promise.allSettled(
      [...this.regs].map(([key, reg]) =>
        this.locked(key, async () => {
          if (reg.ensuredOn !== n || !reg.znode) await this.ensure(reg);
        }),
      ),
    );
    for (const r of results) if (r.status === 'rejected') this.log('register-failed', String(r.reason));
    if (client !== this.client) return;
    for (const w of this.watches) w.reconnected();
  }

  /** Make sure exactly one znode of ours holds `reg`'s data; once we hold one, only it is touched. */
  private async ensure(reg: Registration): Promise<string> {
    const on = this.connection();
    const data = Buffer.from(reg.json);
    if (reg.znode && (await this.refresh(reg, data))) {
      reg.ensuredOn = on;
      return this.relative(reg.znode);
    }
    reg.znode = undefined;
    const full = this.full(reg.path);
    const scans = this.scans;
    try {
      const znode = await this.place(reg, data, full, await this.scanned(full, scans));
      reg.ensuredOn = on;
      return znode;
    } catch (err) {
      scans.delete(full);
      throw err;
    }
  }

  // `full`'s children as this session first listed them plus our creates; `full` exists once this
  // resolves. A predecessor's or another host's node of our id predates our session, so one listing
  // finds it, and N registers cost N creates, not N listings of N. Dropped on reconnect and on a
  // failed register (its create may have landed without a reply).
  private scanned(full: string, scans: Map<string, Promise<Set<string>>>): Promise<Set<string>> {
    let scan = scans.get(full);
    if (!scan) scans.set(full, (scan = this.client.getChildren(full).then(async (c) => new Set(c ?? (await this.client.mkdirp(full), [])))));
    return scan;
  }

  private async place(reg: Registration, data: Buffer, full: string, children: Set<string>): Promise<string> {
    const { own, stale, conflicts } = await this.existing(full, reg.instance, children);
    if (own[0]) {
      // A node of our own session (from a create whose reply we missed) is adopted, never duplicated.
      reg.znode = own[0].znode;
      await this.refresh(reg, data, own[0].version);
      stale.push(...own.slice(1).map((n) => n.znode));
    } else {
      if (conflicts[0]) throw new InstanceConflictError(`registering ${conflicts[0].znode}`, { context: { instanceId: reg.instance.name, holder: conflicts[0].host } });
      const acls = this.opts.auth ? creatorAllWorldRead() : undefined;
      const create = () => this.client.create(`${full}/${reg.instance.name}_`, data, CreateMode.EPHEMERAL_SEQUENTIAL, acls);
      reg.znode = await create().catch(async (err: unknown) => {
        if (!(err instanceof ZkOpError && err.zkCode === ZkException.NO_NODE)) throw err;
        this.client.forgetDir(full); // deleted behind us
        await this.client.mkdirp(full);
        return create();
      });
      children.add(reg.znode.slice(full.length + 1));
      reg.written = reg.json;
      reg.version = 0;
    }
    // Make before break: a crashed predecessor's nodes go only once ours exists, so the instance is
    // never without an entry (for a moment it has two, at the same host:port, which listings merge).
    for (const znode of stale) await this.removeStale(znode);
    return this.relative(reg.znode);
  }

  /** Bring our known node up to date; false when gone. A version we did not write is rewritten. */
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
   * The nodes of instance `inst` under `full`: named `<name>_<10 digits>` (Nerve's sequential
   * suffix, so `web` never matches `web_2_…`) and holding data that names it; nothing else is ever
   * ours to touch. `own`: this session's. `stale`: a persistent node, or another session's at our
   * host (a crashed predecessor). `conflicts`: another live session's for another host, that is,
   * another agent using our id: never deleted.
   */
  private async existing(full: string, inst: Pick<Instance, 'name'> & { host?: string }, children?: Iterable<string>): Promise<{ own: ZNode[]; stale: string[]; conflicts: { znode: string; host: string }[] }> {
    const sid = this.client.sessionId();
    const seq = new RegExp(`^${inst.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_\\d{10}$`);
    const found = { own: [] as ZNode[], stale: [] as string[], conflicts: [] as { znode: string; host: string }[] };
    const ours = [...(children ?? (await this.client.getChildren(full)) ?? [])].filter((c) => seq.test(c)).sort();
    const datas = await Promise.all(ours.map((c) => this.client.getData(`${full}/${c}`)));
    for (const [i, child] of ours.entries()) {
      const znode = `${full}/${child}`;
      const d = datas[i];
      const parsed = d && parseInstance(znode, d.data);
      if (!d || !parsed || isRejected(parsed) || parsed.name !== inst.name) continue;
      const owner = d.stat.ephemeralOwner;
      if (owner.equals(sid)) found.own.push({ znode, version: d.stat.version });
      else if (owner.equals(NO_OWNER) || parsed.host === inst.host) found.stale.push(znode);
      else found.conflicts.push({ znode, host: parsed.host });
    }
    return found;
  }

  private async removeStale(znode: string): Promise<void> {
    this.log('stale-removed', `removing stale znode ${znode} (a previous session's, or a duplicate)`);
    await this.client.remove(znode).catch((err: unknown) => {
      if (err instanceof ZkOpError && err.zkCode === ZkException.NO_AUTH) this.log('stale-kept', `cannot remove ${znode}: no auth`);
      else throw err;
    });
  }

  /** Delete this session's nodes of instance `name` under `full` (duplicates from missed replies included). */
  private async removeOwn(full: string, name: string, removed?: string): Promise<void> {
    const children = await this.scans.get(full)?.catch(() => undefined);
    if (removed) children?.delete(removed.slice(full.length + 1));
    for (const n of (await this.existing(full, { name }, children)).own) await this.client.remove(n.znode);
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
