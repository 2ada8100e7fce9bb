/**
 * etcd faults against the whole agent: a single node restarted, the lease lost behind a network cut,
 * a compaction while the watch was away (the watch must recover by itself: resync is set far beyond
 * the test's bounds), and a 3-member cluster losing its leader. Client traffic through the local
 * listener is counted throughout.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EtcdRegistry } from '../src/registry/etcd-registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { answering, startTcpBackend, type TestBackend } from './harness/backends.ts';
import { startEtcdCluster, type EtcdCluster } from './harness/etcd-cluster.ts';
import { startEtcd, type EtcdServer } from './harness/etcd.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';
import { rawEtcd, type RawRegistry } from './harness/raw-registry.ts';
import { service, subscription } from './harness/static-source.ts';
import { startTcpProxy, type TcpProxy } from './harness/tcp-proxy.ts';
import { probeTraffic } from './harness/traffic-probe.ts';
import { instanceIdFor } from '../src/reconcile/instance-id.ts';

const PATH = '/services/etcdf';
const LEASE_S = 3;

/** An agent on `dir` with Services a and b registered under PATH and a Subscription routing to PATH. */
async function agentOn(url: string, dir: string, port: number, a: TestBackend, b: TestBackend): Promise<RunningAgent> {
  await writeFile(join(dir, 'a.yaml'), service('ef-a', `path: ${PATH}\nport: ${a.port}`));
  await writeFile(join(dir, 'b.yaml'), service('ef-b', `path: ${PATH}\nport: ${b.port}`));
  await writeFile(join(dir, 'sub.yaml'), subscription('ef', `service: ${PATH}\nlisten: { port: ${port} }\ncheck: { type: none }`));
  return startAgent({
    manifestsDir: dir,
    registry: { url, leaseTtlSec: LEASE_S, opTimeoutMs: 1000, connectTimeoutMs: 500 },
    host: '127.0.0.1',
    statusAddr: '127.0.0.1:0',
    proxy: 'haproxy',
    haproxyDir: join(dir, '.state'),
    // Far beyond every bound below: recovery must come from the watch, not the periodic resync.
    resyncMs: 600_000,
  });
}

const entry = (b: TestBackend) => JSON.stringify({ host: '127.0.0.1', port: b.port });

