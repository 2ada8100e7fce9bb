/**
 * ZkClient.mkdirp on a real ZooKeeper: the requests it sends for many new paths at once, and a path
 * deleted behind it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zookeeper from 'node-zookeeper-client';
import { ZkException } from '../src/registry/zookeeper-client.ts';
import { zooKeeperForFile } from './harness/zookeeper-clients.ts';

const { client } = zooKeeperForFile();

test('paths made at once under a new prefix try the prefix once, not once each; a path deleted behind it is made again', async () => {
  const c = client();
  const other = client();
  // Count the creates the library sends, and those answered NO_NODE (the parent was missing).
  const raw = (c as unknown as { raw: { create: (...a: unknown[]) => void } }).raw;
  const create = raw.create.bind(raw);
  const sent = { creates: 0, noNode: 0 };
  raw.create = (...a: unknown[]) => {
    sent.creates++;
    const cb = a.pop() as (err: unknown, ...r: unknown[]) => void;
    create(...a, (err: unknown, ...r: unknown[]) => {
      if (err instanceof zookeeper.Exception && err.getCode() === ZkException.NO_NODE) sent.noNode++;
      cb(err, ...r);
    });
  };
  const paths = Array.from({ length: 50 }, (_, i) => `/mk/a/b/s${i}`);
  await Promise.all(paths.map((p) => c.mkdirp(p)));
  assert.equal((await other.getChildren('/mk/a/b'))?.length, 50);
  // The first path's create finds /mk/a/b missing (and so on up); the other 49 wait for it.
  assert.deepEqual(sent, { creates: 50 + 3 + 3, noNode: 3 });

  for (const p of paths) await other.remove(p);
  await other.remove('/mk/a/b');
  c.forgetDir('/mk/a/b/s7');
  await c.mkdirp('/mk/a/b/s7');
  assert.deepEqual(await other.getChildren('/mk/a/b'), ['s7']);
});
