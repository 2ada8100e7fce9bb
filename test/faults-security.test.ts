/**
 * Security against a real etcd with auth enabled: an agent with its user/password registers; a
 * client without credentials, with a wrong password, or with a user limited to another prefix
 * cannot delete or overwrite that registration, and gets a clear, non-transient RegistryError.
 * ZooKeeper digest auth is covered in registry-zookeeper.test.ts; the status API's loopback
 * default and token-only writes in operability.test.ts and cli.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { RegistryError } from '../src/errors.ts';
import { createRegistry } from '../src/registry/create-registry.ts';
import type { Registry } from '../src/registry/registry.ts';
import { startEtcd, type EtcdServer } from './harness/etcd.ts';

const ROOT = { username: 'root', password: 'root-secret' };
const AGENT = { username: 'agent', password: 'agent-secret' };
const OUTSIDER = { username: 'outsider', password: 'outsider-secret' };
const KEY = '/dockstack/sec/web/web-1';
const ORIGINAL = { host: '10.0.0.1', port: 8080, name: 'web-1' };

describe('etcd with auth enabled', () => {
  let etcd: EtcdServer;
  let root: Etcd3;
  const open: Registry[] = [];
  const ctl = (...args: string[]) =>
    execFileSync('etcdctl', ['--endpoints', `http://${etcd.endpoint}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' }, timeout: 10_000, stdio: 'pipe' });
  const registry = async (auth?: { username: string; password: string }) => {
    const r = await createRegistry({ url: `etcd://${etcd.endpoint}`, opTimeoutMs: 3000, ...(auth && { etcdAuth: auth }) });
    open.push(r);
    return r;
  };
  /** A rejection that says what failed and why, and is not to be retried as an outage. */
  const refused = (what: RegExp) => (err: unknown) => {
    assert.ok(err instanceof RegistryError, `a RegistryError, got ${String(err)}`);
    assert.equal(err.transient, false, `not transient: ${err.message}`);
    assert.match(err.message, what);
    assert.match(err.message, /permission denied|authentication failed|user name is empty|invalid auth token|not capable/i);
    return true;
  };

  before(async () => {
    etcd = await startEtcd();
    ctl('user', 'add', `${ROOT.username}:${ROOT.password}`);
    for (const u of [AGENT, OUTSIDER]) ctl('user', 'add', `${u.username}:${u.password}`);
    ctl('role', 'add', 'dockstack');
    ctl('role', 'grant-permission', 'dockstack', '--prefix=true', 'readwrite', '/dockstack/');
    ctl('user', 'grant-role', AGENT.username, 'dockstack');
    ctl('role', 'add', 'elsewhere');
    ctl('role', 'grant-permission', 'elsewhere', '--prefix=true', 'readwrite', '/other/');
    ctl('user', 'grant-role', OUTSIDER.username, 'elsewhere');
    ctl('auth', 'enable');
    root = new Etcd3({ hosts: `http://${etcd.endpoint}`, auth: ROOT });
  });

  after(async () => {
    for (const r of open) await r.close().catch(() => undefined);
    root?.close();
    await etcd?.stop();
  });

  test('the agent with its user and password registers on a lease, lists and watches', async () => {
    const r = await registry(AGENT);
    assert.equal(await r.register('/sec/web', ORIGINAL), '/sec/web/web-1');
    assert.deepEqual(JSON.parse((await root.get(KEY).string()) ?? 'null'), ORIGINAL);
    assert.deepEqual((await r.list('/sec/web')).instances.map((i) => i.name), ['web-1']);
  });

  for (const [who, auth] of [['no credentials', undefined], ['a wrong password', { ...AGENT, password: 'guess' }], ['a user granted another prefix', OUTSIDER]] as const) {
    test(`a client with ${who} can neither delete nor overwrite it, and is told why (not transient)`, async () => {
      const r = await registry(auth);
      await assert.rejects(r.deregister('/sec/web', 'web-1'), refused(/deleting \/dockstack\/sec\/web\/web-1/));
      await assert.rejects(r.register('/sec/web', { ...ORIGINAL, host: '10.6.6.6' }), refused(/registering \/dockstack\/sec\/web\/web-1/));
      assert.deepEqual(JSON.parse((await root.get(KEY).string()) ?? 'null'), ORIGINAL, 'the registration is untouched');
    });
  }
});