describe('single etcd node', () => {
  let etcd: EtcdServer;
  let proxy: TcpProxy;
  let dir: { path: string; cleanup: () => Promise<void> };
  let agent: RunningAgent;
  let raw: RawRegistry;
  let port: number;
  let a: TestBackend, b: TestBackend, c: TestBackend;
  const own = async () => [...(await raw.read(PATH)).keys()].filter((k) => k.startsWith('ef-')).sort();
  const registered = async () => assert.deepEqual(await own(), [instanceIdFor('127.0.0.1', 'ef-a'), instanceIdFor('127.0.0.1', 'ef-b')]);
  const routes = async (want: string[]) => assert.deepEqual([...(await answering(port, 2 * want.length + 2))].sort(), want);

  before(async () => {
    etcd = await startEtcd();
    proxy = await startTcpProxy(etcd.port);
    raw = rawEtcd(etcd.endpoint);
    dir = await tempDir('ds-faults-etcd');
    port = await freePort();
    [a, b, c] = [await startTcpBackend('a'), await startTcpBackend('b'), await startTcpBackend('c')];
    agent = await agentOn(`etcd://127.0.0.1:${proxy.port}`, dir.path, port, a, b);
    await eventually(registered, { timeoutMs: 20_000 });
    await eventually(() => routes(['a', 'b']), { timeoutMs: 20_000 });
  });

  after(async () => {
    await agent?.stop();
    await raw?.close();
    await proxy?.close();
    await Promise.all([a, b, c].map((x) => x?.close()));
    await etcd?.stop();
    await dir?.cleanup();
  });

  test('restarted: the lease and registrations survive, the watch resumes, no connection fails', async (t) => {
    const probe = probeTraffic(port);
    const t0 = Date.now();
    await etcd.restart();
    t.diagnostic(`etcd serving again after ${Date.now() - t0} ms`);
    const key = await raw.write(PATH, 'other', entry(c));
    await eventually(() => routes(['a', 'b', 'c']), { timeoutMs: 20_000 });
    t.diagnostic(`new instance routed ${Date.now() - t0} ms after the restart began`);
    await registered();
    await raw.remove(key);
    await eventually(() => routes(['a', 'b']), { timeoutMs: 20_000 });
    const traffic = await probe.stop();
    t.diagnostic(`connections: ${traffic.ok} ok, ${traffic.failed} failed`);
    assert.equal(traffic.failed, 0, traffic.errors.join('\n'));
  });

  test('compacted while the watch was cut off: the watch re-lists, misses nothing, and keeps watching', async (t) => {
    await eventually(() => assert.equal(agent.registry.state(), 'connected'), { timeoutMs: 10_000 });
    proxy.cut();
    await eventually(() => assert.notEqual(agent.registry.state(), 'connected'), { timeoutMs: 10_000 });
    const key = await raw.write(PATH, 'other', entry(c));
    // Writes elsewhere move the revision on, so the compaction passes the watch's resume revision.
    for (let i = 0; i < 3; i++) await raw.write('/elsewhere', `noise${i}`, '{}');
    await compact(etcd.port);
    const t0 = Date.now();
    proxy.restore();
    await eventually(() => routes(['a', 'b', 'c']), { timeoutMs: 20_000 });
    t.diagnostic(`change made during the cut routed ${Date.now() - t0} ms after reconnecting`);
    // The watch must still be alive: a later change arrives without any resync.
    const t1 = Date.now();
    await raw.remove(key);
    await eventually(() => routes(['a', 'b']), { timeoutMs: 15_000, message: 'a change after the compaction reached HAProxy' });
    t.diagnostic(`next change routed after ${Date.now() - t1} ms`);
  });

  test('registry level: a watch etcd cancels for compaction is re-created, and the stream is not cycled', async () => {
    const p2 = await startTcpProxy(etcd.port);
    const events: string[] = [];
    const reg = new EtcdRegistry({ hosts: [`127.0.0.1:${p2.port}`], prefix: '/dockstack', leaseTtlSec: LEASE_S, opTimeoutMs: 500, connectTimeoutMs: 500, onEvent: (e) => events.push(e.message) });
    try {
      let calls = 0;
      reg.watch('/compact', () => calls++);
      await eventually(() => assert.equal(reg.state(), 'connected'));
      // Longer than the op deadline: a deadline on the stream would end it (and flap the state) meanwhile.
      const flapsBefore = events.filter((e) => e === 'etcd disconnected').length;
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(events.filter((e) => e === 'etcd disconnected').length, flapsBefore, events.join('\n'));
      p2.cut();
      await eventually(() => assert.equal(reg.state(), 'disconnected'));
      await raw.write('/compact', 'x', '{}');
      for (let i = 0; i < 3; i++) await raw.write('/elsewhere', `noise${i}`, '{}');
      await compact(etcd.port);
      p2.restore();
      await eventually(() => assert.ok(events.some((e) => /watching again/.test(e)), events.join('\n')), { timeoutMs: 10_000 });
      await eventually(() => assert.equal(reg.state(), 'connected'));
      const before = calls;
      await raw.write('/compact', 'y', '{}');
      await eventually(() => assert.ok(calls > before, 'a change after the compaction was seen'), { timeoutMs: 5000 });
    } finally {
      await reg.close();
      await p2.close();
    }
  });

  test('cut off until the lease expires: keys go, fail static holds, everything is put again once', async (t) => {
    const probe = probeTraffic(port);
    proxy.cut();
    const t0 = Date.now();
    await eventually(async () => assert.deepEqual(await own(), []), { timeoutMs: LEASE_S * 1000 + 15_000 });
    t.diagnostic(`lease expired ${Date.now() - t0} ms after the cut`);
    await routes(['a', 'b']);
    const t1 = Date.now();
    proxy.restore();
    await eventually(registered, { timeoutMs: 30_000 });
    t.diagnostic(`re-registered ${Date.now() - t1} ms after the network came back`);
    const traffic = await probe.stop();
    t.diagnostic(`connections: ${traffic.ok} ok, ${traffic.failed} failed`);
    assert.equal(traffic.failed, 0, traffic.errors.join('\n'));
  });
});

