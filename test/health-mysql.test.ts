import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HealthCheckSpec } from '../src/manifest/schema.ts';
import { fails } from './harness/check-assert.ts';
import { createCheck } from '../src/health/create-check.ts';
import { startMariaDB, type MariaDBServer } from './harness/mariadb.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';

let db: MariaDBServer;

const check = (spec: Record<string, unknown>, port: number) =>
  createCheck(HealthCheckSpec.parse({ type: 'mysql', timeoutMs: 5000, ...spec }), { host: '127.0.0.1', port });
const signal = () => new AbortController().signal;


before(async () => {
  db = await startMariaDB();
  await db.query("CREATE USER 'with_pw'@'%' IDENTIFIED BY 'pw'");
});

after(async () => {
  await db?.stop();
});

describe('mysql check', () => {
  it('passes as the passwordless haproxy_check user (the default)', async () => {
    const c = check({}, db.port);
    assert.equal(c.type, 'mysql');
    await c.check(signal());
  });

  it('passes with a password, fails with a wrong one', async () => {
    await check({ user: 'with_pw', password: 'pw' }, db.port).check(signal());
    await fails(check({ user: 'with_pw', password: 'nope' }, db.port).check(signal()), /^handshake with 127\.0\.0\.1:\d+ as with_pw: Access denied/);
  });

  it('fails for an unknown user unless acceptAuthError', async () => {
    await fails(check({ user: 'nobody' }, db.port).check(signal()), /as nobody: Access denied for user 'nobody'/);
    await check({ user: 'nobody', acceptAuthError: true }, db.port).check(signal());
  });

  it('fails with ECONNREFUSED on a closed port, even with acceptAuthError', async () => {
    const port = await freePort();
    await fails(check({ acceptAuthError: true }, port).check(signal()), new RegExp(`^connecting to 127\\.0\\.0\\.1:${port}: ECONNREFUSED$`));
  });

  it('leaves no connection open on the server, and QUITs instead of dropping it', async () => {
    const abortedClients = async () =>
      ((await db.query("SHOW GLOBAL STATUS LIKE 'Aborted_clients'")) as { Value: string }[])[0]?.Value;
    const abortedBefore = await abortedClients();
    for (let i = 0; i < 5; i++) await check({}, db.port).check(signal());
    await eventually(async () => {
      const rows = (await db.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'haproxy_check'")) as { n: number }[];
      assert.equal(Number(rows[0]?.n), 0);
    }, { timeoutMs: 5000 });
    assert.equal(await abortedClients(), abortedBefore, 'checks should QUIT, not drop the connection');
  });
});
