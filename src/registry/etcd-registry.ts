/**
 * etcd v3 registry: each registration is the key `<prefix><path>/<instanceId>` holding Nerve's JSON,
 * attached to one lease per agent that etcd3 keeps alive. On lease loss a new lease is granted
 * (bounded backoff) and every registration is put again. Every register() reads the key back: one
 * another client deleted, overwrote or detached from our lease is written again, unless another
 * agent's live lease holds it for another host (a conflict: reported, never overwritten).
 */
import { circuitBreaker, ConsecutiveBreaker, handleWhen, isBrokenCircuitError, retry } from 'cockatiel';
import { Etcd3, EtcdAuthenticationFailedError, EtcdPermissionDeniedError, GRPCDeadlineExceededError, GRPCInvalidArgumentError, GRPCUnavailableError, type IOptions, type Lease, type PutBuilder } from 'etcd3';
import { InstanceConflictError, RegistryError } from '../errors.ts';
import { encodeInstance, isRejected, parseInstance, toListing } from './instance.ts';
import { RegistryStateCell } from './registry-state.ts';
import type { Instance, Listing, ListingChange, Registry, RegistryState } from './registry.ts';
import { DEFAULT_PATH_LIMITS, readPrefix, type PathLimits } from './etcd-range.ts';
import { EtcdWatch, type EtcdWatchHost } from './etcd-watch.ts';
import { hostBreaker, livenessChannelOptions } from './etcd-liveness.ts';
import { within } from '../within.ts';
import { Backoff } from '../backoff.ts';

export interface EtcdRegistryOptions {
  /** "127.0.0.1:2379" entries. */
  readonly hosts: readonly string[];
  readonly prefix: string;
  readonly leaseTtlSec: number;
  readonly opTimeoutMs: number;
  readonly connectTimeoutMs?: number;
  readonly auth?: { username: string; password: string };
  /** Talk TLS (https): PEM bytes of the CA (default: the system's), a client certificate and its key. */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  /** Entries and bytes read per path (default 100,000 and 16 MiB); the excess is listed as rejected. */
  readonly pathLimits?: Partial<PathLimits>;
  readonly onEvent?: (e: { type: string; message: string }) => void;
}

interface Registration {
  readonly instance: Instance;
  readonly json: string;
  /** Written at least once: a missing or changed value is then someone else's doing. */
  written?: boolean;
}

/** The lease of a key put without one. */
const NO_LEASE = '0';

export class EtcdRegistry implements Registry {
  readonly kind = 'etcd';
  private readonly client: Etcd3;
  /** Listings only, on their own connection: a path's failure cannot reset the lease's or the watches' streams. */
  private readonly lister: Etcd3;
  private readonly limits: PathLimits;
  private lease: Lease | undefined;
  private readonly regrantBackoff = new Backoff({ baseMs: 250, capMs: 5000, jitter: 0 });
  private regrantTimer: NodeJS.Timeout | undefined;
  private readonly regs = new Map<string, Registration>();
  private readonly watchers = new Set<{ cancel(): Promise<void> }>();
  private readonly conn = new RegistryStateCell('connecting', (s) => this.log('state', `etcd ${s}`));
  private closed = false;
  private readonly watchHost: EtcdWatchHost;

