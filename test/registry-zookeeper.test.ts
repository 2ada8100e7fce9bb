import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import zookeeper from 'node-zookeeper-client';
import { createRegistry } from '../src/registry/create-registry.ts';
import { CreateMode, ZkClient, ZkOpError, ZkException } from '../src/registry/zookeeper-client.ts';
import type { Registry } from '../src/registry/registry.ts';
import { InstanceConflictError, RegistryError, UsageError } from '../src/errors.ts';
import { eventually } from './harness/eventually.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';
import { startTcpProxy } from './harness/tcp-proxy.ts';
import { registryConformance } from './registry-conformance.ts';

const plain = (servers: string, auth?: string): ZkClient => {
  const c = new ZkClient({ servers, sessionTimeoutMs: 4000, opTimeoutMs: 5000, ...(auth ? { auth } : {}) });
  c.connect();
  return c;
};

registryConformance('zookeeper', async () => {
  const zk = await startZooKeeper();
  const raw = plain(zk.connectString);
  return {
    largeValues: false,
    async registry() {
      return await createRegistry({ url: `zk://${zk.connectString}/conformance`, sessionTimeoutMs: 4000 });
    },
    async writeRaw(path, key, data) {
      await raw.mkdirp(`/conformance${path}`);
      await raw.create(`/conformance${path}/${key}`, Buffer.from(data), CreateMode.PERSISTENT);
    },
    async teardown() {
      await raw.close();
      await zk.stop();
    },
  };
});

