import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HealthCheckSpec } from '../src/manifest/schema.ts';
import { fails } from './harness/check-assert.ts';
import { createCheck } from '../src/health/create-check.ts';
import { freePort } from './harness/ports.ts';
import { startRedis, type RedisServer } from './harness/redis.ts';

let plain: RedisServer;
let secured: RedisServer;

const check = (spec: Record<string, unknown>, port: number) =>
  createCheck(HealthCheckSpec.parse({ type: 'redis', timeoutMs: 2000, ...spec }), { host: '127.0.0.1', port });
const signal = () => new AbortController().signal;


before(async () => {
  [plain, secured] = await Promise.all([startRedis(), startRedis({ password: 's3cret' })]);
});

after(async () => {
  await Promise.all([plain?.stop(), secured?.stop()]);
});

describe('redis check', () => {
  it('passes when PING answers PONG', async () => {
    const c = check({}, plain.port);
    assert.equal(c.type, 'redis');
    await c.check(signal());
  });

  it('passes with the right password', async () => {
    await check({ password: 's3cret' }, secured.port).check(signal());
  });

  it('fails without the password, or with a wrong one', async () => {
    await fails(check({}, secured.port).check(signal()), /NOAUTH/);
    await fails(check({ password: 'wrong' }, secured.port).check(signal()), /WRONGPASS|invalid password/i);
  });

  it('fails with ECONNREFUSED on a closed port', async () => {
    const port = await freePort();
    await fails(check({}, port).check(signal()), new RegExp(`^connecting to 127\\.0\\.0\\.1:${port}: ECONNREFUSED$`));
  });

  it('goes down after the server stops', async () => {
    const r = await startRedis();
    const c = check({}, r.port);
    try {
      await c.check(signal());
    } finally {
      await r.stop();
    }
    await fails(c.check(signal()), /ECONNREFUSED/);
  });
});
