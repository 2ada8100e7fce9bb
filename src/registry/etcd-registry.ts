/**
 * etcd v3 registry: each registration is the key `<prefix><path>/<instanceId>` holding Nerve's JSON,
 * attached to one lease per agent that etcd3 keeps alive. On lease loss a new lease is granted
 * (bounded backoff) and every registration is put again.
 */
import { Etcd3, EtcdAuthenticationFailedError, EtcdPermissionDeniedError, GRPCInvalidArgumentError, type Lease, type Watcher } from 'etcd3';
import { RegistryError } from '../errors.ts';
import { encodeInstance, parseInstance, toListing } from './instance.ts';
import type { Instance, Listing, Registry, RegistryState } from './registry.ts';

export interface EtcdRegistryOptions {
  /** "127.0.0.1:2379" entries. */
  readonly hosts: readonly string[];
  readonly prefix: string;
  readonly leaseTtlSec: number;
  readonly opTimeoutMs: number;
  readonly connectTimeoutMs?: number;
  readonly auth?: { username: string; password: string };
  readonly onEvent?: (e: { type: string; message: string }) => void;
}

export class EtcdRegistry implements Registry {
  readonly kind = 'etcd';
  private readonly client: Etcd3;
  private lease: Lease | undefined;
  private regrantDelayMs = 250;
  private regrantTimer: NodeJS.Timeout | undefined;
  private readonly regs = new Map<string, string>();
  private readonly watchers = new Set<{ cancel(): void; created: Promise<unknown> }>();
  private readonly stateListeners = new Set<(s: RegistryState) => void>();
  private current: RegistryState = 'connecting';
  private closed = false;

  constructor(private readonly opts: EtcdRegistryOptions) {
    this.client = new Etcd3({
      hosts: opts.hosts.map((h) => `http://${h}`),
      ...(opts.auth ? { auth: opts.auth } : {}),
      dialTimeout: opts.connectTimeoutMs ?? opts.opTimeoutMs,
      defaultCallOptions: () => ({ deadline: Date.now() + opts.opTimeoutMs }),
    });
  }

  async register(path: string, instance: Instance): Promise<string> {
    const key = this.key(path, instance.name);
    const json = encodeInstance(instance);
    if (this.regs.get(key) === json && this.lease) return key.slice(this.opts.prefix.length);
    this.regs.set(key, json);
    await this.op(`registering ${key}`, () => this.currentLease().put(key).value(json).exec());
    return key.slice(this.opts.prefix.length);
  }

  async deregister(path: string, instanceName: string): Promise<void> {
    const key = this.key(path, instanceName);
    this.regs.delete(key);
    await this.op(`deleting ${key}`, () => this.client.delete().key(key).exec());
  }

  async list(path: string): Promise<Listing> {
    const prefix = `${this.opts.prefix}${path}/`;
    const kvs = await this.op(`listing ${prefix}`, () => this.client.getAll().prefix(prefix).buffers());
    const keys = Object.keys(kvs).sort();
    return toListing(keys.map((k) => parseInstance(k.slice(this.opts.prefix.length), kvs[k])));
  }

  watch(path: string, onChange: () => void): () => void {
    const prefix = `${this.opts.prefix}${path}/`;
    let watcher: Watcher | undefined;
    let pending = false;
    const entry = {
      cancelled: false,
      created: Promise.resolve() as Promise<unknown>,
      cancel: () => {
        entry.cancelled = true;
        void watcher?.cancel().catch(() => undefined);
      },
    };
    const fire = (): void => {
      if (pending || entry.cancelled) return;
      pending = true;
      setImmediate(() => {
        pending = false;
        if (!entry.cancelled) onChange();
      });
    };
    this.watchers.add(entry);
    entry.created = this.client
      .watch()
      .prefix(prefix)
      .create()
      .then((w) => {
        watcher = w;
        if (entry.cancelled) return void w.cancel().catch(() => undefined);
        w.on('put', fire).on('delete', fire);
        // The library re-watches from the last revision after a reconnect; re-list anyway.
        w.on('connected', () => (this.setState('connected'), fire()));
        w.on('disconnected', () => this.setState('disconnected'));
        w.on('error', (err) => this.log('watch-error', `watching ${prefix}: ${err.message}`));
      })
      .catch((err: unknown) => this.log('watch-error', `watching ${prefix}: ${String(err)}`));
    return () => {
      entry.cancel();
      this.watchers.delete(entry);
    };
  }

  onStateChange(cb: (state: RegistryState) => void): () => void {
    this.stateListeners.add(cb);
    return () => this.stateListeners.delete(cb);
  }

  state(): RegistryState {
    return this.current;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.regrantTimer);
    // Closing the client while a watch is being created leaves the library retrying forever.
    let timer: NodeJS.Timeout | undefined;
    const creations = Promise.allSettled([...this.watchers].map((w) => w.created));
    await Promise.race([creations, new Promise((r) => (timer = setTimeout(r, this.opts.opTimeoutMs)))]);
    clearTimeout(timer);
    for (const w of this.watchers) w.cancel();
    this.watchers.clear();
    this.lease?.release();
    this.lease?.removeAllListeners();
    this.client.close();
    this.current = 'closed';
    for (const cb of this.stateListeners) cb('closed');
  }

  private currentLease(): Lease {
    if (this.lease) return this.lease;
    const lease = this.client.lease(this.opts.leaseTtlSec);
    this.lease = lease;
    lease.on('lost', (err) => {
      if (this.lease !== lease || this.closed) return;
      this.log('lease-lost', `etcd lease lost: ${err.message}; granting a new one`);
      this.lease = undefined;
      this.setState('expired');
      this.regrantTimer = setTimeout(() => void this.restore(), this.regrantDelayMs);
      this.regrantDelayMs = Math.min(this.regrantDelayMs * 2, 5000);
    });
    lease.on('keepaliveSucceeded', () => {
      this.regrantDelayMs = 250;
      this.setState('connected');
    });
    lease.on('keepaliveFailed', () => this.setState('disconnected'));
    return lease;
  }

  /** New lease, every registration put again; a failure loses the lease again and retries. */
  private async restore(): Promise<void> {
    if (this.closed) return;
    const lease = this.currentLease();
    try {
      await lease.grant();
      await Promise.all([...this.regs].map(([key, json]) => lease.put(key).value(json).exec()));
      this.setState('connected');
      this.log('restored', `re-registered ${this.regs.size} instance(s) on a new etcd lease`);
    } catch (err) {
      this.log('restore-failed', `re-registering on a new etcd lease: ${err instanceof Error ? err.message : String(err)}`);
      if (this.lease === lease) lease.emit('lost', err);
    }
  }

  private async op<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RegistryError(`${what}: timed out after ${this.opts.opTimeoutMs} ms`, { transient: true })),
        this.opts.opTimeoutMs,
      );
    });
    try {
      const v = await Promise.race([fn(), timeout]);
      this.setState('connected');
      return v;
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      const permanent =
        err instanceof EtcdPermissionDeniedError || err instanceof EtcdAuthenticationFailedError || err instanceof GRPCInvalidArgumentError;
      if (!permanent) this.setState('disconnected');
      throw new RegistryError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { transient: !permanent, cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  private key(path: string, name: string): string {
    return `${this.opts.prefix}${path}/${name}`;
  }

  private setState(s: RegistryState): void {
    if (this.current === s || this.closed) return;
    this.current = s;
    this.log('state', `etcd ${s}`);
    for (const cb of this.stateListeners) cb(s);
  }

  private log(type: string, message: string): void {
    this.opts.onEvent?.({ type, message });
  }
}
