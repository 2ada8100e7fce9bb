/**
 * The one promise adapter over node-zookeeper-client (callback based, no per-op timeouts). Every
 * operation gets a deadline and a message saying what was being done; CONNECTION_LOSS,
 * SESSION_EXPIRED and timeouts become transient RegistryErrors. One ZkClient = one ZK session.
 */
import type { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import zookeeper from 'node-zookeeper-client';
import type { ACL, Client, Event, Stat } from 'node-zookeeper-client';
import { RegistryError } from '../errors.ts';
import { within } from '../within.ts';
import { ZkLiveness } from './zookeeper-liveness.ts';

const { Exception, State } = zookeeper;

/** A failed ZooKeeper operation; `zkCode` is the server's error code (e.g. Exception.NO_AUTH) when known. */
export class ZkOpError extends RegistryError {
  readonly zkCode: number | undefined;
  constructor(message: string, opts: { transient: boolean; cause?: unknown; zkCode?: number }) {
    super(message, opts);
    this.zkCode = opts.zkCode;
  }
}

export type ZkSessionEvent = 'connected' | 'disconnected' | 'expired' | 'closed';

export interface ZkClientOptions {
  /** "host1:2181,host2:2181" (no chroot: callers prefix their paths). */
  readonly servers: string;
  readonly sessionTimeoutMs: number;
  readonly opTimeoutMs: number;
  /** How long one connection attempt may take before it is abandoned and retried; default 2000. */
  readonly connectTimeoutMs?: number;
  /** "user:pass" for digest auth. */
  readonly auth?: string;
  /** Hears why an unanswering connection was dropped (see zookeeper-liveness.ts). */
  readonly onDrop?: (why: string) => void;
}

type Watcher = (event: Event) => void;

/** A change to a node under a persistent watch (see ZkClient.addWatch). */
export interface ZkNodeEvent {
  readonly type: 'created' | 'deleted' | 'changed';
  readonly path: string;
}
type NodeWatcher = (event: ZkNodeEvent) => void;
const TRANSIENT = new Set([Exception.CONNECTION_LOSS, Exception.SESSION_EXPIRED, Exception.OPERATION_TIMEOUT]);

/**
 * The library writes each request to the socket as it is queued, one syscall each. Requests
 * queued in the same tick go out in one write instead (the socket is corked until the next tick).
 * Measured, a watch's first read of 10,000 children (256 getData in flight, each reply queueing
 * the next): socket-write CPU 350–480 ms → 95 ms.
 * Uses the library's private ConnectionManager (node-zookeeper-client 1.1.x), as
 * zookeeper-liveness.ts does.
 */
function batchWrites(raw: Client): void {
  const cm = (raw as unknown as { connectionManager: { socket?: Socket; packetQueue: EventEmitter } }).connectionManager;
  let corked: Socket | undefined;
  cm.packetQueue.prependListener('readable', () => {
    const s = cm.socket;
    if (!s || corked === s || s.destroyed) return;
    corked = s;
    s.cork();
    process.nextTick(() => {
      corked = undefined;
      s.uncork();
    });
  });
}

/**
 * The library concatenates what it holds of an unfinished reply with every socket chunk, so a
 * 10,000-name getChildren reply (~250 KB) was copied again at each chunk of it: the chunks of a
 * reply are held here until it is whole, then handed over in one buffer. What the library leaves
 * of a next reply is taken back, and nothing held from one connection reaches the next.
 * Uses the library's private ConnectionManager, as batchWrites does; installed before
 * ZkLiveness wraps the same method, so liveness still sees every chunk.
 */
function wholeReplies(raw: Client): void {
  const cm = (raw as unknown as { connectionManager: { socket?: Socket; pendingBuffer: Buffer | null; onSocketData(b: Buffer): void } }).connectionManager;
  const onSocketData = cm.onSocketData;
  let held: Buffer[] = [];
  let bytes = 0;
  let from: Socket | undefined;
  cm.onSocketData = (chunk: Buffer): void => {
    // The library's own call for the rest of a buffer that held several replies.
    if (chunk.length === 0) return onSocketData.call(cm, chunk);
    if (cm.socket !== from) [held, bytes, from] = [[], 0, cm.socket];
    held.push(chunk);
    bytes += chunk.length;
    if (held[0]!.length < 4 && bytes >= 4) held = [Buffer.concat(held, bytes)];
    if (bytes < 4 || bytes < held[0]!.readInt32BE(0) + 4) return;
    const whole = held.length === 1 ? held[0]! : Buffer.concat(held, bytes);
    [held, bytes] = [[], 0];
    try {
      onSocketData.call(cm, whole);
    } finally {
      const rest = cm.pendingBuffer;
      cm.pendingBuffer = null;
      if (rest) [held, bytes] = [[rest], rest.length];
    }
  };
}

// ZooKeeper's wire codes (zookeeper.jute, ZooDefs.OpCode, Watcher.Event.EventType).
const OP_DELETE = 2;
const OP_ADD_WATCH = 106;
const PERSISTENT_RECURSIVE = 1;
const EVENT_TYPES: Record<number, ZkNodeEvent['type'] | undefined> = { 1: 'created', 2: 'deleted', 3: 'changed' };

/**
 * Notifications of persistent watches arrive like those of one-shot watches (xid -1), and the
 * library's WatcherManager hands each only to the one-shot watchers it registered, throwing on a
 * type it does not know. Each is also offered here to the persistent watches on its path and its
 * ancestors; the library still sees the types it knows, so one-shot watches work as before.
 * Uses the library's private ConnectionManager, as batchWrites does.
 */
function persistentWatches(raw: Client): Map<string, Set<NodeWatcher>> {
  type WatcherEvent = { type: number; path: string };
  const wm = (raw as unknown as { connectionManager: { watcherManager: { emit(e: WatcherEvent): void } } }).connectionManager.watcherManager;
  const emit = wm.emit;
  const watches = new Map<string, Set<NodeWatcher>>();
  wm.emit = (e: WatcherEvent): void => {
    const type = EVENT_TYPES[e.type];
    if (type && watches.size > 0) {
      const event = { type, path: e.path };
      for (let p = e.path; ; p = p.slice(0, Math.max(1, p.lastIndexOf('/')))) {
        for (const w of watches.get(p) ?? []) w(event);
        if (p.length <= 1) break;
      }
    }
    if (e.type >= 1 && e.type <= 4) emit.call(wm, e);
  };
  return watches;
}

/**
 * An AddWatchRequest {path, mode} in the library's queue: the same packet as a library request,
 * serialised here because the library's jute has no such record. The library reads a reply by the
 * request's type and drops the connection on one it does not know, so once the request is written
 * its type says DELETE, whose reply is the same bare header.
 */
function addWatchRequest(path: string, mode: number): { header: { xid: number; type: number }; payload: null; toBuffer(): Buffer } {
  const header = { xid: 0, type: OP_ADD_WATCH };
  return {
    header,
    payload: null,
    toBuffer() {
      const name = Buffer.from(path);
      const b = Buffer.alloc(4 + 8 + 4 + name.length + 4);
      b.writeInt32BE(b.length - 4, 0);
      b.writeInt32BE(header.xid, 4);
      b.writeInt32BE(OP_ADD_WATCH, 8);
      b.writeInt32BE(name.length, 12);
      name.copy(b, 16);
      b.writeInt32BE(mode, 16 + name.length);
      header.type = OP_DELETE;
      return b;
    },
  };
}

/** A typed, deadline-bounded ZooKeeper session. Reconnects by itself; after 'expired' it is dead. */
export class ZkClient {
  private readonly raw: Client;
  private readonly listeners = new Set<(e: ZkSessionEvent) => void>();
  private readonly liveness: ZkLiveness;
  private readonly dirs = new Map<string, Promise<void>>();
  private readonly persistent: Map<string, Set<NodeWatcher>>;

  constructor(private readonly opts: ZkClientOptions) {
    this.raw = zookeeper.createClient(opts.servers, { sessionTimeout: opts.sessionTimeoutMs, spinDelay: 1000, retries: 0 });
    if (opts.auth) this.raw.addAuthInfo('digest', Buffer.from(opts.auth));
    wholeReplies(this.raw);
    this.persistent = persistentWatches(this.raw);
    this.liveness = new ZkLiveness(this.raw, opts.connectTimeoutMs ?? 2000, (why) => opts.onDrop?.(why));
    batchWrites(this.raw);
    this.raw.on('state', (s) => {
      const e: ZkSessionEvent | undefined =
        s === State.SYNC_CONNECTED ? 'connected' : s === State.DISCONNECTED ? 'disconnected' : s === State.EXPIRED ? 'expired' : undefined;
      if (e) for (const cb of this.listeners) cb(e);
    });
  }

  /** Start connecting in the background (never waits for the server). */
  connect(): void {
    this.raw.connect();
    this.liveness.start();
  }

  private connectionManager(): { socket?: { destroy(): void }; connect(): void } | undefined {
    return (this.raw as unknown as { connectionManager?: { socket?: { destroy(): void }; connect(): void } }).connectionManager;
  }

  onEvent(cb: (e: ZkSessionEvent) => void): void {
    this.listeners.add(cb);
  }

  /** The 8-byte session id (all zeros before the first connect). */
  sessionId(): Buffer {
    return this.raw.getSessionId();
  }

  create(path: string, data: Buffer, mode: number, acls?: ACL[]): Promise<string> {
    return this.call(`creating znode ${path}`, (cb) =>
      acls ? this.raw.create(path, data, acls, mode, cb) : this.raw.create(path, data, mode, cb),
    );
  }

  /**
   * Create `path` and missing parents as persistent nodes; existing ones are fine. Leaf first, and
   * remembered for the session: the library's walk from the root cost one round trip per level for
   * every new service path, and 1,000 paths under one prefix re-created the same parents 1,000 times.
   */
  mkdirp(path: string): Promise<void> {
    return this.dirs.get(path) ?? this.remember(path, this.makeDir(path));
  }

  /** Forget that `path` exists (it was deleted behind us). */
  forgetDir(path: string): void {
    this.dirs.delete(path);
  }

  private remember(path: string, made: Promise<void>): Promise<void> {
    this.dirs.set(path, made);
    made.catch(() => this.dirs.get(path) === made && this.dirs.delete(path));
    return made;
  }

  // The first child of a parent not known to exist finds out whether it does; its siblings wait for
  // that rather than each trying and failing. Measured, 500 new paths under one new prefix (the
  // cold start of 1,000 manifests): 1,001 creates of paths, 500 of them answered NO_NODE -> 502.
  private async makeDir(path: string): Promise<void> {
    const parent = path.slice(0, path.lastIndexOf('/'));
    let parentMade = parent ? this.dirs.get(parent) : undefined;
    if (parent && !parentMade) {
      const probe = this.createDir(path);
      parentMade = this.remember(parent, probe.then(async (made) => void (made || (await this.makeDir(parent)))));
      if (await probe) return;
    }
    await parentMade;
    if (await this.createDir(path)) return;
    if (!parent) throw new ZkOpError(`creating znode ${path}: no node`, { transient: false, zkCode: Exception.NO_NODE });
    this.forgetDir(parent); // deleted behind us
    await this.mkdirp(parent);
    if (!(await this.createDir(path))) throw new ZkOpError(`creating znode ${path}: no node`, { transient: false, zkCode: Exception.NO_NODE });
  }

  /** Create the persistent node `path` (existing is fine); false when its parent is missing. */
  private createDir(path: string): Promise<boolean> {
    return this.call(`creating znode ${path}`, (cb) => this.raw.create(path, cb), [Exception.NODE_EXISTS]).then(
      () => true,
      (err: unknown) => {
        if (err instanceof ZkOpError && err.zkCode === Exception.NO_NODE) return false;
        throw err;
      },
    );
  }

  /** Remove `path`; a missing node is not an error. */
  async remove(path: string, version = -1): Promise<void> {
    await this.call(`deleting znode ${path}`, (cb) => this.raw.remove(path, version, (err) => cb(err, undefined)), [Exception.NO_NODE]);
  }

  /** Stat of `path`, or undefined when missing; `watcher` fires on create/delete/data change. */
  async exists(path: string, watcher?: Watcher): Promise<Stat | undefined> {
    const stat = await this.call<Stat | null>(`checking znode ${path}`, (cb) =>
      watcher ? this.raw.exists(path, watcher, cb) : this.raw.exists(path, cb),
    );
    return stat ?? undefined;
  }

  /** Child names of `path`, or undefined when it is missing. */
  getChildren(path: string, watcher?: Watcher): Promise<string[] | undefined> {
    return this.call(
      `listing children of znode ${path}`,
      (cb) => (watcher ? this.raw.getChildren(path, watcher, cb) : this.raw.getChildren(path, cb)),
      [Exception.NO_NODE],
    );
  }

  /** Data and stat of `path`, or undefined when it is missing. */
  getData(path: string, watcher?: Watcher): Promise<{ data: Buffer | undefined; stat: Stat } | undefined> {
    return this.call(
      `reading znode ${path}`,
      (cb) => {
        const done = (err: Error | zookeeper.Exception | null, data: Buffer, stat: Stat): void =>
          cb(err, err ? undefined : { data: data ?? undefined, stat });
        if (watcher) this.raw.getData(path, watcher, done);
        else this.raw.getData(path, done);
      },
      [Exception.NO_NODE],
    );
  }

  /**
   * getData of each of `paths` (watch set when `watcher` is given), at most `inFlight` at a time,
   * results in order; rejects with the first failure and sends no more. Each read has the same
   * opTimeoutMs deadline as getData's, but the batch keeps one timer, on its oldest unanswered
   * read, instead of a timer and two promises per read (and a p-queue task). Measured, 10,000
   * getData with watches, 256 in flight, alternating (load ~11): client CPU median 1,248 → 889 ms.
   */
  getDataAll(paths: readonly string[], watcher: Watcher | undefined, inFlight: number): Promise<({ data: Buffer | undefined; stat: Stat } | undefined)[]> {
    const ms = this.opts.opTimeoutMs;
    const out: ({ data: Buffer | undefined; stat: Stat } | undefined)[] = new Array(paths.length).fill(undefined);
    if (paths.length === 0) return Promise.resolve(out);
    return new Promise((resolve, reject) => {
      const sentAt = new Float64Array(paths.length);
      const answered = new Uint8Array(paths.length);
      let [next, oldest, done, failed] = [0, 0, 0, false];
      let timer: NodeJS.Timeout | undefined;
      const fail = (err: ZkOpError): void => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        reject(err);
      };
      // Replies come in send order, so the oldest unanswered read has the earliest deadline.
      const arm = (): void => {
        while (oldest < next && answered[oldest]) oldest++;
        if (failed || oldest >= next) return;
        const left = sentAt[oldest]! + ms - performance.now();
        if (left <= 0) fail(new ZkOpError(`reading znode ${paths[oldest]}: timed out after ${ms} ms`, { transient: true }));
        else timer = setTimeout(() => ((timer = undefined), arm()), left);
      };
      const send = (i: number): void => {
        sentAt[i] = performance.now();
        const done1 = (err: Error | zookeeper.Exception | null, data: Buffer, stat: Stat): void => {
          if (failed) return;
          answered[i] = 1;
          if (err) {
            const e = zkError(`reading znode ${paths[i]}`, err, [Exception.NO_NODE]);
            if (e) return fail(e);
          } else out[i] = { data: data ?? undefined, stat };
          if (++done === paths.length) {
            clearTimeout(timer);
            resolve(out);
          } else if (next < paths.length) send(next++);
        };
        try {
          if (watcher) this.raw.getData(paths[i]!, watcher, done1);
          else this.raw.getData(paths[i]!, done1);
        } catch (err) {
          fail(new ZkOpError(`reading znode ${paths[i]}: ${err instanceof Error ? err.message : String(err)}`, { transient: false, cause: err }));
        }
      };
      while (next < Math.min(inFlight, paths.length) && !failed) send(next++);
      arm();
    });
  }

  /**
   * Set a persistent recursive watch on `path` (ZooKeeper 3.6+): `onEvent` hears the creation,
   * deletion and data change of `path` and of every node under it, each with its path, in order
   * with the replies of this session, and the watch stays after it fires. The server forgets it
   * when the connection drops and the library does not restore it: add it again on every connect.
   * A server older than 3.6 fails it with zkCode ZkException.UNIMPLEMENTED.
   */
  async addWatch(path: string, onEvent: NodeWatcher): Promise<void> {
    const set = this.persistent.get(path) ?? new Set();
    this.persistent.set(path, set);
    set.add(onEvent);
    const cm = (this.raw as unknown as { connectionManager: { queue(r: unknown, cb: (err: Error | null) => void): void } }).connectionManager;
    try {
      await this.call(`watching znode ${path} and its descendants`, (cb) => cm.queue(addWatchRequest(path, PERSISTENT_RECURSIVE), (err) => cb(err, undefined)));
    } catch (err) {
      this.removeWatch(path, onEvent);
      throw err;
    }
  }

  /**
   * Stop handing `path`'s events to `onEvent`. The server's watch stays until the connection drops:
   * removing it (removeWatches) answers NO_WATCHER when it is already gone, a code the library
   * throws on while reading the socket.
   */
  removeWatch(path: string, onEvent: NodeWatcher): void {
    const set = this.persistent.get(path);
    set?.delete(onEvent);
    if (set?.size === 0) this.persistent.delete(path);
  }

  setData(path: string, data: Buffer, version = -1): Promise<Stat> {
    return this.call(`writing znode ${path}`, (cb) => this.raw.setData(path, data, version, cb));
  }

  /** End the session (its ephemerals go with it) and release the socket, bounded by opTimeoutMs and `signal`. */
  async close(signal?: AbortSignal): Promise<void> {
    this.liveness.stop();
    const closed = new Promise<void>((resolve) => {
      const check = (s: zookeeper.State): void => {
        if (s === State.DISCONNECTED) resolve();
      };
      this.raw.on('state', check);
    });
    // Closing an unconnected client makes the library write to a missing socket; the server
    // expires that session by itself.
    if (this.raw.getState() === State.SYNC_CONNECTED) {
      this.raw.close();
      await within(closed, { ms: this.opts.opTimeoutMs, onTimeout: () => undefined, signal }).catch(() => undefined);
    }
    this.forceDisconnect();
    for (const cb of this.listeners) cb('closed');
    this.listeners.clear();
  }

  /**
   * The library reconnects from a spin-delay timer even after close() when it was disconnected,
   * so a closed client could keep the process alive: mark it closed and drop the socket.
   */
  private forceDisconnect(): void {
    const cm = this.connectionManager();
    if (!cm) return;
    cm.connect = () => {};
    cm.socket?.destroy();
  }

  /** Run one callback-style op with a deadline; codes in `absentOk` resolve undefined. */
  private call<T>(what: string, op: (cb: (err: Error | zookeeper.Exception | null, v: T) => void) => void, absentOk: number[] = []): Promise<T> {
    const answer = new Promise<T>((resolve, reject) => {
      try {
        op((err, v) => {
          const e = err ? zkError(what, err, absentOk) : undefined;
          if (e) reject(e);
          else resolve(err ? (undefined as T) : v);
        });
      } catch (err) {
        reject(new ZkOpError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { transient: false, cause: err }));
      }
    });
    const timedOut = (): never => {
      throw new ZkOpError(`${what}: timed out after ${this.opts.opTimeoutMs} ms`, { transient: true });
    };
    return within(answer, { ms: this.opts.opTimeoutMs, onTimeout: timedOut });
  }
}

/** The error `err` of doing `what` means, or undefined for a code in `absentOk` (the node is missing). */
function zkError(what: string, err: Error | zookeeper.Exception, absentOk: readonly number[]): ZkOpError | undefined {
  if (!(err instanceof Exception)) return new ZkOpError(`${what}: ${err.message}`, { transient: false, cause: err });
  const code = err.getCode();
  if (absentOk.includes(code)) return undefined;
  return new ZkOpError(`${what}: ${describeZk(err)}`, { transient: TRANSIENT.has(code), cause: err, zkCode: code });
}

/** "connection lost" from CONNECTION_LOSS[-4]. */
function describeZk(e: zookeeper.Exception): string {
  return e.getName().toLowerCase().replace(/_/g, ' ').replace('connection loss', 'connection lost');
}

/** ACL for our own nodes when authenticated: creator has all rights, the world may read. */
export function creatorAllWorldRead(): ACL[] {
  return [
    new zookeeper.ACL(zookeeper.Permission.ALL, new zookeeper.Id('auth', '')),
    new zookeeper.ACL(zookeeper.Permission.READ, new zookeeper.Id('world', 'anyone')),
  ];
}

export const CreateMode = zookeeper.CreateMode;
export const ZkException = zookeeper.Exception;
