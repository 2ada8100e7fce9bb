/**
 * Thousands of instances under one registry path, written the way many other hosts' agents would
 * (ZooKeeper: ephemeral sequential znodes with Nerve's JSON; etcd: keys under the agent's prefix),
 * but through plain clients with many requests in flight: one at a time, 10k take 3–9 s.
 */
import { Etcd3 } from 'etcd3';
import zookeeper from 'node-zookeeper-client';
import { encodeInstance } from '../../src/registry/instance.ts';
import { now } from '../stats.ts';

export interface BulkInstances {
  /** Wall time of writing the initial instances, ms. */
  readonly writeMs: number;
  /** A plain client's read of everything under the path (no watches), timed. */
  rawRead(): Promise<{ ms: number; entries: number }>;
  /** Remove `k` of the current instances and add `k` new ones, all in flight at once; "host:port"s. */
  /** Replace `k` instances; `writtenAt`: now() once the registry acknowledged the last write. */
  replace(k: number): Promise<{ added: string[]; removed: string[]; writtenAt: number }>;
  /** Add `k` instances (k > 0) or remove -k of them (k < 0). */
  resize(k: number): Promise<void>;
  close(): Promise<void>;
}

const IN_FLIGHT = 500;
const FIRST_PORT = 10_000;
const addr = (i: number) => `127.0.0.1:${FIRST_PORT + i}`;
const json = (i: number) => encodeInstance({ host: '127.0.0.1', port: FIRST_PORT + i, name: `bulk-${i}` });

/** Run `fn` over `items` with at most IN_FLIGHT pending. */
async function pooled<T, R>(items: readonly T[], fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, items.length) }, worker));
  return out;
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

const cb = <T>(fn: (done: (err: unknown, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(v as T))));

export async function bulkZooKeeper(connectString: string, path: string, n: number): Promise<BulkInstances> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 30_000, retries: 1 });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('bulk zk connect timed out')), 10_000);
    client.once('connected', () => (clearTimeout(t), resolve()));
    client.connect();
  });
  const live = new Map<number, string>(); // instance index → znode
  const create = async (i: number) =>
    live.set(i, await cb<string>((d) => client.create(`${path}/bulk-${i}_`, Buffer.from(json(i)), zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, (e, p) => d(e, p))));
  await cb<void>((d) => client.mkdirp(path, (e) => d(e)));
  const t0 = now();
  await pooled(range(0, n), create);
  const writeMs = now() - t0;
  let nextIndex = n;
  return {
    writeMs,
    async rawRead() {
      const t = now();
      const children = await cb<string[]>((d) => client.getChildren(path, (e, c) => d(e, c)));
      const datas = await pooled(children, (c) => cb<Buffer>((d) => client.getData(`${path}/${c}`, (e, b) => d(e, b))));
      return { ms: now() - t, entries: datas.length };
    },
    async replace(k) {
      const gone = [...live.keys()].slice(0, k);
      const fresh = range(nextIndex, k);
      nextIndex += k;
      await Promise.all([
        pooled(gone, async (i) => {
          await cb<void>((d) => client.remove(live.get(i)!, -1, (e) => d(e)));
          live.delete(i);
        }),
        pooled(fresh, create),
      ]);
      return { added: fresh.map(addr), removed: gone.map(addr), writtenAt: now() };
    },
    async resize(k) {
      if (k > 0) await pooled(range(nextIndex, k), create), (nextIndex += k);
      else
        await pooled([...live.keys()].slice(0, -k), async (i) => {
          await cb<void>((d) => client.remove(live.get(i)!, -1, (e) => d(e)));
          live.delete(i);
        });
    },
    async close() {
      client.close(); // the ephemerals go with the session
    },
  };
}

export async function bulkEtcd(endpoint: string, prefix: string, path: string, n: number): Promise<BulkInstances> {
  const client = new Etcd3({ hosts: `http://${endpoint}` });
  const key = (i: number) => `${prefix}${path}/bulk-${i}`;
  const live = new Set<number>();
  const put = async (i: number) => {
    await client.put(key(i)).value(json(i));
    live.add(i);
  };
  const t0 = now();
  await pooled(range(0, n), put);
  const writeMs = now() - t0;
  let nextIndex = n;
  return {
    writeMs,
    async rawRead() {
      const t = now();
      const all = await client.getAll().prefix(`${prefix}${path}/`).buffers();
      return { ms: now() - t, entries: Object.keys(all).length };
    },
    async replace(k) {
      const gone = [...live].slice(0, k);
      const fresh = range(nextIndex, k);
      nextIndex += k;
      await Promise.all([
        pooled(gone, async (i) => {
          await client.delete().key(key(i));
          live.delete(i);
        }),
        pooled(fresh, put),
      ]);
      return { added: fresh.map(addr), removed: gone.map(addr), writtenAt: now() };
    },
    async resize(k) {
      if (k > 0) await pooled(range(nextIndex, k), put), (nextIndex += k);
      else
        await pooled([...live].slice(0, -k), async (i) => {
          await client.delete().key(key(i));
          live.delete(i);
        });
    },
    async close() {
      await client.delete().prefix(`${prefix}${path}/`).catch(() => undefined);
      client.close();
    },
  };
}
