/**
 * Access logs from a real HAProxy into the agent's log stream: a tcp connection and an http
 * request each become one structured line (subscription, client, server, bytes, timings,
 * termination; http adds status, method, URI); spec.accessLog: false silences a Subscription
 * under an agent default of true; a Subscription switching it on is reloaded into logging.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Logger } from '../src/log.ts';
import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { answering, startHttpBackend, startTcpBackend, type TestBackend } from './harness/backends.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';
import { service, StaticSource, subscription } from './harness/static-source.ts';

let dir: string;
let running: RunningAgent;
let tcp: TestBackend;
let http: TestBackend;
const ports = { db: 0, web: 0, quiet: 0 };
const source = new StaticSource();
const lines: Array<Record<string, unknown>> = [];
const log: Logger = { debug() {}, info: (o, m) => void (m === 'access' && lines.push(o as Record<string, unknown>)), warn() {}, error() {} };
const of = (sub: string) => lines.filter((l) => l.subscription === sub);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-access-'));
  [tcp, http] = [await startTcpBackend('db'), await startHttpBackend('web')];
  for (const k of Object.keys(ports) as Array<keyof typeof ports>) ports[k] = await freePort();
  running = await startAgent({ manifestsDir: dir, registry: new MemoryRegistry(), host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir, 'haproxy'), source, log, accessLog: true });
  source.set('db.yaml', service('db', `path: /services/db\nport: ${tcp.port}`));
  source.set('web.yaml', service('web', `path: /services/web\nport: ${http.port}`));
  source.set('s-db.yaml', subscription('db', `service: /services/db\nlisten: { port: ${ports.db} }\ncheck: { type: none }`));
  source.set('s-web.yaml', subscription('web', `service: /services/web\nmode: http\nlisten: { port: ${ports.web} }\ncheck: { type: none }`));
  source.set('s-quiet.yaml', subscription('quiet', `service: /services/db\nlisten: { port: ${ports.quiet} }\ncheck: { type: none }\naccessLog: false`));
  await eventually(async () => {
    assert.deepEqual([...(await answering(ports.db, 1))], ['db']);
    assert.deepEqual([...(await answering(ports.quiet, 1))], ['db']);
    assert.equal((await fetch(`http://127.0.0.1:${ports.web}/`)).status, 200);
  }, { timeoutMs: 30_000 });
});
after(async () => {
  await running?.stop();
  await Promise.all([tcp, http].map((b) => b?.close()));
  await rm(dir, { recursive: true, force: true });
});

test('a tcp connection is one line: client, server, bytes, timings, termination', async () => {
  await answering(ports.db, 1);
  const line = await eventually(() => {
    const l = of('db').at(-1);
    assert.ok(l, 'no access line for db');
    return l;
  });
  assert.match(String(line.client), /^127\.0\.0\.1:\d+$/);
  assert.equal(line.server, `127.0.0.1:${tcp.port}`);
  assert.match(String(line.slot), /^s\d+$/);
  assert.ok(Number(line.bytesOut) >= 3, 'the greeting "db\\n" went to the client');
  assert.ok(Number(line.totalMs) >= 0 && Number(line.connectMs) >= 0, 'Number(line.totalMs) >= 0 && Number(line.connectMs) >= 0');
  assert.match(String(line.termination), /^[-A-Z]{2}$/);
  assert.equal(line.status, undefined);
  const m = /^dockstack_access_log_lines_total\{result="logged"\} (\d+)$/m.exec(await (await fetch(`http://${running.statusAddr}/metrics`)).text());
  assert.ok(m && Number(m[1]) >= 1, 'logged lines are counted');
});

test('an http request adds status, method and URI', async () => {
  assert.equal((await fetch(`http://127.0.0.1:${ports.web}/orders?id=7`)).status, 200);
  const line = await eventually(() => {
    const l = of('web').find((x) => x.uri === '/orders?id=7');
    assert.ok(l, 'no access line for the request');
    return l;
  });
  assert.equal(line.status, 200);
  assert.equal(line.method, 'GET');
  assert.equal(line.server, `127.0.0.1:${http.port}`);
  assert.equal(line.termination, '--');
});

test('spec.accessLog: false silences a Subscription; switching it on logs after the reload', async () => {
  const before = of('db').length;
  await answering(ports.quiet, 2);
  await answering(ports.db, 1); // a marker: once its line is in, the quiet connections' would be too
  await eventually(() => assert.ok(of('db').length > before, "of('db').length > before"));
  assert.equal(of('quiet').length, 0);
  source.set('s-quiet.yaml', subscription('quiet', `service: /services/db\nlisten: { port: ${ports.quiet} }\ncheck: { type: none }\naccessLog: true`));
  await eventually(async () => {
    await answering(ports.quiet, 1);
    assert.ok(of('quiet').length > 0, 'no access line after switching it on');
  }, { timeoutMs: 20_000, intervalMs: 200 });
});
