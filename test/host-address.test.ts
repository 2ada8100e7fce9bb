/**
 * The address Services register: an address as given, an interface read when asked, or the local
 * address of the route to the registry (the cross-host case runs in test/fleet-zookeeper.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostAddress, isLoopback, registryEndpoints } from '../src/host-address.ts';

test('registry URLs name their servers; memory:// none', () => {
  assert.deepEqual(registryEndpoints('zk://10.0.0.9:2181,zk2:2181/chroot'), [{ host: '10.0.0.9', port: 2181 }, { host: 'zk2', port: 2181 }]);
  assert.deepEqual(registryEndpoints('etcd://[::1]:2379'), [{ host: '::1', port: 2379 }]);
  assert.deepEqual(registryEndpoints('memory://'), []);
});

test('an address is used as given; an interface name gives its first IPv4 address', async () => {
  const fixed = await hostAddress('10.1.2.3', [{ host: '10.0.0.9', port: 2181 }]);
  assert.equal(fixed.current(), '10.1.2.3');
  assert.equal(fixed.remoteRegistry, true);
  const lo = await hostAddress('lo', [{ host: '10.0.0.9', port: 2181 }]);
  assert.equal(lo.current(), '127.0.0.1');
  assert.match(lo.describe(), /interface lo/);
});

test('unset: loopback for memory:// and loopback registries, else the route\'s local address', async () => {
  assert.equal((await hostAddress(undefined, [])).current(), '127.0.0.1');
  const local = await hostAddress(undefined, [{ host: '127.0.0.1', port: 2181 }]);
  assert.equal(local.current(), '127.0.0.1');
  assert.equal(local.remoteRegistry, false);
  assert.ok(isLoopback('127.0.0.2') && isLoopback('::1') && !isLoopback('10.0.0.1'), "isLoopback('127.0.0.2') && isLoopback('::1') && !isLoopback('10.0.0.1')");
});
