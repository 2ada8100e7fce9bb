/**
 * ZkClient.addWatch (ZooKeeper's persistent recursive watch, sent through the library's queue) and
 * ZookeeperWatch on it, and on its one-shot fallback, on a real ZooKeeper 3.8.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRegistry } from '../src/registry/create-registry.ts';
import type { Instance, ListingChange } from '../src/registry/registry.ts';
import { CreateMode, ZkClient, type ZkNodeEvent } from '../src/registry/zookeeper-client.ts';
import { ZookeeperWatch } from '../src/registry/zookeeper-watch.ts';
import { eventually } from './harness/eventually.ts';
import { startTcpProxy } from './harness/tcp-proxy.ts';
import { zooKeeperForFile } from './harness/zookeeper-clients.ts';

// Every listing and every persistent watch set, by any ZkClient of this process.
let lists = 0;
let watchesAdded = 0;
const getChildren = ZkClient.prototype.getChildren;
ZkClient.prototype.getChildren = function (this: ZkClient, ...args: Parameters<typeof getChildren>) {
  lists++;
  return getChildren.apply(this, args);
};
const addWatch = ZkClient.prototype.addWatch;
ZkClient.prototype.addWatch = function (this: ZkClient, ...args: Parameters<typeof addWatch>) {
  watchesAdded++;
  return addWatch.apply(this, args);
};

const json = (i: number, weight = 1) => Buffer.from(JSON.stringify({ host: '10.0.0.1', port: 10_000 + i, name: `i-${i}`, weight }));
/** What the watch delivered last, as "port:weight" sorted. */
const seen = (c: ListingChange | undefined) => [...(c?.current.values() ?? [])].map((i: Instance) => `${i.port}:${i.weight}`).sort();
const expect = (m: ReadonlyMap<number, number>) => [...m].map(([i, w]) => `${10_000 + i}:${w}`).sort();

async function createAll(c: ZkClient, path: string, ids: readonly number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 200) await Promise.all(ids.slice(i, i + 200).map((id) => c.create(`${path}/c${id}`, json(id), CreateMode.PERSISTENT)));
}

const zk = zooKeeperForFile();
const client = zk.client;

test('addWatch hears every create, data change and delete under the path, in order, and stays after firing', async () => {
  const c = client();
  const other = client();
  const heard: string[] = [];
  const seen = (e: ZkNodeEvent) => heard.push(`${e.type} ${e.path}`);
  await c.addWatch('/pw/svc', seen);
  await other.mkdirp('/pw/svc');
  await other.create('/pw/svc/a', Buffer.from('1'), CreateMode.PERSISTENT);
  await other.setData('/pw/svc/a', Buffer.from('2'));
  await other.create('/pw/svc/a/deep', Buffer.from(''), CreateMode.PERSISTENT);
  await other.create('/pw/sibling', Buffer.from(''), CreateMode.PERSISTENT);
  await other.remove('/pw/svc/a/deep');
  await other.remove('/pw/svc/a');
  await other.create('/pw/svc/b', Buffer.from(''), CreateMode.EPHEMERAL);
  // A one-shot watch on the same client still fires, through the library's own dispatch.
  let oneShot = 0;
  await c.getData('/pw/svc/b', () => oneShot++);
  await other.setData('/pw/svc/b', Buffer.from('x'));
  await eventually(() =>
    assert.deepEqual(heard, [
      'created /pw/svc',
      'created /pw/svc/a',
      'changed /pw/svc/a',
      'created /pw/svc/a/deep',
      'deleted /pw/svc/a/deep',
      'deleted /pw/svc/a',
      'created /pw/svc/b',
      'changed /pw/svc/b',
    ]),
  );
  await eventually(() => assert.equal(oneShot, 1));
  // Events and replies share the session's order: a read that sees a change has heard its event.
  await other.setData('/pw/svc/b', Buffer.from('y'));
  const d = await c.getData('/pw/svc/b');
  assert.equal(d?.data?.toString(), 'y');
  assert.equal(heard.at(-1), 'changed /pw/svc/b');
  assert.equal(heard.length, 9, 'the event came before the reply of the read that sees it');
  const n = heard.length;

  c.removeWatch('/pw/svc', seen);
  await other.setData('/pw/svc/b', Buffer.from('z'));
  await c.getData('/pw/svc/b');
  assert.equal(heard.length, n, 'removed: not heard');
});

