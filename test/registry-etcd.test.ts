import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3 } from 'etcd3';
import { createRegistry } from '../src/registry/create-registry.ts';
import type { Registry } from '../src/registry/registry.ts';
import { eventually } from './harness/eventually.ts';
import { startEtcd, type EtcdServer } from './harness/etcd.ts';
import { startTcpProxy } from './harness/tcp-proxy.ts';
import { registryConformance } from './registry-conformance.ts';

registryConformance('etcd', async () => {
  const etcd = await startEtcd();
  const raw = new Etcd3({ hosts: `http://${etcd.endpoint}` });
  return {
    largeValues: true,
    async registry() {
      return await createRegistry({ url: `etcd://${etcd.endpoint}`, etcdPrefix: '/conformance' });
    },
    async writeRaw(path, key, data) {
      await raw.put(`/conformance${path}/${key}`).value(data);
    },
    async teardown() {
      raw.close();
      await etcd.stop();
    },
  };
});

describe('etcd registry on a real server', () => {
  let etcd: EtcdServer;
  let raw: Etcd3;
  const open: Registry[] = [];
  before(async () => {
    etcd = await startEtcd();
    raw = new Etcd3({ hosts: `http://${etcd.endpoint}` });
  });
  after(async () => {
    for (const r of open) await r.close();
    raw?.close();
    await etcd?.stop();
  });

  it('writes the JSON under <prefix><path>/<id> on a lease', async () => {
    const r = await createRegistry({ url: `etcd://${etcd.endpoint}` });
    open.push(r);
    await r.register('/wire/web', { host: '10.1.2.3', port: 8080, name: 'web-1' });
    assert.equal(await raw.get('/dockstack/wire/web/web-1').string(), '{"host":"10.1.2.3","port":8080,"name":"web-1"}');
    const res = await raw.get('/dockstack/wire/web/web-1').exec();
    assert.notEqual(res.kvs[0]?.lease, '0');
  });

  it('puts the key back after lease loss', async () => {
    const proxy = await startTcpProxy(etcd.port);
    try {
      const r = await createRegistry({ url: `etcd://127.0.0.1:${proxy.port}`, leaseTtlSec: 2, opTimeoutMs: 2000 });
      open.push(r);
      await r.register('/lease/svc', { host: '10.0.0.1', port: 80, name: 'l-1' });
      proxy.cut();
      await eventually(async () => assert.equal(await raw.get('/dockstack/lease/svc/l-1').string(), null), { timeoutMs: 20_000 });
      proxy.restore();
      await eventually(async () => assert.ok(await raw.get('/dockstack/lease/svc/l-1').string()), { timeoutMs: 30_000 });
    } finally {
      await proxy.close();
    }
  });

  it('stays registered and keeps watching across an etcd restart', async () => {
    const r = await createRegistry({ url: `etcd://${etcd.endpoint}`, leaseTtlSec: 10 });
    open.push(r);
    await r.register('/restart/svc', { host: '10.0.0.1', port: 80, name: 'r-1' });
    let calls = 0;
    r.watch('/restart/watched', () => calls++);
    await etcd.restart();
    const l = await eventually(() => r.list('/restart/svc'), { timeoutMs: 20_000 });
    assert.deepEqual(l.instances.map((i) => i.name), ['r-1']);
    const before = calls;
    await eventually(() => raw.put('/dockstack/restart/watched/x').value('{"host":"10.0.0.2","port":1}'), { timeoutMs: 10_000 });
    await eventually(() => assert.ok(calls > before), { timeoutMs: 20_000 });
  });
});
