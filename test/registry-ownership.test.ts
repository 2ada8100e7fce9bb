/**
 * Whose registration is whose, through the Service controller against real ZooKeeper and etcd:
 * two agents on different hosts configured with one instance id never remove each other's live
 * registration (the second shows Registered=False, InstanceConflict), and a registration another
 * client deletes or overwrites (test/harness/raw-registry.ts, as a hostile neighbour) is written
 * again at the next reconcile.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Agent } from '../src/agent.ts';
import type { ObjectKey } from '../src/object-key.ts';
import { MemoryProxy } from '../src/proxy/memory-proxy.ts';
import { createRegistry } from '../src/registry/create-registry.ts';
import type { Registry } from '../src/registry/registry.ts';
import { eventually } from './harness/eventually.ts';
import { startEtcd } from './harness/etcd.ts';
import { rawEtcd, rawZooKeeper, type RawRegistry } from './harness/raw-registry.ts';
import { service, StaticSource } from './harness/static-source.ts';
import { startZooKeeper } from './harness/zookeeper.ts';

const healthy = () => ({ healthy: true, start() {}, async stop() {}, statuses: () => [] });

interface Server {
  url: string;
  raw: RawRegistry;
  /** The raw client's key for entry `child` of `path` (etcd keys carry the agent's prefix). */
  rawKey(path: string, child: string): string;
  stop(): Promise<void>;
}

const servers: Record<string, () => Promise<Server>> = {
  zookeeper: async () => {
    const zk = await startZooKeeper();
    return { url: `zk://${zk.connectString}`, raw: await rawZooKeeper(zk.connectString), rawKey: (p, c) => `${p}/${c}`, stop: () => zk.stop() };
  },
  etcd: async () => {
    const etcd = await startEtcd();
    return { url: `etcd://${etcd.endpoint}`, raw: rawEtcd(etcd.endpoint), rawKey: (p, c) => `/dockstack${p}/${c}`, stop: () => etcd.stop() };
  },
};

for (const [kind, start] of Object.entries(servers)) {
  describe(`instance ownership on ${kind}`, () => {
    let server: Server;
    const agents: Agent[] = [];
    const registries: Registry[] = [];
    before(async () => {
      server = await start();
    });
    after(async () => {
      for (const a of agents) await a.stop().catch(() => undefined);
      for (const r of registries) await r.close().catch(() => undefined);
      await server?.raw.close();
      await server?.stop();
    });

    /** Reconciles of each agent's Service so far: waiting on them, not on time. */
    const reconciles = new Map<Agent, number>();
    const agent = async (yaml: string): Promise<{ agent: Agent; source: StaticSource }> => {
      const registry = await createRegistry({ url: server.url, sessionTimeoutMs: 4000, opTimeoutMs: 3000 });
      registries.push(registry);
      const source = new StaticSource();
      source.set('svc.yaml', yaml);
      const a: Agent = new Agent({
        source, registry, proxy: new MemoryProxy(), host: '127.0.0.1', health: healthy, resyncMs: 200,
        onReconcile: (key) => key.startsWith('service/') && reconciles.set(a, (reconciles.get(a) ?? 0) + 1),
      });
      agents.push(a);
      await a.start();
      return { agent: a, source };
    };
    const entries = async (path: string): Promise<string[]> => [...(await server.raw.read(path)).values()].sort();
    const reconciled = async (a: Agent, n: number): Promise<void> => {
      const target = (reconciles.get(a) ?? 0) + n;
      await eventually(() => assert.ok((reconciles.get(a) ?? 0) >= target, `${n} more reconciles`), { timeoutMs: 20_000 });
    };
    const registered = (a: Agent, key: ObjectKey) => a.status.condition(key, 'Registered');

    it('two hosts on one instance id: the second is refused (InstanceConflict), the first keeps its registration', async () => {
      const path = '/own/conflict';
      const first = await agent(service('db', `path: ${path}\nport: 3306\nhost: 10.0.0.1\ninstanceId: shared`));
      await eventually(() => assert.equal(registered(first.agent, 'service/db')?.status, 'True'), { timeoutMs: 20_000 });
      const mine = '{"host":"10.0.0.1","port":3306,"name":"shared"}';
      assert.deepEqual(await entries(path), [mine]);

      const second = await agent(service('db', `path: ${path}\nport: 3306\nhost: 10.0.0.2\ninstanceId: shared`));
      await eventually(() => {
        const c = registered(second.agent, 'service/db');
        assert.equal(c?.reason, 'InstanceConflict', JSON.stringify(c));
        assert.match(c?.message ?? '', /instance id shared is held by another agent's live registration for 10\.0\.0\.1/);
      }, { timeoutMs: 20_000 });
      // Resyncs of both: the first's entry is never removed, the second's never written.
      for (let i = 0; i < 5; i++) {
        await reconciled(second.agent, 2);
        await reconciled(first.agent, 1);
        assert.deepEqual(await entries(path), [mine]);
        assert.equal(registered(first.agent, 'service/db')?.status, 'True');
      }
      assert.deepEqual(second.agent.status.events('service/db').filter((e) => e.reason === 'InstanceConflict').length, 1, 'warned once');

      // The holder goes: the id is free, and the second registers.
      first.source.set('svc.yaml', undefined);
      await eventually(async () => {
        assert.equal(registered(second.agent, 'service/db')?.status, 'True');
        assert.deepEqual(await entries(path), ['{"host":"10.0.0.2","port":3306,"name":"shared"}']);
      }, { timeoutMs: 30_000 });
    });

    it('a registration another client deletes or overwrites is written again at the next reconcile', async () => {
      const path = '/own/heal';
      const mine = '{"host":"10.0.0.3","port":80,"name":"web-1"}';
      const { agent: a } = await agent(service('web', `path: ${path}\nport: 80\nhost: 10.0.0.3\ninstanceId: web-1`));
      await eventually(async () => assert.deepEqual(await entries(path), [mine]), { timeoutMs: 20_000 });
      const child = [...(await server.raw.read(path)).keys()][0]!;

      await server.raw.remove(server.rawKey(path, child));
      await eventually(async () => assert.deepEqual(await entries(path), [mine]), { timeoutMs: 10_000, message: 'restored after delete' });

      if (kind === 'etcd') {
        // Overwritten in place by a client without a lease: ours again, on our lease.
        await server.raw.write(path, 'web-1', '{"host":"6.6.6.6","port":80,"name":"web-1"}');
        await eventually(async () => assert.deepEqual(await entries(path), [mine]), { timeoutMs: 10_000, message: 'restored after overwrite' });
      }
      assert.equal(registered(a, 'service/web')?.status, 'True');
    });
  });
}