for (const persistent of [true, false]) {
  test(`a 1 % change of 2,000 children is delivered (creates, deletes, data changes) ${persistent ? 'with no listing after the first' : 'by one-shot watches (the fallback)'}`, async () => {
    const c = client();
    const other = client();
    const path = `/pwatch/${persistent ? 'persistent' : 'one-shot'}`;
    await other.mkdirp(path);
    const want = new Map<number, number>();
    for (let i = 0; i < 2000; i++) want.set(i, 1);
    await createAll(other, path, [...want.keys()]);
    let last: ListingChange | undefined;
    const logs: string[] = [];
    const host = { client: () => c, full: (p: string) => p, connected: () => true, connection: () => 1, log: (t: string) => logs.push(t) };
    const w = new ZookeeperWatch(path, (ch) => (last = ch), host, { persistent });
    try {
      await eventually(() => assert.equal(last?.current.size, 2000), { timeoutMs: 20_000 });
      const listed = lists;
      const removed = [...want.keys()].slice(100, 120);
      const added = Array.from({ length: 20 }, (_, i) => 5000 + i);
      await Promise.all(removed.map((id) => (want.delete(id), other.remove(`${path}/c${id}`))));
      await createAll(other, path, added);
      for (const id of added) want.set(id, 1);
      await Promise.all([7, 8, 9, 5001].map((id) => (want.set(id, 3), other.setData(`${path}/c${id}`, json(id, 3)))));
      // Created and deleted at once: read NO_NODE (or never heard of), never delivered.
      await other.create(`${path}/c9999`, json(9999), CreateMode.PERSISTENT);
      await other.remove(`${path}/c9999`);
      await eventually(() => assert.deepEqual(seen(last), expect(want)), { timeoutMs: 10_000 });
      if (persistent) assert.equal(lists - listed, 0, 'no getChildren after the first sync');
      else assert.ok(lists - listed > 0, 'the fallback re-lists');
      assert.deepEqual(logs, []);
    } finally {
      w.close();
    }
  });
}

test('the persistent watch hears its path created, emptied, deleted and created again; closed, it stops acting', async () => {
  const c = client();
  const other = client();
  const path = '/pwatch/later/svc';
  let last: ListingChange | undefined;
  let deliveries = 0;
  const host = { client: () => c, full: (p: string) => p, connected: () => true, connection: () => 1, log: () => {} };
  const w = new ZookeeperWatch(path, (ch) => ((last = ch), deliveries++), host);
  await eventually(() => assert.ok(last?.reset, 'last?.reset'));
  await other.mkdirp(path);
  await createAll(other, path, [1, 2, 3]);
  await eventually(() => assert.deepEqual(seen(last), expect(new Map([[1, 1], [2, 1], [3, 1]]))));
  for (const id of [1, 2, 3]) await other.remove(`${path}/c${id}`);
  await other.remove(path);
  other.forgetDir(path);
  await eventually(() => assert.deepEqual(seen(last), []));
  await other.mkdirp(path);
  await createAll(other, path, [4]);
  await eventually(() => assert.deepEqual(seen(last), expect(new Map([[4, 1]]))));
  w.close();
  const n = deliveries;
  await createAll(other, path, [5]);
  // A read after the create has heard its event (one session order), and a tick later nothing was delivered.
  await c.getData(`${path}/c5`);
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(deliveries, n, 'closed: nothing delivered');
});

test('after a connection drop the registry sets its persistent watch again and delivers what changed meanwhile and after', async () => {
  const other = client();
  const path = '/pwatch/cut';
  await other.mkdirp(path);
  const want = new Map<number, number>();
  for (let i = 0; i < 200; i++) want.set(i, 1);
  await createAll(other, path, [...want.keys()]);
  const proxy = await startTcpProxy(zk.server().port);
  const r = await createRegistry({ url: `zk://127.0.0.1:${proxy.port}`, sessionTimeoutMs: 10_000, opTimeoutMs: 3000 });
  try {
    let last: ListingChange | undefined;
    r.watch(path, (ch) => (last = ch));
    await eventually(() => assert.deepEqual(seen(last), expect(want)), { timeoutMs: 15_000 });
    const added0 = watchesAdded;
    proxy.cut();
    await eventually(() => assert.notEqual(r.state(), 'connected'));
    for (const id of [3, 4, 5]) want.delete(id), await other.remove(`${path}/c${id}`);
    await createAll(other, path, [300, 301]);
    want.set(300, 1).set(301, 1).set(10, 2);
    await other.setData(`${path}/c10`, json(10, 2));
    proxy.restore();
    await eventually(() => assert.deepEqual(seen(last), expect(want)), { timeoutMs: 15_000, message: 'what changed while cut off' });
    assert.ok(watchesAdded > added0, 'the watch was set again');
    const listed = lists;
    want.delete(6);
    await other.remove(`${path}/c6`);
    await createAll(other, path, [302]);
    want.set(302, 1).set(11, 4);
    await other.setData(`${path}/c11`, json(11, 4));
    await eventually(() => assert.deepEqual(seen(last), expect(want)), { message: 'what changed after the reconnect' });
    assert.equal(lists - listed, 0, 'no getChildren after the reconnect sync');
  } finally {
    await r.close();
    await proxy.close();
  }
});