  constructor(private readonly opts: EtcdRegistryOptions) {
    const common: IOptions = {
      hosts: opts.hosts.map((h) => `${opts.tls ? 'https' : 'http'}://${h}`),
      ...(opts.auth ? { auth: opts.auth } : {}),
      // grpc-js uses the system's roots when no CA is given; etcd3's type wants one regardless.
      ...(opts.tls && { credentials: { rootCertificate: opts.tls.ca as Buffer, ...(opts.tls.key && { privateKey: opts.tls.key }), ...(opts.tls.cert && { certChain: opts.tls.cert }) } }),
      dialTimeout: opts.connectTimeoutMs ?? opts.opTimeoutMs,
      // Streams (watch, lease keepalive) are long-lived: a deadline would end them every opTimeoutMs.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + opts.opTimeoutMs }),
    };
    // The library's default grows to 30 s: watches would resume that late after an outage, and its
    // un-cancellable reconnect timer kept a closed client's process alive that long.
    this.client = new Etcd3({
      ...common,
      faultHandling: { watchBackoff: watchBackoff(100, 2000), host: () => hostBreaker() },
      grpcOptions: livenessChannelOptions(Math.round((opts.leaseTtlSec * 1000) / 3), (why) => {
        this.log('connection-dropped', `etcd: ${why}: trying another member`);
        this.setState('disconnected');
      }),
    });
    // The default breaker opens a host after 3 failures of any kind: one path too large to receive
    // failed every other path's listing for 5 s. Here only an unreachable host retries or opens it.
    const hostDown = handleWhen((e) => e instanceof GRPCUnavailableError);
    this.lister = new Etcd3({
      ...common,
      faultHandling: { host: () => circuitBreaker(hostDown, { halfOpenAfter: 5000, breaker: new ConsecutiveBreaker(3) }), global: retry(hostDown, { maxAttempts: 3 }) },
    });
    this.limits = { ...DEFAULT_PATH_LIMITS, ...opts.pathLimits };
    this.watchHost = {
      client: this.client,
      keyPrefix: opts.prefix,
      read: (prefix) => readPrefix(this.lister.kv, prefix, this.limits, (k) => k.slice(opts.prefix.length)),
      closed: () => this.closed,
      setState: (s) => this.setState(s),
      log: (t, m) => this.log(t, m),
    };
  }

  async register(path: string, instance: Instance, signal?: AbortSignal): Promise<string> {
    const key = this.key(path, instance.name);
    const prev = this.regs.get(key);
    const reg: Registration = prev?.json === encodeInstance(instance) ? prev : { instance, json: encodeInstance(instance) };
    this.regs.set(key, reg);
    try {
      await this.op(`registering ${key}`, () => this.ensure(key, reg, this.currentLease()), signal);
    } catch (err) {
      if (err instanceof InstanceConflictError && this.regs.get(key) === reg) this.regs.delete(key);
      throw err;
    }
    return key.slice(this.opts.prefix.length);
  }

  /** Delete our key: only when our lease holds it, or no lease does; another agent's live one stays. */
  async deregister(path: string, instanceName: string, signal?: AbortSignal): Promise<void> {
    const key = this.key(path, instanceName);
    this.regs.delete(key);
    await this.op(`deleting ${key}`, async () => {
      const kv = (await this.client.get(key).exec()).kvs[0];
      if (!kv) return;
      const ours = this.lease && !this.lease.revoked() ? await this.lease.grant().catch(() => undefined) : undefined;
      if (kv.lease !== NO_LEASE && kv.lease !== ours) return;
      await this.client.if(key, 'Mod', '==', kv.mod_revision).then(this.client.delete().key(key)).commit();
    }, signal);
  }

  async list(path: string, signal?: AbortSignal): Promise<Listing> {
    const prefix = `${this.opts.prefix}${path}/`;
    const read = await this.op(`listing ${prefix}`, () => this.watchHost.read(prefix), signal);
    const parsed = read.kvs.map((kv) => {
      const key = kv.key.toString().slice(this.opts.prefix.length);
      return parseInstance(key, kv.value);
    });
    return toListing([...parsed, ...read.overLimit]);
  }

