import { after, before } from 'node:test';
import { ZkClient } from '../../src/registry/zookeeper-client.ts';
import { startZooKeeper, type ZooKeeperServer } from './zookeeper.ts';

/** One ZooKeeper for the test file (the hooks are registered by the call), and clients on it, all closed after the file. */
export function zooKeeperForFile(): { server(): ZooKeeperServer; client(): ZkClient } {
  let zk: ZooKeeperServer | undefined;
  const clients: ZkClient[] = [];
  before(async () => {
    zk = await startZooKeeper();
  });
  after(async () => {
    for (const c of clients) await c.close();
    await zk?.stop();
  });
  return {
    server: () => zk!,
    client: () => {
      const c = new ZkClient({ servers: zk!.connectString, sessionTimeoutMs: 4000, opTimeoutMs: 5000 });
      c.connect();
      clients.push(c);
      return c;
    },
  };
}
