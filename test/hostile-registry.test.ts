/**
 * Registry data written by others is untrusted: on real ZooKeeper and etcd, entries that are not
 * JSON objects with a valid host and port are skipped with a reason, huge nodes and many children
 * are survived, and the HAProxy config rendered from such a path holds only validated servers.
 * Many children: 2,000 by default, 100,000 with DOCKSTACK_FAULTS_FULL=1.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRegistry } from '../src/registry/create-registry.ts';
import type { Registry } from '../src/registry/registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { answering, startTcpBackend, type TestBackend } from './harness/backends.ts';
import { startEtcd, type EtcdServer } from './harness/etcd.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';
import { rawEtcd, rawZooKeeper, type RawRegistry } from './harness/raw-registry.ts';
import { subscription } from './harness/static-source.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';

const MANY = process.env.DOCKSTACK_FAULTS_FULL === '1' ? 100_000 : 2_000;

/** [name, data, the reason it must be rejected with]. */
const HOSTILE: Array<[string, string, RegExp]> = [
  ['not-json', 'not json', /^data is not JSON$/],
  ['empty', '', /^empty data$/],
  ['json-array', '[1,2]', /^data is not a JSON object$/],
  ['json-string', '"127.0.0.1:80"', /^data is not a JSON object$/],
  ['json-null', 'null', /^data is not a JSON object$/],
  ['no-host', '{"port":80}', /^invalid host undefined$/],
  ['no-port', '{"host":"127.0.0.1"}', /^invalid port undefined$/],
  ['host-number', '{"host":127001,"port":80}', /^invalid host 127001$/],
  ['host-newline', JSON.stringify({ host: '127.0.0.1\n  server evil 6.6.6.6:80', port: 80 }), /^invalid host /],
  ['host-space', JSON.stringify({ host: '127.0.0.1 backup', port: 80 }), /^invalid host /],
  ['host-hash', JSON.stringify({ host: '127.0.0.1#x', port: 80 }), /^invalid host /],
  ['host-keyword', JSON.stringify({ host: 'check inter 1', port: 80 }), /^invalid host /],
  ['host-quote', JSON.stringify({ host: "a'b", port: 80 }), /^invalid host /],
  ['host-empty', JSON.stringify({ host: '', port: 80 }), /^invalid host ""$/],
  ['port-zero', '{"host":"127.0.0.1","port":0}', /^invalid port 0$/],
  ['port-big', '{"host":"127.0.0.1","port":65536}', /^invalid port 65536$/],
  ['port-float', '{"host":"127.0.0.1","port":80.5}', /^invalid port 80.5$/],
  ['port-text', '{"host":"127.0.0.1","port":"80 backup"}', /^invalid port "80 backup"$/],
  ['weight-bad', '{"host":"127.0.0.1","port":80,"weight":"1\\n  stats enable"}', /^invalid weight /],
  ['weight-big', '{"host":"127.0.0.1","port":80,"weight":1000}', /^invalid weight 1000$/],
  ['big', JSON.stringify({ host: '127.0.0.1', port: 80, pad: 'x'.repeat(1_000_000) }), /over the 65536-byte limit$/],
];

function registrySuite(kind: string, setup: () => Promise<{ url: string; raw: RawRegistry; stop(): Promise<void> }>): void {
  describe(`hostile registry data on ${kind}`, () => {
    let env: { url: string; raw: RawRegistry; stop(): Promise<void> };
    let reg: Registry;
    before(async () => {
      env = await setup();
      reg = await createRegistry({ url: env.url, opTimeoutMs: 20_000 });
    });
    after(async () => {
      await reg?.close();
      await env?.raw.close();
      await env?.stop();
    });

    test('each malformed entry is skipped with its reason; the valid one is listed', async () => {
      for (const [name, data] of HOSTILE) await env.raw.write('/hostile/x', name, data);
      await env.raw.write('/hostile/x', 'good', JSON.stringify({ host: '127.0.0.1', port: 8080, name: 'good', labels: { 'bad key': 'x', ok: 'y' } }));
      const l = await eventually(() => reg.list('/hostile/x'), { timeoutMs: 20_000 });
      assert.deepEqual(l.instances, [{ host: '127.0.0.1', port: 8080, name: 'good', labels: { ok: 'y' } }]);
      assert.equal(l.rejected.length, HOSTILE.length, JSON.stringify(l.rejected.map((r) => r.key)));
      for (const [name, , reason] of HOSTILE) {
        const r = l.rejected.find((x) => x.key.split('/').at(-1)!.replace(/_\d{10}$/, '') === name);
        assert.ok(r, `${name} not reported`);
        assert.match(r.reason, reason, name);
      }
    });

    test(`${MANY} children under one path are listed in bounded time`, async (t) => {
      const writes: Promise<string>[] = [];
      for (let i = 0; i < MANY; i++) {
        writes.push(env.raw.write('/hostile/many', `n${i}`, i % 2 ? 'garbage' : JSON.stringify({ host: '10.0.0.1', port: 1 + (i % 60000) })));
        if (writes.length >= 500) await Promise.all(writes.splice(0));
      }
      await Promise.all(writes);
      const t0 = Date.now();
      const l = await reg.list('/hostile/many');
      t.diagnostic(`listed ${MANY} children in ${Date.now() - t0} ms`);
      assert.equal(l.rejected.length, MANY / 2);
      assert.equal(l.instances.length, Math.min(MANY / 2, 30_000));
    });
  });
}

