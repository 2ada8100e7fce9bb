import { instanceIdFor } from '../src/reconcile/instance-id.ts';
import { e2eSuite } from './e2e-suite.ts';
import { rawZooKeeper } from './harness/raw-registry.ts';
import { startZooKeeper } from './harness/zookeeper.ts';

e2eSuite('ZooKeeper', async () => {
  const zk = await startZooKeeper();
  return {
    endpoint: `127.0.0.1:${zk.port}`,
    url: (ep) => `zk://${ep}`,
    raw: () => rawZooKeeper(zk.connectString),
    entryName: new RegExp(`^${instanceIdFor('127.0.0.1', 'mysql').replace(/\./g, '\\.')}_\\d{10}$`),
    stop: () => zk.stop(),
  };
});