describe('ZooKeeper registry on a real server', () => {
  let zk: ZooKeeperServer;
  let other: ZkClient;
  const open: Registry[] = [];
  const reg = async (url: string, extra: { zkAuth?: string; sessionTimeoutMs?: number } = {}): Promise<Registry> => {
    const r = await createRegistry({ url, sessionTimeoutMs: extra.sessionTimeoutMs ?? 4000, opTimeoutMs: 3000, ...extra });
    open.push(r);
    return r;
  };
  before(async () => {
    zk = await startZooKeeper();
    other = plain(zk.connectString);
  });
  after(async () => {
    for (const r of open) await r.close();
    await other?.close();
    await zk?.stop();
  });

  it('writes exactly the Nerve wire format, readable by a plain client', async () => {
    const r = await reg(`zk://${zk.connectString}`);
    const key = await r.register('/nerve/web', { host: '10.1.2.3', port: 8080, name: 'web-1', weight: 2 });
    const children = await new Promise<string[]>((resolve, reject) => {
      const c = zookeeper.createClient(zk.connectString);
      c.once('connected', () =>
        c.getChildren('/nerve/web', (err, ch) => {
          if (err) return reject(err);
          c.getData(`/nerve/web/${ch[0]}`, (err2, data, stat) => {
            c.close();
            if (err2) return reject(err2);
            assert.equal(data.toString(), '{"host":"10.1.2.3","port":8080,"name":"web-1","weight":2}');
            assert.notEqual(stat.ephemeralOwner.readBigUInt64BE(), 0n, 'must be ephemeral');
            resolve(ch);
          });
        }),
      );
      c.connect();
    });
    assert.equal(children.length, 1);
    assert.match(children[0] ?? '', /^web-1_\d{10}$/);
    assert.equal(key, `/nerve/web/${children[0]}`);
  });

  it("removes a crashed predecessor's stale nodes, never another instance's or another host's", async () => {
    const node = (port: number, name = 'app-1', host = '10.0.0.1'): Buffer => Buffer.from(JSON.stringify({ host, port, name }));
    await other.mkdirp('/stale/svc');
    await other.create('/stale/svc/app-1_0000000101', node(1), CreateMode.PERSISTENT);
    await other.create('/stale/svc/app-1_0000000102', node(2), CreateMode.EPHEMERAL);
    const keep = [
      await other.create('/stale/svc/app-10_0000000103', node(3, 'app-10'), CreateMode.EPHEMERAL),
      // Another Service whose id has ours as a prefix (`web` vs `web_2`): its live node is not ours.
      await other.create('/stale/svc/app-1_2_0000000104', node(4, 'app-1_2'), CreateMode.EPHEMERAL),
      // Our name pattern, but data naming another instance, or no instance at all.
      await other.create('/stale/svc/app-1_0000000105', node(5, 'someone-else'), CreateMode.EPHEMERAL),
      await other.create('/stale/svc/app-1_0000000106', Buffer.from('junk'), CreateMode.PERSISTENT),
      // Not a sequential suffix of ours.
      await other.create('/stale/svc/app-1_x', node(6), CreateMode.PERSISTENT),
    ];
    const r = await reg(`zk://${zk.connectString}`);
    const key = await r.register('/stale/svc', { host: '10.0.0.1', port: 9, name: 'app-1' });
    await r.register('/stale/svc', { host: '10.0.0.1', port: 9, name: 'app-1' });
    const children = (await other.getChildren('/stale/svc'))?.sort();
    assert.deepEqual(children, [key, ...keep].map((k) => k.slice('/stale/svc/'.length)).sort());
  });

  it("an agent registering `web` never deletes the live node of another agent's `web_2`, through resyncs and session expiry", async () => {
    const proxy = await startTcpProxy(zk.port);
    try {
      const web = await reg(`zk://127.0.0.1:${proxy.port}`, { sessionTimeoutMs: 1500 });
      const web2 = await reg(`zk://${zk.connectString}`);
      const theirs = await web2.register('/prefix/svc', { host: '10.0.0.2', port: 80, name: 'web_2' });
      await eventually(() => web.register('/prefix/svc', { host: '10.0.0.1', port: 80, name: 'web' }), { timeoutMs: 15_000 });
      for (let i = 0; i < 3; i++) await web.register('/prefix/svc', { host: '10.0.0.1', port: 80, name: 'web' });
      // A new session searches the path for its predecessor's nodes: the case that deleted web_2's.
      proxy.cut();
      await eventually(async () => assert.deepEqual((await other.getChildren('/prefix/svc'))?.length, 1), { timeoutMs: 20_000 });
      proxy.restore();
      await eventually(async () => assert.deepEqual((await web.list('/prefix/svc')).instances.map((i) => i.name), ['web', 'web_2']), { timeoutMs: 20_000 });
      assert.ok(await other.exists(theirs), `web_2's node ${theirs} is still there`);
      await web.deregister('/prefix/svc', 'web');
      assert.deepEqual((await other.getChildren('/prefix/svc'))?.map((c) => `/prefix/svc/${c}`), [theirs]);
    } finally {
      await proxy.close();
    }
  });

  it("another host's live node with our id is a conflict: reported, never deleted, ours not written", async () => {
    const first = await reg(`zk://${zk.connectString}`);
    const second = await reg(`zk://${zk.connectString}`);
    const held = await first.register('/conflict/svc', { host: '10.0.0.1', port: 80, name: 'shared' });
    await assert.rejects(second.register('/conflict/svc', { host: '10.0.0.2', port: 80, name: 'shared' }), (e: unknown) => {
      assert.ok(e instanceof InstanceConflictError, String(e));
      assert.equal(e.transient, false);
      assert.match(e.message, /instance id shared is held by another agent's live registration for 10\.0\.0\.1/);
      return true;
    });
    await second.deregister('/conflict/svc', 'shared');
    assert.deepEqual((await other.getChildren('/conflict/svc'))?.map((c) => `/conflict/svc/${c}`), [held]);
    // Once the holder is gone, the id is free.
    await first.deregister('/conflict/svc', 'shared');
    const mine = await second.register('/conflict/svc', { host: '10.0.0.2', port: 80, name: 'shared' });
    assert.deepEqual((await other.getChildren('/conflict/svc'))?.map((c) => `/conflict/svc/${c}`), [mine]);
  });

  it('getDataAll reads in order, a missing node as undefined, and fails transiently naming the znode when answers stop', async () => {
    await other.mkdirp('/batch');
    const names = Array.from({ length: 600 }, (_, i) => `n${i}`);
    for (const n of names) await other.create(`/batch/${n}`, Buffer.from(n), CreateMode.PERSISTENT);
    const read = await other.getDataAll([...names, 'gone'].map((n) => `/batch/${n}`), undefined, 16);
    assert.deepEqual(read.map((r) => r?.data?.toString()), [...names, undefined]);
    assert.deepEqual(await other.getDataAll([], undefined, 16), []);

    const proxy = await startTcpProxy(zk.port);
    const c = new ZkClient({ servers: `127.0.0.1:${proxy.port}`, sessionTimeoutMs: 20_000, opTimeoutMs: 500, connectTimeoutMs: 10_000 });
    try {
      c.connect();
      await eventually(() => c.getData('/batch/n0'), { timeoutMs: 10_000 });
      proxy.blackhole();
      const t0 = Date.now();
      const err = await c.getDataAll(names.map((n) => `/batch/${n}`), undefined, 16).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ZkOpError && err.transient, String(err));
      assert.match(err.message, /^reading znode \/batch\/n\d+: /);
      assert.ok(Date.now() - t0 < 3000, `failed after ${Date.now() - t0} ms, deadline 500 ms`);
    } finally {
      await proxy.close();
      await c.close();
    }
  });

  it('operations fail transiently while the server is unreachable, without waiting for it at construction', async () => {
    const proxy = await startTcpProxy(zk.port);
    proxy.cut();
    try {
      const r = await reg(`zk://127.0.0.1:${proxy.port}`);
      assert.notEqual(r.state(), 'connected');
      await assert.rejects(r.list('/x'), (e: unknown) => e instanceof RegistryError && e.transient);
      proxy.restore();
      await eventually(() => r.list('/x'), { timeoutMs: 15_000 });
    } finally {
      await proxy.close();
    }
  });

  it('re-registers (new znode) and re-fires watches after session expiry', async () => {
    const proxy = await startTcpProxy(zk.port);
    try {
      const r = await reg(`zk://127.0.0.1:${proxy.port}`, { sessionTimeoutMs: 1500 });
      const states: string[] = [];
      r.onStateChange((s) => states.push(s));
      const key1 = await eventually(() => r.register('/exp/svc', { host: '10.0.0.1', port: 80, name: 'e-1' }), { timeoutMs: 15_000 });
      let calls = 0;
      r.watch('/exp/other', () => calls++);
      proxy.cut();
      // The server expires the session once its timeout passes without the client.
      await eventually(async () => assert.equal(await other.exists(`/${key1.slice(1)}`), undefined), { timeoutMs: 20_000 });
      proxy.restore();
      const healed = Date.now();
      const key2 = await eventually(
        async () => {
          const ch = (await other.getChildren('/exp/svc')) ?? [];
          assert.equal(ch.length, 1);
          return `/exp/svc/${ch[0]}`;
        },
        { timeoutMs: 20_000 },
      );
      assert.notEqual(key2, key1);
      assert.ok(states.includes('expired'), states.join(','));
      await eventually(() => assert.equal(r.state(), 'connected'), { timeoutMs: 10_000 });
      const before = calls;
      await other.mkdirp('/exp/other');
      await other.create('/exp/other/x', Buffer.from('{"host":"10.0.0.2","port":81}'), CreateMode.EPHEMERAL);
      await eventually(() => assert.ok(calls > before, 'the watch fires on the new session'));
    } finally {
      await proxy.close();
    }
  });

  it('a silent partition (no RST) is noticed within the session timeout and the next server resumes the same session', async (t) => {
    const proxies = [await startTcpProxy(zk.port), await startTcpProxy(zk.port)];
    try {
      const r = await reg(`zk://${proxies.map((p) => `127.0.0.1:${p.port}`).join(',')}`);
      const key = await eventually(() => r.register('/silent/move', { host: '10.0.0.1', port: 80, name: 'm-1' }), { timeoutMs: 15_000 });
      const states: string[] = [];
      let disconnectedAt: number | undefined;
      r.onStateChange((s) => {
        states.push(s);
        if (s === 'disconnected') disconnectedAt ??= Date.now();
      });
      const used = proxies.filter((p) => p.connections() > 0);
      assert.equal(used.length, 1, 'one connection, to one of the two servers');
      const t0 = Date.now();
      used[0]!.blackhole();
      // Heard, not polled: the other server answers within milliseconds, so "disconnected" can last
      // less than any polling interval (measured: 4 ms).
      await eventually(() => assert.ok(disconnectedAt !== undefined, 'disconnectedAt !== undefined'), { timeoutMs: 8000, message: 'the cut-off client notices' });
      const noticed = disconnectedAt! - t0;
      await eventually(() => assert.equal(r.state(), 'connected'), { timeoutMs: 10_000, message: 'reconnected through the other server' });
      t.diagnostic(`noticed ${noticed} ms after the cut (session 4000 ms); connected through the other server ${Date.now() - t0} ms after it`);
      assert.ok(noticed < 4000, `noticed ${noticed} ms after the cut, session timeout 4000 ms`);
      assert.deepEqual(states, ['disconnected', 'connected'], 'the session survived: no expiry');
      assert.equal(proxies.find((p) => p !== used[0])!.connections(), 1);
      assert.deepEqual(await other.getChildren('/silent/move'), [key.slice('/silent/move/'.length)], 'the same node, never re-created');
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
    }
  });

  it('cut off silently past its session timeout: reported disconnected within it; healed: re-registered exactly once', async (t) => {
    const proxy = await startTcpProxy(zk.port);
    try {
      const r = await reg(`zk://127.0.0.1:${proxy.port}`, { sessionTimeoutMs: 2000 });
      const key1 = await eventually(() => r.register('/silent/expire', { host: '10.0.0.1', port: 80, name: 'x-1' }), { timeoutMs: 15_000 });
      const t0 = Date.now();
      proxy.blackhole();
      await eventually(() => assert.notEqual(r.state(), 'connected'), { timeoutMs: 8000, intervalMs: 10, message: 'the cut-off client notices' });
      const noticed = Date.now() - t0;
      assert.ok(noticed < 2000, `noticed ${noticed} ms after the cut, session timeout 2000 ms`);
      await eventually(async () => assert.equal(await other.exists(key1), undefined), { timeoutMs: 20_000, message: 'the server expired the session' });
      proxy.restore();
      const healed = Date.now();
      const key2 = await eventually(async () => {
        const ch = (await other.getChildren('/silent/expire')) ?? [];
        assert.equal(ch.length, 1, ch.join());
        assert.notEqual(`/silent/expire/${ch[0]}`, key1);
        return `/silent/expire/${ch[0]}`;
      }, { timeoutMs: 20_000, message: 're-registered on a new session' });
      await eventually(() => assert.equal(r.state(), 'connected'));
      t.diagnostic(`noticed ${noticed} ms after the cut (session 2000 ms); re-registered ${Date.now() - healed} ms after the heal`);
      assert.deepEqual(await other.getChildren('/silent/expire'), [key2.slice('/silent/expire/'.length)], 'exactly once');
    } finally {
      await proxy.close();
    }
  });

  it('keeps the registration exactly once and watches firing across a server restart', async () => {
    const r = await reg(`zk://${zk.connectString}`, { sessionTimeoutMs: 10_000 });
    await r.register('/restart/svc', { host: '10.0.0.1', port: 80, name: 'r-1' });
    let calls = 0;
    r.watch('/restart/watched', () => calls++);
    await zk.restart();
    await eventually(() => assert.equal(r.state(), 'connected'), { timeoutMs: 20_000 });
    const l = await eventually(() => r.list('/restart/svc'), { timeoutMs: 10_000 });
    assert.deepEqual(l.instances.map((i) => i.name), ['r-1']);
    assert.equal((await eventually(() => other.getChildren('/restart/svc'), { timeoutMs: 10_000 }))?.length, 1);
    const before = calls;
    await eventually(() => other.mkdirp('/restart/watched/child'), { timeoutMs: 10_000 });
    await eventually(() => assert.ok(calls > before, 'the watch fires after the restart'));
  });

  // ZooKeeper checks DELETE on the parent, which must stay open for other agents to register, so
  // digest auth protects our registration's data, not its existence.
  it('with digest auth, another client cannot overwrite our registration', async () => {
    const r = await reg(`zk://${zk.connectString}`, { zkAuth: 'agent:secret' });
    const key = await r.register('/auth/svc', { host: '10.0.0.1', port: 80, name: 'a-1' });
    const anon = plain(zk.connectString);
    const wrong = plain(zk.connectString, 'intruder:nope');
    try {
      for (const c of [anon, wrong])
        await assert.rejects(c.setData(key, Buffer.from('{"host":"6.6.6.6","port":1}')), (e: unknown) => e instanceof ZkOpError && e.zkCode === ZkException.NO_AUTH);
      const data = await anon.getData(key);
      assert.ok(data?.data?.toString().includes('"a-1"'), 'world can read');
    } finally {
      await anon.close();
      await wrong.close();
    }
  });

  it('rejects malformed URLs with the expected form', async () => {
    for (const url of ['zk://', 'zk://host', 'zk://h:1/bad path', 'consul://x:1', 'etcd://', 'memory://x', 'nonsense'])
      await assert.rejects(createRegistry({ url }), (e: unknown) => e instanceof UsageError && /expected/.test(`${e.message} ${e.hint}`), url);
  });
});
