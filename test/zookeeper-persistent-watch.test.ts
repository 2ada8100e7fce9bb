/**
 * ZkClient.addWatch (ZooKeeper's persistent recursive watch, sent through the library's queue) on a
 * real ZooKeeper 3.8.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CreateMode, ZkClient, type ZkNodeEvent } from '../src/registry/zookeeper-client.ts';
import { eventually } from './harness/eventually.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';

let zk: ZooKeeperServer;
const clients: ZkClient[] = [];
const client = (): ZkClient => {
  const c = new ZkClient({ servers: zk.connectString, sessionTimeoutMs: 4000, opTimeoutMs: 5000 });
  c.connect();
  clients.push(c);
  return c;
};
before(async () => {
  zk = await startZooKeeper();
});
after(async () => {
  for (const c of clients) await c.close();
  await zk?.stop();
});

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
