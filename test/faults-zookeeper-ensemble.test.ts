/**
 * ZooKeeper faults against a real 3-node ensemble and the whole agent (watched dir → registry →
 * HAProxy): the leader killed, a follower killed, all three killed and restarted, and a network cut
 * long enough for the session to expire. Throughout, client traffic through the local listener is
 * counted: fail static means no connection fails while the registry is away.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { answering, startTcpBackend, type TestBackend } from './harness/backends.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';
import { rawZooKeeper, type RawRegistry } from './harness/raw-registry.ts';
import { service, subscription } from './harness/static-source.ts';
import { startTcpProxy, type TcpProxy } from './harness/tcp-proxy.ts';
import { probeTraffic } from './harness/traffic-probe.ts';
import { startZooKeeperEnsemble, type ZooKeeperEnsemble } from './harness/zookeeper-ensemble.ts';
import { instanceIdFor } from '../src/reconcile/instance-id.ts';

const PATH = '/services/ens';
const SESSION_MS = 4000;

describe('ZooKeeper ensemble faults', () => {
  let zk: ZooKeeperEnsemble;
  let proxies: TcpProxy[] = [];
  let dir: { path: string; cleanup: () => Promise<void> };
  let agent: RunningAgent;
  let raw: RawRegistry;
  let port: number;
  const backends: TestBackend[] = [];

  /** Our two registrations, each present exactly once (no duplicate, no orphan). */
  const ownEntries = async (): Promise<string[]> => {
    const names = [...(await raw.read(PATH)).keys()].filter((k) => k.startsWith('ens-')).map((k) => k.replace(/_\d{10}$/, ''));
    return names.sort();
  };
  const registered = async () => assert.deepEqual(await ownEntries(), [instanceIdFor('127.0.0.1', 'ens-a'), instanceIdFor('127.0.0.1', 'ens-b')]);
  const routes = async (want: string[]) => assert.deepEqual([...(await answering(port, 2 * want.length + 2))].sort(), want);
  const connected = () => assert.equal(agent.registry.state(), 'connected');
  const note = (t: TestContext, what: string, ms: number) => t.diagnostic(`${what}: ${ms} ms`);

  before(async () => {
    zk = await startZooKeeperEnsemble();
    // The agent reaches each node through a proxy, so the network can be cut without killing a server.
    proxies = await Promise.all(zk.clientPorts.map((p) => startTcpProxy(p)));
    raw = await rawZooKeeper(zk.connectString);
    dir = await tempDir('ds-faults-zk');
    port = await freePort();
    backends.push(await startTcpBackend('a'), await startTcpBackend('b'), await startTcpBackend('c'));
    const [a, b] = backends as [TestBackend, TestBackend];
    await writeFile(join(dir.path, 'a.yaml'), service('ens-a', `path: ${PATH}\nport: ${a.port}`));
    await writeFile(join(dir.path, 'b.yaml'), service('ens-b', `path: ${PATH}\nport: ${b.port}`));
    await writeFile(join(dir.path, 'sub.yaml'), subscription('ens', `service: ${PATH}\nlisten: { port: ${port} }\ncheck: { type: none }`));
    agent = await startAgent({
      manifestsDir: dir.path,
      registry: { url: `zk://${proxies.map((p) => `127.0.0.1:${p.port}`).join(',')}`, sessionTimeoutMs: SESSION_MS, opTimeoutMs: 1000, connectTimeoutMs: 500 },
      host: '127.0.0.1',
      statusAddr: '127.0.0.1:0',
      proxy: 'haproxy',
      haproxyDir: join(dir.path, '.state'),
      resyncMs: 1000,
    });
    await eventually(registered, { timeoutMs: 30_000 });
    await eventually(() => routes(['a', 'b']), { timeoutMs: 30_000 });
  });

  after(async () => {
    await agent?.stop();
    await raw?.close();
    await Promise.all(proxies.map((p) => p.close()));
    await Promise.all(backends.map((b) => b.close()));
    await zk?.stop();
    await dir?.cleanup();
  });

  for (const role of ['leader', 'follower'] as const) {
    test(`the ${role} killed: registrations stay, watches resume, no connection fails`, async (t) => {
      const leader = await zk.leader();
      assert.ok(leader !== undefined, 'leader !== undefined');
      const victim = role === 'leader' ? leader : (leader + 1) % 3;
      const probe = probeTraffic(port);
      const t0 = Date.now();
      await zk.kill(victim);
      await zk.waitQuorum();
      note(t, `quorum again after the ${role} was killed`, Date.now() - t0);
      await eventually(connected, { timeoutMs: 30_000 });
      note(t, `agent connected again after the ${role} was killed`, Date.now() - t0);
      await eventually(registered, { timeoutMs: 30_000 });
      // A watch that survived the fault: a new instance written by someone else is routed.
      const key = await raw.write(PATH, 'other', JSON.stringify({ host: '127.0.0.1', port: backends[2]!.port }));
      await eventually(() => routes(['a', 'b', 'c']), { timeoutMs: 20_000 });
      note(t, `new instance routed after the ${role} was killed`, Date.now() - t0);
      await raw.remove(key);
      await eventually(() => routes(['a', 'b']), { timeoutMs: 20_000 });
      const traffic = await probe.stop();
      t.diagnostic(`connections through the listener: ${traffic.ok} ok, ${traffic.failed} failed`);
      assert.equal(traffic.failed, 0, traffic.errors.join('\n'));
      await zk.start(victim);
      await registered();
    });
  }

  test('all three killed and restarted: fail static while down, then registrations and watches come back', async (t) => {
    const probe = probeTraffic(port);
    await Promise.all([0, 1, 2].map((i) => zk.kill(i)));
    const t0 = Date.now();
    await eventually(() => assert.equal(agent.agent.status.condition('subscription/ens', 'Synced')?.status, 'False'), { timeoutMs: 20_000 });
    assert.equal(agent.agent.status.condition('subscription/ens', 'Ready')?.reason, 'FailStatic');
    assert.deepEqual(agent.agent.viewOf('subscription/ens')?.status.details.backends, [backends[0], backends[1]].map((b) => `127.0.0.1:${b!.port}`).sort());
    await routes(['a', 'b']);
    note(t, 'registry loss noticed (Synced=False)', Date.now() - t0);
    const t1 = Date.now();
    for (const i of [0, 1, 2]) await zk.start(i, { waitServing: false });
    await zk.waitQuorum();
    note(t, 'ensemble serving again after a restart of all three', Date.now() - t1);
    await eventually(connected, { timeoutMs: 30_000 });
    await eventually(() => assert.equal(agent.agent.status.condition('subscription/ens', 'Synced')?.status, 'True'), { timeoutMs: 30_000 });
    await eventually(registered, { timeoutMs: 30_000 });
    note(t, 'agent re-synced after the restart', Date.now() - t1);
    const key = await raw.write(PATH, 'other', JSON.stringify({ host: '127.0.0.1', port: backends[2]!.port }));
    await eventually(() => routes(['a', 'b', 'c']), { timeoutMs: 20_000 });
    await raw.remove(key);
    await eventually(() => routes(['a', 'b']), { timeoutMs: 20_000 });
    const traffic = await probe.stop();
    t.diagnostic(`connections through the listener: ${traffic.ok} ok, ${traffic.failed} failed`);
    assert.equal(traffic.failed, 0, traffic.errors.join('\n'));
  });

  test('cut off until the session expires: ephemerals go, fail static holds, everything re-registers once', async (t) => {
    const probe = probeTraffic(port);
    for (const p of proxies) p.cut();
    const t0 = Date.now();
    // The server expires the session and deletes our ephemerals.
    await eventually(async () => assert.deepEqual(await ownEntries(), []), { timeoutMs: SESSION_MS + 20_000 });
    note(t, 'session expired on the server (ephemerals gone) after the cut', Date.now() - t0);
    await routes(['a', 'b']);
    assert.equal(agent.agent.status.condition('subscription/ens', 'Ready')?.reason, 'FailStatic');
    const t1 = Date.now();
    for (const p of proxies) p.restore();
    await eventually(registered, { timeoutMs: 30_000 });
    note(t, 're-registered after the network came back', Date.now() - t1);
    await eventually(() => assert.equal(agent.agent.status.condition('subscription/ens', 'Ready')?.reason, 'Routing'), { timeoutMs: 20_000 });
    const traffic = await probe.stop();
    t.diagnostic(`connections through the listener: ${traffic.ok} ok, ${traffic.failed} failed`);
    assert.equal(traffic.failed, 0, traffic.errors.join('\n'));
    // Stays at exactly one registration each (no late duplicate from a retried create): counted once
    // no reconcile is backing off, queued or running, so no create is still in flight.
    await eventually(() => {
      for (const k of ['service/ens-a', 'service/ens-b'] as const) assert.equal(agent.agent.queue.retries(k), 0, `${k} still retrying`);
    }, { timeoutMs: 30_000 });
    await agent.agent.queue.idle();
    await registered();
    assert.equal(agent.agent.status.condition('service/ens-a', 'Registered')?.status, 'True');
  });
});
