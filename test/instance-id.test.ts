import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { instanceIdFor } from '../src/reconcile/instance-id.ts';

test('the default instance id names the Service, the host and its address, and is stable', () => {
  assert.equal(instanceIdFor('10.0.0.5', 'mysql', 'db1.example.com'), 'mysql-db1-10.0.0.5');
  assert.equal(instanceIdFor('10.0.0.5', 'mysql', 'db1'), instanceIdFor('10.0.0.5', 'mysql', 'db1'));
  assert.equal(instanceIdFor('127.0.0.1', 'web'), `web-${hostname().split('.')[0]!.toLowerCase()}-127.0.0.1`);
  assert.equal(instanceIdFor('fe80::1', 'Web_API', 'Host-A'), 'web_api-host-a-fe80-1');
});

test('two hosts never share a default id, even on one address (the old default: mysql-127.0.0.1 on every host)', () => {
  assert.notEqual(instanceIdFor('127.0.0.1', 'mysql', 'host1'), instanceIdFor('127.0.0.1', 'mysql', 'host2'));
  assert.notEqual(instanceIdFor('10.0.0.1', 'mysql', 'vm'), instanceIdFor('10.0.0.2', 'mysql', 'vm'));
});

test('a long id is cut to 63 characters and keeps what was cut apart', () => {
  const long = 'a'.repeat(60);
  const a = instanceIdFor('10.0.0.1', long, 'node-1');
  const b = instanceIdFor('10.0.0.2', long, 'node-1');
  for (const id of [a, b]) assert.match(id, /^[a-z0-9][a-z0-9._-]{0,61}[a-z0-9]$/);
  assert.notEqual(a, b);
});