let zk: ZooKeeperServer;
let etcd: EtcdServer;
registrySuite('ZooKeeper', async () => {
  zk = await startZooKeeper();
  return { url: `zk://${zk.connectString}`, raw: await rawZooKeeper(zk.connectString), stop: () => zk.stop() };
});
registrySuite('etcd', async () => {
  etcd = await startEtcd();
  return { url: `etcd://${etcd.endpoint}`, raw: rawEtcd(etcd.endpoint), stop: () => etcd.stop() };
});

/** Junk entries (port out of range) beside HOSTILE: more rejections than a status lists. */
const JUNK = 150;

describe('the HAProxy config rendered from a hostile path', () => {
  let srv: ZooKeeperServer;
  let raw: RawRegistry;
  let dir: { path: string; cleanup: () => Promise<void> };
  let agent: RunningAgent;
  let backend: TestBackend;
  let port: number;
  before(async () => {
    srv = await startZooKeeper();
    raw = await rawZooKeeper(srv.connectString);
    dir = await tempDir('ds-hostile-reg');
    backend = await startTcpBackend('good');
    port = await freePort();
    for (const [name, data] of HOSTILE) await raw.write('/hostile/web', name, data);
    await Promise.all(Array.from({ length: JUNK }, (_, i) => raw.write('/hostile/web', `junk${String(i).padStart(3, '0')}`, JSON.stringify({ host: '127.0.0.1', port: 70_000 + i }))));
    await raw.write('/hostile/web', 'good', JSON.stringify({ host: '127.0.0.1', port: backend.port }));
    await writeFile(join(dir.path, 'sub.yaml'), subscription('web', `service: /hostile/web\nlisten: { port: ${port} }\ncheck: { type: none }`));
    agent = await startAgent({ manifestsDir: dir.path, registry: { url: `zk://${srv.connectString}` }, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir.path, '.state') });
  });
  after(async () => {
    await agent?.stop();
    await raw?.close();
    await backend?.close();
    await srv?.stop();
    await dir?.cleanup();
  });

  test('only validated servers reach haproxy.cfg; the status counts every rejection and lists the first 100 by key', async () => {
    await eventually(async () => assert.deepEqual([...(await answering(port, 4))], ['good']), { timeoutMs: 20_000 });
    const details = agent.agent.viewOf('subscription/web')?.status.details;
    const rejected = details?.rejected as Array<{ key: string; reason: string }>;
    assert.equal(details?.rejectedCount, HOSTILE.length + JUNK);
    assert.equal(rejected.length, 100);
    const keys = rejected.map((r) => r.key);
    assert.deepEqual(keys, [...keys].sort());
    const shown = new Set(rejected.map((r) => r.key.split('/').at(-1)!.replace(/_\d{10}$/, '')));
    for (const [name] of HOSTILE.filter(([n]) => n < 'junk')) assert.ok(shown.has(name), `${name} sorts before the junk and is listed`);
    const cfg = await readFile(join(dir.path, '.state', 'haproxy.cfg'), 'utf8');
    const servers = cfg.split('\n').filter((l) => /^\s*server /.test(l));
    assert.ok(servers.length >= 1, 'servers.length >= 1');
    for (const l of servers) assert.match(l, /^  server s(\d+) (127\.0\.0\.1:1 id \1 disabled|127\.0\.0\.1:\d{1,5} id \1 weight \d{1,3}( disabled)?)$/, l);
    assert.ok(servers.some((l) => new RegExp(`127\\.0\\.0\\.1:${backend.port} id \\d+ weight 1`).test(l)), `a server line for 127.0.0.1:${backend.port} with weight 1`);
    assert.doesNotMatch(cfg, /evil|6\.6\.6\.6|backup|stats enable|check inter 1|65536|xxxx/);
  });
});
