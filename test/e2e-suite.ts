/**
 * The seed's scenario and discovery guarantees end to end, on real servers: MariaDB, ZooKeeper or
 * etcd, HAProxy, and the whole agent (watched dir → reconcile → registry → HAProxy runtime API).
 * Run by e2e-zookeeper.test.ts and e2e-etcd.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import type { HaproxyProxy } from '../src/haproxy/haproxy-proxy.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { answering, startTcpBackend, whoAnswers, type TestBackend } from './harness/backends.ts';
import { BIN } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { startMariaDB, type MariaDBServer } from './harness/mariadb.ts';
import { freePort } from './harness/ports.ts';
import type { RawRegistry } from './harness/raw-registry.ts';
import { service, subscription } from './harness/static-source.ts';
import { startTcpProxy, type TcpProxy } from './harness/tcp-proxy.ts';
import { instanceIdFor } from '../src/reconcile/instance-id.ts';

export interface RegistryUnderTest {
  /** host:port of the real server. */
  endpoint: string;
  url(endpoint: string): string;
  raw(): Promise<RawRegistry>;
  /** The exact entry name/key our registration must have for instance id `id`. */
  entryName: RegExp;
  stop(): Promise<void>;
}

export function e2eSuite(name: string, start: () => Promise<RegistryUnderTest>): void {
  describe(`end to end on ${name}`, () => {
    let reg: RegistryUnderTest;
    let db: MariaDBServer;
    let proxy: TcpProxy;
    let dir: string;
    let agent: RunningAgent;
    let raw: RawRegistry;
    let mysqlPort: number;
    let webPort: number;
    const backends: TestBackend[] = [];
    let k2 = '';
    const haproxy = () => agent.proxy as HaproxyProxy;

    before(async () => {
      [reg, db] = await Promise.all([start(), startMariaDB()]);
      proxy = await startTcpProxy(Number(reg.endpoint.split(':')[1]));
      proxy.cut(); // the registry is unreachable when the agent starts
      raw = await reg.raw();
      dir = await mkdtemp(join(tmpdir(), 'dockstack-e2e-'));
      mysqlPort = await freePort();
      webPort = await freePort();
      await writeFile(join(dir, 'mysql-service.yaml'), service('mysql', `path: /path/test\nport: ${db.port}\nchecks:\n  - { type: mysql, user: haproxy_check, intervalMs: 200, rise: 1, fall: 1 }`));
      await writeFile(join(dir, 'mysql-subscription.yaml'), subscription('mysql', `service: /path/test\nlisten: { address: 127.0.0.1, port: ${mysqlPort} }\ncheck: { type: mysql, user: haproxy_check, interMs: 300, rise: 1, fall: 1 }`));
      await writeFile(join(dir, 'web.yaml'), subscription('web', `service: /services/web\nlisten: { port: ${webPort} }\ncheck: { type: none }`));
      agent = await startAgent({
        manifestsDir: dir,
        registry: { url: reg.url(`127.0.0.1:${proxy.port}`), sessionTimeoutMs: 4000, leaseTtlSec: 3, opTimeoutMs: 1000, connectTimeoutMs: 500 },
        host: '127.0.0.1',
        statusAddr: '127.0.0.1:0',
        proxy: 'haproxy',
        haproxyDir: join(dir, '.state'),
        resyncMs: 1000,
      });
    });

    after(async () => {
      await agent?.stop();
      await Promise.all(backends.map((b) => b.close()));
      await raw?.close();
      await proxy?.close();
      await Promise.all([reg?.stop(), db?.stop()]);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('registry down at start: the agent runs, says why, and registers once the registry is up', async () => {
      await eventually(() => assert.equal(agent.agent.status.condition('service/mysql', 'Ready')?.reason, 'RegistryUnavailable'));
      assert.match(agent.agent.viewOf('service/mysql')?.status.lastError ?? '', /./);
      proxy.restore();
      await eventually(() => assert.equal(agent.agent.status.condition('service/mysql', 'Registered')?.status, 'True'), { timeoutMs: 20_000 });
    });

    test('the seed scenario: a MySQL client queries MariaDB through HAProxy; HAProxy\'s mysql-check says UP', async () => {
      const rows = await eventually(async () => {
        const conn = await mysql.createConnection({ host: '127.0.0.1', port: mysqlPort, user: 'root', connectTimeout: 2000 });
        try {
          const [r] = await conn.query('SELECT 1 + 1 AS two');
          return r as Array<{ two: number }>;
        } finally {
          await conn.end();
        }
      }, { timeoutMs: 20_000 });
      assert.equal(rows[0]?.two, 2);
      await eventually(async () => {
        const servers = await haproxy().status('mysql');
        assert.deepEqual(servers.map((s) => [s.address, s.state]), [[`127.0.0.1:${db.port}`, 'up']]);
        assert.match(servers[0]?.detail ?? '', /L7OK/);
      }, { timeoutMs: 10_000 });
    });

    test('the registration is in the wire format, read with a plain client', async () => {
      const entries = await raw.read('/path/test');
      assert.equal(entries.size, 1, [...entries.keys()].join());
      const [entry, data] = [...entries][0]!;
      assert.match(entry, reg.entryName);
      assert.equal(data, JSON.stringify({ host: '127.0.0.1', port: db.port, name: instanceIdFor('127.0.0.1', 'mysql') }));
    });

    test('instances written by others are routed and unrouted without a reload', async () => {
      backends.push(await startTcpBackend('b1'), await startTcpBackend('b2'));
      const [b1, b2] = backends as [TestBackend, TestBackend];
      await eventually(() => assert.ok(agent.agent.status.condition('subscription/web', 'ProxyConfigured')?.status === 'True', "agent.agent.status.condition('subscription/web', 'ProxyConfigured')?.status === 'T..."));
      const reloads = haproxy().reloadCount;
      const pid = haproxy().masterPid;
      const k1 = await raw.write('/services/web', 'b1', JSON.stringify({ host: '127.0.0.1', port: b1.port, name: 'b1' }));
      k2 = await raw.write('/services/web', 'b2', JSON.stringify({ host: '127.0.0.1', port: b2.port, name: 'b2' }));
      await eventually(async () => assert.deepEqual([...(await answering(webPort, 8))].sort(), ['b1', 'b2']));
      await raw.remove(k1);
      await eventually(async () => assert.deepEqual([...(await answering(webPort, 6))], ['b2']));
      assert.equal(haproxy().reloadCount, reloads, 'membership changes caused no reload');
      assert.equal(haproxy().masterPid, pid);
    });

    test('garbage entries are skipped and reported; none reaches the HAProxy config', async () => {
      const evil = ['not json', JSON.stringify({ host: '127.0.0.1', port: 70000 }), JSON.stringify({ host: '127.0.0.1\n  server evil 127.0.0.1:1', port: 80 }), JSON.stringify({ host: 'bad host', port: 80 })];
      for (const [i, data] of evil.entries()) await raw.write('/services/web', `evil${i}`, data);
      await eventually(() => {
        const rejected = agent.agent.viewOf('subscription/web')?.status.details.rejected as Array<{ reason: string }> | undefined;
        assert.equal(rejected?.length, evil.length, JSON.stringify(rejected));
      });
      assert.deepEqual([...(await answering(webPort, 4))], ['b2']);
      const cfg = await readFile(join(dir, '.state', 'haproxy.cfg'), 'utf8');
      assert.doesNotMatch(cfg, /evil|70000|bad host/);
    });

    test('fail static: the registry unreachable, backends stay and keep serving', async () => {
      proxy.cut();
      await eventually(() => assert.equal(agent.agent.status.condition('subscription/web', 'Synced')?.status, 'False'), { timeoutMs: 15_000 });
      assert.equal(await whoAnswers(webPort), 'b2');
      assert.equal(agent.agent.status.condition('subscription/web', 'Ready')?.reason, 'FailStatic');
      proxy.restore();
      await eventually(() => assert.equal(agent.agent.status.condition('subscription/web', 'Synced')?.status, 'True'), { timeoutMs: 20_000 });
    });

    test('fail static: the path suddenly empty, the last known backend stays', async () => {
      await raw.remove(k2);
      await eventually(() => assert.match(agent.agent.status.condition('subscription/web', 'Synced')?.message ?? '', /^0 instances/));
      await agent.agent.queue.idle();
      assert.equal(await whoAnswers(webPort), 'b2');
      assert.equal(agent.agent.status.condition('subscription/web', 'Ready')?.reason, 'FailStatic');
    });

    test('a failing check deregisters after `fall` failures; passing again re-registers', async () => {
      await db.query("DROP USER 'haproxy_check'@'%', 'haproxy_check'@'localhost'");
      await eventually(async () => assert.equal((await raw.read('/path/test')).size, 0), { timeoutMs: 10_000 });
      assert.match(agent.agent.status.condition('service/mysql', 'Healthy')?.message ?? '', /haproxy_check/);
      await db.query("CREATE USER 'haproxy_check'@'%', 'haproxy_check'@'localhost'");
      await eventually(async () => assert.equal((await raw.read('/path/test')).size, 1), { timeoutMs: 10_000 });
      // The entry can be visible to another client an instant before our put resolves and records the event.
      await eventually(() => {
        const reasons = agent.agent.status.events('service/mysql').map((e) => e.reason);
        assert.deepEqual(reasons.slice(-3), ['Deregistered', 'CheckPassed', 'Registered']);
      });
    });

    test('SIGTERM: the real binary deregisters before it exits, long before any session/lease expiry', async () => {
      const sdir = await mkdtemp(join(tmpdir(), 'dockstack-e2e-term-'));
      await writeFile(join(sdir, 'svc.yaml'), service('term', 'path: /services/term\nport: 4242'));
      const child = spawn(process.execPath, [BIN, 'agent', '--manifests', sdir, '--registry', reg.url(reg.endpoint), '--proxy', 'none', '--status-addr', '127.0.0.1:0', '--session-timeout', '30000', '--lease-ttl', '30', '--log-level', 'warn'], { stdio: 'ignore' });
      try {
        await eventually(async () => assert.equal((await raw.read('/services/term')).size, 1), { timeoutMs: 15_000 });
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        assert.equal(await exited, 0);
        assert.equal((await raw.read('/services/term')).size, 0, 'gone at exit, not after the 30 s timeout');
      } finally {
        child.kill('SIGKILL');
        await rm(sdir, { recursive: true, force: true });
      }
    });

    test('HAProxy killed: restarted with the last good config and routing again', async () => {
      const pid = haproxy().masterPid;
      assert.ok(pid, 'pid');
      process.kill(pid, 'SIGKILL');
      await eventually(() => assert.notEqual(haproxy().masterPid, pid), { timeoutMs: 15_000 });
      await eventually(async () => assert.equal(await whoAnswers(webPort), 'b2'), { timeoutMs: 15_000 });
    });

    test('a manifest deleted: its registration goes', async () => {
      await unlink(join(dir, 'mysql-service.yaml'));
      await eventually(async () => assert.equal((await raw.read('/path/test')).size, 0), { timeoutMs: 10_000 });
    });
  });
}
