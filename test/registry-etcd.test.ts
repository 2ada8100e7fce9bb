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
      await eventually(async () => assert.ok(await raw.get('/dockstack/lease/svc/l-1').string(), "await raw.get('/dockstack/lease/svc/l-1').string()"), { timeoutMs: 30_000 });
    } finally {
      await proxy.close();
    }
  });

  it('a lease keepalive unanswered through a silent partition (no RST) moves to another member before the lease expires', async (t) => {
    const proxies = [await startTcpProxy(etcd.port), await startTcpProxy(etcd.port)];
    try {
      const drops: string[] = [];
      const r = await createRegistry({ url: `etcd://${proxies.map((p) => `127.0.0.1:${p.port}`).join(',')}`, leaseTtlSec: 3, opTimeoutMs: 2000, onEvent: (e) => e.type === 'connection-dropped' && drops.push(e.message) });
      open.push(r);
      await eventually(() => r.register('/silent/svc', { host: '10.0.0.1', port: 80, name: 's-1' }), { timeoutMs: 15_000 });
      const lease = (await raw.get('/dockstack/silent/svc/s-1').exec()).kvs[0]?.lease;
      // Keepalives go every second (TTL/3) on one stream, the only traffic once the put is done.
      await eventually(() => assert.equal(r.state(), 'connected'));
      const carrier = await eventually(async () => {
        const before = proxies.map((p) => p.bytes());
        await new Promise((res) => setTimeout(res, 1500));
        const busy = proxies.filter((p, i) => p.bytes() > before[i]!);
        assert.equal(busy.length, 1, 'one proxy carries the keepalives');
        return busy[0]!;
      }, { timeoutMs: 15_000 });
      const states: string[] = [];
      let disconnectedAt: number | undefined;
      r.onStateChange((s) => {
        states.push(s);
        if (s === 'disconnected') disconnectedAt ??= Date.now();
      });
      let lost = false;
      const watching = setInterval(() => void raw.get('/dockstack/silent/svc/s-1').string().then((v) => (lost ||= v === null)), 100);
      const t0 = Date.now();
      carrier.blackhole();
      try {
        // Heard, not polled: the other member can answer before any poll sees "disconnected".
        await eventually(() => assert.ok(disconnectedAt !== undefined, 'disconnectedAt !== undefined'), { timeoutMs: 8000, message: 'the cut-off client notices' });
        const noticed = disconnectedAt! - t0;
        await eventually(() => assert.equal(r.state(), 'connected'), { timeoutMs: 10_000, message: 'keepalives through the other member' });
        t.diagnostic(`noticed ${noticed} ms after the cut (lease TTL 3 s); keepalives answered through the other member ${Date.now() - t0} ms after it`);
        // Past the TTL twice over: a lease kept alive only through the silent member would be gone.
        await new Promise((res) => setTimeout(res, 6000));
        assert.ok(noticed < 3000, `noticed ${noticed} ms after the cut, lease TTL 3 s`);
        assert.equal(lost, false, 'the key never expired');
        assert.equal((await raw.get('/dockstack/silent/svc/s-1').exec()).kvs[0]?.lease, lease, 'the same lease');
        assert.ok(!states.includes('expired'), states.join());
        assert.match(drops.join('\n'), /LeaseKeepAlive .*no answer within 1000 ms/);
      } finally {
        clearInterval(watching);
      }
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  });

  it('cut off silently past the lease TTL: reported disconnected within it; healed: registered again within seconds', async (t) => {
    const proxy = await startTcpProxy(etcd.port);
    try {
      const r = await createRegistry({ url: `etcd://127.0.0.1:${proxy.port}`, leaseTtlSec: 2, opTimeoutMs: 2000 });
      open.push(r);
      await r.register('/silent/expire', { host: '10.0.0.1', port: 80, name: 'x-1' });
      await eventually(() => assert.equal(r.state(), 'connected'));
      const t0 = Date.now();
      proxy.blackhole();
      await eventually(() => assert.notEqual(r.state(), 'connected'), { timeoutMs: 8000, intervalMs: 10, message: 'the cut-off client notices' });
      const noticed = Date.now() - t0;
      assert.ok(noticed < 2000, `noticed ${noticed} ms after the cut, lease TTL 2 s`);
      await eventually(async () => assert.equal(await raw.get('/dockstack/silent/expire/x-1').string(), null), { timeoutMs: 20_000, message: 'etcd expired the lease' });
      proxy.restore();
      const healed = Date.now();
      await eventually(async () => assert.ok(await raw.get('/dockstack/silent/expire/x-1').string(), "await raw.get('/dockstack/silent/expire/x-1').string()"), { timeoutMs: 30_000, message: 'registered again' });
      const back = Date.now() - healed;
      t.diagnostic(`noticed ${noticed} ms after the cut (lease TTL 2 s); registered again ${back} ms after the heal`);
      assert.ok(back < 10_000, `registered again ${back} ms after the heal`);
      await eventually(() => assert.equal(r.state(), 'connected'));
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
    await eventually(() => assert.ok(calls > before, 'calls > before'), { timeoutMs: 20_000 });
  });
});