describe('3-member etcd cluster', () => {
  let cluster: EtcdCluster;
  let dir: { path: string; cleanup: () => Promise<void> };
  let agent: RunningAgent;
  let raw: RawRegistry;
  let port: number;
  let a: TestBackend, b: TestBackend, c: TestBackend;
  const own = async () => [...(await raw.read(PATH)).keys()].filter((k) => k.startsWith('ef-')).sort();
  const routes = async (want: string[]) => assert.deepEqual([...(await answering(port, 2 * want.length + 2))].sort(), want);

  before(async () => {
    cluster = await startEtcdCluster();
    dir = await tempDir('ds-faults-etcd3');
    port = await freePort();
    [a, b, c] = [await startTcpBackend('a'), await startTcpBackend('b'), await startTcpBackend('c')];
    agent = await agentOn(`etcd://${cluster.endpoints.join(',')}`, dir.path, port, a, b);
    await eventually(() => routes(['a', 'b']), { timeoutMs: 20_000 });
  });

  after(async () => {
    await agent?.stop();
    await raw?.close();
    await Promise.all([a, b, c].map((x) => x?.close()));
    await cluster?.stop();
    await dir?.cleanup();
  });

  for (const which of ['the leader', 'the first endpoint'] as const) {
    test(`${which} killed: the lease is kept alive, the watch moves on, no connection fails`, async (t) => {
      const leader = await cluster.leader();
      assert.ok(leader !== undefined, 'leader !== undefined');
      const victim = which === 'the leader' ? leader : 0;
      const others = cluster.endpoints.filter((_, i) => i !== victim);
      raw = rawEtcd(others[0]!);
      const probe = probeTraffic(port);
      const t0 = Date.now();
      await cluster.kill(victim);
      await cluster.waitHealthy();
      t.diagnostic(`cluster healthy ${Date.now() - t0} ms after killing ${which}`);
      const key = await raw.write(PATH, 'other', entry(c));
      await eventually(() => routes(['a', 'b', 'c']), { timeoutMs: 20_000 });
      t.diagnostic(`new instance routed ${Date.now() - t0} ms after the kill`);
      // Longer than the lease TTL: it must have been kept alive through the surviving members.
      await eventually(async () => assert.ok(Date.now() - t0 > (LEASE_S + 1) * 1000, 'Date.now() - t0 > (LEASE_S + 1) * 1000'), { timeoutMs: (LEASE_S + 3) * 1000, intervalMs: 250 });
      assert.deepEqual(await own(), [instanceIdFor('127.0.0.1', 'ef-a'), instanceIdFor('127.0.0.1', 'ef-b')]);
      await raw.remove(key);
      await eventually(() => routes(['a', 'b']), { timeoutMs: 20_000 });
      const traffic = await probe.stop();
      t.diagnostic(`connections: ${traffic.ok} ok, ${traffic.failed} failed`);
      assert.equal(traffic.failed, 0, traffic.errors.join('\n'));
      await raw.close();
      await cluster.start(victim);
    });
  }
});

/** Compact etcd's history up to its current revision (through the v3 JSON gateway). */
async function compact(port: number): Promise<void> {
  const url = `http://127.0.0.1:${port}/v3`;
  const range = (await (await fetch(`${url}/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('x').toString('base64') }) })).json()) as { header: { revision: string } };
  const res = await fetch(`${url}/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision: range.header.revision, physical: true }) });
  assert.equal(res.status, 200, await res.text());
}
