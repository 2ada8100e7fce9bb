/**
 * Plain registry clients that write and read the wire format directly, as real Nerve/Synapse
 * (or a hostile neighbour) would — never through DockStack's adapters.
 */
import { Etcd3 } from 'etcd3';
import zookeeper from 'node-zookeeper-client';

export interface RawRegistry {
  /** Write `data` under `path` as an entry named after `name` (ZK: ephemeral sequential `name_`). */
  write(path: string, name: string, data: string): Promise<string>;
  remove(key: string): Promise<void>;
  /** Entries under `path`: child name/key → data. */
  read(path: string): Promise<Map<string, string>>;
  close(): Promise<void>;
}

const cb = <T>(fn: (done: (err: unknown, v?: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(v as T))));

export async function rawZooKeeper(connectString: string): Promise<RawRegistry> {
  const client = zookeeper.createClient(connectString, { sessionTimeout: 10_000, retries: 1 });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('raw zk connect timed out')), 10_000);
    client.once('connected', () => (clearTimeout(t), resolve()));
    client.connect();
  });
  return {
    async write(path, name, data) {
      await cb<void>((d) => client.mkdirp(path, (e) => d(e)));
      return cb<string>((d) => client.create(`${path}/${name}_`, Buffer.from(data), zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL, (e, p) => d(e, p)));
    },
    remove: (key) => cb<void>((d) => client.remove(key, -1, (e) => d(e))),
    async read(path) {
      // A child deleted between the listing and its read makes the listing stale: a successor
      // agent creates its node, then deletes its predecessor's, so reading only the survivors of
      // an older listing would show that instance with no entry. List again until one reads whole.
      let out = new Map<string, string>();
      for (let attempt = 0; attempt < 20; attempt++) {
        const children = await cb<string[]>((d) => client.getChildren(path, (e, c) => d(e, c))).catch(() => [] as string[]);
        out = new Map();
        let vanished = false;
        for (const c of children.sort()) {
          const data = await cb<Buffer>((d) => client.getData(`${path}/${c}`, (e, b) => d(e, b))).catch((e: unknown) => {
            if ((e as { code?: number }).code === zookeeper.Exception.NO_NODE) return undefined;
            throw e;
          });
          if (data === undefined) vanished = true;
          else out.set(c, data.toString());
        }
        if (!vanished) break;
      }
      return out;
    },
    async close() {
      client.close();
    },
  };
}

export function rawEtcd(endpoint: string, prefix = '/dockstack'): RawRegistry {
  const client = new Etcd3({ hosts: `http://${endpoint}` });
  return {
    async write(path, name, data) {
      const key = `${prefix}${path}/${name}`;
      await client.put(key).value(data);
      return key;
    },
    remove: async (key) => void (await client.delete().key(key)),
    async read(path) {
      const all = await client.getAll().prefix(`${prefix}${path}/`).strings();
      return new Map(Object.entries(all).map(([k, v]) => [k.slice(`${prefix}${path}/`.length), v]));
    },
    async close() {
      client.close();
    },
  };
}
