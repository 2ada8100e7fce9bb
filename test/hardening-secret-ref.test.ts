/**
 * `passwordFrom: {file|env}` against a real Redis with requirepass, through a real agent: a missing
 * file or variable fails only that Service's check (saying which reference, never content); the file
 * is re-read at every check, so writing (or rotating) it takes effect without touching the manifest.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { startRedis, type RedisServer } from './harness/redis.ts';
import { service, StaticSource } from './harness/static-source.ts';

let redis: RedisServer;
let tmp: Awaited<ReturnType<typeof tempDir>>;
let running: RunningAgent;
const source = new StaticSource();
const healthy = (name: string) => running.agent.status.condition(`service/${name}`, 'Healthy');

before(async () => {
  redis = await startRedis({ password: 'rotated-s3cret' });
  tmp = await tempDir('ds-hard-secret');
  running = await startAgent({ manifestsDir: tmp.path, source, registry: { url: 'memory://' }, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'none', haproxyDir: tmp.path });
});
after(async () => {
  await running?.stop();
  await redis?.stop();
  await tmp?.cleanup();
});

const svc = (name: string, ref: string) =>
  service(name, `path: /services/${name}\nport: ${redis.port}\nchecks:\n  - {type: redis, passwordFrom: ${ref}, intervalMs: 100, timeoutMs: 500, rise: 1, fall: 1}`);

test('a missing file fails that Service only; once written, the check passes; rotating it is seen', async () => {
  const file = join(tmp.path, 'redis-password');
  source.set('a.yaml', svc('from-file', `{file: ${file}}`));
  source.set('b.yaml', svc('from-env', '{env: DOCKSTACK_TEST_REDIS_PW}'));
  source.set('c.yaml', service('plain', `path: /services/plain\nport: ${redis.port}\nchecks: [{type: tcp, intervalMs: 100, rise: 1}]`));
  await eventually(() => {
    assert.equal(healthy('from-file')?.status, 'False');
    assert.match(healthy('from-file')!.message, new RegExp(`passwordFrom\\.file: reading ${file}: ENOENT`));
    assert.equal(healthy('from-env')?.status, 'False');
    assert.match(healthy('from-env')!.message, /passwordFrom\.env: variable DOCKSTACK_TEST_REDIS_PW is not set/);
    assert.equal(healthy('plain')?.status, 'True');
  });
  await writeFile(file, 'rotated-s3cret\n', { mode: 0o600 });
  await eventually(() => assert.equal(healthy('from-file')?.status, 'True'));
  await writeFile(file, 'wrong-now\n');
  await eventually(() => assert.equal(healthy('from-file')?.status, 'False'));
  assert.ok(!JSON.stringify(running.agent.view()).includes('wrong-now'), 'no content in any view');
  await rm(file);
  process.env.DOCKSTACK_TEST_REDIS_PW = 'rotated-s3cret';
  try {
    await eventually(() => assert.equal(healthy('from-env')?.status, 'True'));
  } finally {
    delete process.env.DOCKSTACK_TEST_REDIS_PW;
  }
});
