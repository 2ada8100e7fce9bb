import { instanceIdFor } from '../src/reconcile/instance-id.ts';
import { e2eSuite } from './e2e-suite.ts';
import { startEtcd } from './harness/etcd.ts';
import { rawEtcd } from './harness/raw-registry.ts';

e2eSuite('etcd', async () => {
  const etcd = await startEtcd();
  return {
    endpoint: etcd.endpoint,
    url: (ep) => `etcd://${ep}`,
    raw: async () => rawEtcd(etcd.endpoint),
    entryName: new RegExp(`^${instanceIdFor('127.0.0.1', 'mysql').replace(/\./g, '\\.')}$`),
    stop: () => etcd.stop(),
  };
});