  watch(path: string, onChange: (change: ListingChange) => void): () => void {
    const w = new EtcdWatch(`${this.opts.prefix}${path}/`, onChange, this.watchHost);
    this.watchers.add(w);
    return () => {
      void w.cancel();
      this.watchers.delete(w);
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
    clearTimeout(this.regrantTimer);
    // Detach every watcher before closing: the library would re-establish a stream for one still attached.
    const cancels = Promise.allSettled([...this.watchers].map((w) => w.cancel()));
    await within(cancels, { ms: this.opts.opTimeoutMs, onTimeout: () => [], signal }).catch(() => undefined);
    this.watchers.clear();
    this.lease?.release();
    this.lease?.removeAllListeners();
    this.client.close();
    this.lister.close();
    this.conn.set('closed');
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
      this.regrantTimer = setTimeout(() => void this.restore(), this.regrantBackoff.next('lease'));
    });
    lease.on('keepaliveSucceeded', () => {
      this.regrantBackoff.reset('lease');
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
      await Promise.all([...this.regs].map(([key, reg]) => this.ensure(key, reg, lease).catch((err: unknown) => {
        if (!(err instanceof InstanceConflictError)) throw err;
        this.log('instance-conflict', err.message);
        if (this.regs.get(key) === reg) this.regs.delete(key);
      })));
      this.setState('connected');
      this.log('restored', `re-registered ${this.regs.size} instance(s) on a new etcd lease`);
    } catch (err) {
      this.log('restore-failed', `re-registering on a new etcd lease: ${err instanceof Error ? err.message : String(err)}`);
      if (this.lease === lease) lease.emit('lost', err);
    }
  }

  /**
   * Make `key` hold `reg` on `lease`: write it when missing, else read it and write it (only if
   * unchanged since that read) when it differs or is on another lease, unless that is another
   * agent's live registration of our id for another host.
   */
  private async ensure(key: string, reg: Registration, lease: Lease): Promise<void> {
    const id = await lease.grant();
    const put = (): PutBuilder => this.client.put(key).value(reg.json).lease(id);
    // One round trip either way: a missing key is written, a present one read back.
    const first = await this.client.if(key, 'Create', '==', 0).then(put()).else(this.client.get(key)).commit();
    if (first.succeeded) {
      if (reg.written) this.log('healed', `${key} was deleted by another client; writing it again`);
      reg.written = true;
      return;
    }
    const kv = first.responses[0]?.response_range.kvs[0];
    if (kv?.lease === id && kv.value.toString() === reg.json) return;
    if (kv && kv.lease !== NO_LEASE && kv.lease !== id) {
      const held = parseInstance(key, kv.value);
      if (!isRejected(held) && held.name === reg.instance.name && held.host !== reg.instance.host) throw new InstanceConflictError(`registering ${key}`, { context: { instanceId: reg.instance.name, holder: held.host } });
    }
    if (reg.written) this.log('healed', `${key} was changed or moved off our lease by another client; writing it again`);
    const done = await this.client.if(key, 'Mod', '==', kv?.mod_revision ?? '0').then(put()).commit();
    if (!done.succeeded) throw new RegistryError(`${key} changed while it was being written`, { transient: true });
    reg.written = true;
  }

  private async op<T>(what: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const timedOut = (): never => {
      throw new RegistryError(`${what}: timed out after ${this.opts.opTimeoutMs} ms`, { transient: true });
    };
    try {
      const v = await within(fn(), { ms: this.opts.opTimeoutMs, onTimeout: timedOut, signal });
      this.setState('connected');
      return v;
    } catch (err) {
      if (err instanceof RegistryError || signal?.aborted) throw err;
      const permanent =
        err instanceof EtcdPermissionDeniedError || err instanceof EtcdAuthenticationFailedError || err instanceof GRPCInvalidArgumentError;
      // Only a host that does not answer is a disconnection; a path's own failure is that path's.
      if (!permanent && (err instanceof GRPCUnavailableError || err instanceof GRPCDeadlineExceededError || isBrokenCircuitError(err))) this.setState('disconnected');
      throw new RegistryError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { transient: !permanent, cause: err });
    }
  }

  private key(path: string, name: string): string {
    return `${this.opts.prefix}${path}/${name}`;
  }

  private setState(s: RegistryState): void {
    if (!this.closed) this.conn.set(s);
  }

  private log(type: string, message: string): void {
    this.opts.onEvent?.({ type, message });
  }
}

/** Watch-stream reconnect delays: doubling from `firstMs` to `maxMs` (the shape the library expects). */
function watchBackoff(firstMs: number, maxMs: number): { readonly duration: number; next(): ReturnType<typeof watchBackoff> } {
  return { duration: firstMs, next: () => watchBackoff(Math.min(firstMs * 2, maxMs), maxMs) };
}
