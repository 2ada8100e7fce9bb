/**
 * Day-two operations against a real agent with a real HAProxy 2.6 (memory registry): drain takes
 * an instance out of the HAProxy backend while an open connection keeps working until the drain
 * timeout; maintenance holds a backend in HAProxy maint without a reload; both need the token;
 * events show in `describe` in order; `get -w` streams changes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HaproxyProxy } from '../src/haproxy/haproxy-proxy.ts';
import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { answering, connectThrough, startTcpBackend, type TestBackend } from './harness/backends.ts';
import { BIN, dockstack } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';
import { service, StaticSource, subscription } from './harness/static-source.ts';

const TOKEN = 'test-token-1';
let dir: string;
let running: RunningAgent;
let listenPort: number;
let a: TestBackend;
let b: TestBackend;
const source = new StaticSource();
const registry = new MemoryRegistry();
const env = () => ({ DOCKSTACK_STATUS_ADDR: running.statusAddr, DOCKSTACK_STATUS_TOKEN: TOKEN });
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`http://${running.statusAddr}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
const haproxy = () => running.proxy as HaproxyProxy;
const states = async () => Object.fromEntries((await running.proxy.status('web')).map((s) => [s.address, s.state]));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-ops-'));
  listenPort = await freePort();
  [a, b] = [await startTcpBackend('a'), await startTcpBackend('b')];
  running = await startAgent({ manifestsDir: dir, registry, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir, 'haproxy'), source, statusToken: TOKEN });
  source.set('web-a.yaml', service('web-a', `path: /services/web\nport: ${a.port}`));
  source.set('web-b.yaml', service('web-b', `path: /services/web\nport: ${b.port}`));
  source.set('sub.yaml', subscription('web', `service: /services/web\nlisten: { port: ${listenPort} }\ncheck: { type: none }`));
  await eventually(async () => assert.deepEqual([...(await answering(listenPort, 6))].sort(), ['a', 'b']));
});
after(async () => {
  await running?.stop();
  await Promise.all([a, b].map((x) => x?.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('write operations need the token', () => {
  test('no or wrong Bearer token: 401; other methods: 405; unknown objects: 404', async () => {
    assert.equal((await post('/api/v1/services/web-a/drain', { on: true })).status, 401);
    assert.equal((await post('/api/v1/services/web-a/drain', { on: true }, { authorization: 'Bearer nope' })).status, 401);
    assert.equal((await fetch(`http://${running.statusAddr}/api/v1/services/web-a`, { method: 'DELETE' })).status, 405);
    const missing = await post('/api/v1/services/nope/drain', { on: true }, { authorization: `Bearer ${TOKEN}` });
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /service "nope" not found/);
    const bad = await post('/api/v1/services/web-a/drain', { on: 'yes' }, { authorization: `Bearer ${TOKEN}` });
    assert.equal(bad.status, 400);
    assert.ok(running.agent.services.registeredKeys().includes('service/web-a'), 'nothing drained');
  });

  test('an agent without a token stays read-only, with a clear message', async () => {
    const ro = await startAgent({ manifestsDir: dir, registry: new MemoryRegistry(), host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'none', haproxyDir: join(dir, 'ro'), source: new StaticSource() });
    try {
      const r = await dockstack(['drain', 'service', 'web-a', '--status-addr', ro.statusAddr], { env: { DOCKSTACK_STATUS_TOKEN: TOKEN } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: write operations are disabled: start the agent with --status-token/);
    } finally {
      await ro.stop();
    }
  });
});

describe('drain', () => {
  test('takes the instance out of HAProxy while an open connection keeps working until the timeout', async () => {
    let conn = await connectThrough(listenPort);
    for (let i = 0; conn.backend !== 'a' && i < 20; i++) {
      conn.close();
      conn = await connectThrough(listenPort);
    }
    assert.equal(conn.backend, 'a');
    const cli = dockstack(['drain', 'service', 'web-a', '--timeout', '3s'], { env: env() });
    await eventually(async () => {
      assert.equal((await registry.list('/services/web')).instances.length, 1);
      assert.equal((await states())[`127.0.0.1:${a.port}`], 'draining');
      assert.deepEqual([...(await answering(listenPort, 4))], ['b']);
    });
    assert.equal(await conn.echo('during\n'), 'during\n', 'the open connection still works while draining');
    assert.equal(running.agent.status.get('service/web-a')?.details.drain !== undefined, true);
    const r = await cli;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^service\/web-a draining until \S+\nservice\/web-a drained\n$/);
    assert.equal(conn.closed(), false);
    assert.equal(await conn.echo('after\n'), 'after\n', 'still served when the drain timeout ends');
    conn.close();
    const d = await dockstack(['describe', 'service', 'web-a'], { env: env() });
    const reasons = [...d.stdout.matchAll(/^  Normal\s+(\w+)/gm)].map((m) => m[1]);
    assert.deepEqual(reasons, ['Registered', 'Draining', 'Deregistered', 'Drained']);
    assert.match(d.stdout, /Registered\s+False\s+Draining/);
  });

  test('--off registers the instance again', async () => {
    const r = await dockstack(['drain', 'service', 'web-a', '--off'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'service/web-a undrained\n');
    await eventually(async () => assert.deepEqual([...(await answering(listenPort, 6))].sort(), ['a', 'b']));
  });
});

describe('maintenance', () => {
  test('holds a backend in HAProxy maint through the runtime API and releases it', async () => {
    const reloads = haproxy().reloadCount;
    const addr = `127.0.0.1:${b.port}`;
    let r = await dockstack(['maintenance', 'subscription', 'web', addr, 'on'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `subscription/web backend ${addr} maintenance on\n`);
    await eventually(async () => {
      assert.equal((await states())[addr], 'maintenance');
      assert.deepEqual([...(await answering(listenPort, 4))], ['a']);
    });
    r = await dockstack(['maintenance', 'subscription', 'web', addr, 'off'], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    await eventually(async () => assert.deepEqual([...(await answering(listenPort, 6))].sort(), ['a', 'b']));
    assert.equal(haproxy().reloadCount, reloads, 'no reload for maintenance');
    const unknown = await dockstack(['maintenance', 'subscription', 'web', '127.0.0.1:1', 'on'], { env: env() });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /127\.0\.0\.1:1 is not one of its backends/);
  });
});

describe('events and watch', () => {
  test('describe lists BackendAdded, BackendRemoved, maintenance and a located InvalidManifest in order', async () => {
    source.set('sub.yaml', subscription('web', `service: /services/web\nlisten: { port: "x${listenPort}" }`));
    const d = await eventually(async () => {
      const r = await dockstack(['describe', 'subscription', 'web'], { env: env() });
      assert.match(r.stdout, /Warning\s+InvalidManifest\s+\S+\s+sub\.yaml:7:\d+ spec\.listen\.port/);
      return r.stdout;
    });
    const events = [...d.matchAll(/^  (?:Normal|Warning)\s+(\w+)\s+\S+\s+(.*)$/gm)].map((m) => `${m[1]} ${m[2]}`);
    // The first listing may have seen one or both instances, so the start is compared as a set.
    assert.deepEqual(events.slice(0, 3).map((e) => e.split(' ')[0]).sort(), ['BackendAdded', 'BackendAdded', 'Reloaded']);
    assert.deepEqual(events.slice(3, 7), [
      `BackendRemoved 127.0.0.1:${a.port}`,
      `BackendAdded 127.0.0.1:${a.port}`,
      `MaintenanceOn 127.0.0.1:${b.port} held in maintenance (status API)`,
      `MaintenanceOff 127.0.0.1:${b.port} released from maintenance (status API)`,
    ]);
    assert.match(events[7]!, /^InvalidManifest \S*sub\.yaml:7:\d+ spec\.listen\.port/);
    assert.equal(events.length, 8);
  });

  test('get -w streams a change', async () => {
    const child = spawn(process.execPath, [BIN, 'get', 'services', '-w'], { env: { ...process.env, ...env() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await eventually(() => assert.match(out, /^web-a\s+True\s+Registered/m), { timeoutMs: 15_000 });
      source.set('web-c.yaml', service('web-c', 'path: /services/other\nport: 1\nmaintenance: true'));
      await eventually(() => assert.match(out, /^web-c\s+False\s+NotRegistered/m));
    } finally {
      child.kill('SIGINT');
    }
  });
});
