/**
 * kubectl habits for scripts, through the real binary against a running agent with a real HAProxy:
 * `wait --for=condition=…|delete` with kubectl's exit codes (0 met, 1 timeout, 2 error), and `get`
 * with -o name, -o jsonpath (range, filters), -o custom-columns, --no-headers and --sort-by.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { startTcpBackend, type TestBackend } from './harness/backends.ts';
import { dockstack } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';
import { service, StaticSource, subscription } from './harness/static-source.ts';

let dir: string;
let running: RunningAgent;
let a: TestBackend;
let listenPort: number;
const source = new StaticSource();
const run = (args: string[]) => dockstack([...args, '--status-addr', running.statusAddr], { timeoutMs: 60_000 });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-kubectl-'));
  a = await startTcpBackend('a');
  listenPort = await freePort();
  running = await startAgent({ manifestsDir: dir, registry: new MemoryRegistry(), host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir, 'haproxy'), source });
});
after(async () => {
  await running?.stop();
  await a?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('wait', () => {
  test('--for=condition=Ready waits for objects applied after it started, then exits 0', async () => {
    const waiting = run(['wait', '--for=condition=Ready', 'service/web-a', 'subscription/web', '--timeout', '60s']);
    source.set('web-a.yaml', service('web-a', `path: /services/web\nport: ${a.port}`));
    source.set('web.yaml', subscription('web', `service: /services/web\nlisten: { port: ${listenPort} }\ncheck: { type: tcp, interMs: 200, rise: 1, fall: 1 }`));
    const r = await waiting;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^service\/web-a condition met: Ready=True$/m);
    assert.match(r.stdout, /^subscription\/web condition met: Ready=True$/m);
  });

  test('a condition not met in time: exit 1, naming what it waited for', async () => {
    const r = await run(['wait', '--for=condition=Ready=False', 'service/web-a', 'svc/absent', '--timeout', '600ms']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: timed out after 600ms waiting for condition Ready=False on service\/web-a, service\/absent$/m);
  });

  test('--for=delete exits 0 once the object is gone', async () => {
    source.set('gone.yaml', service('gone', 'path: /services/gone\nport: 9'));
    assert.equal((await run(['wait', '--for=condition=Valid', 'service/gone', '--timeout', '30s'])).code, 0);
    const waiting = run(['wait', '--for=delete', 'service/gone', '--timeout', '60s']);
    source.set('gone.yaml', undefined);
    const r = await waiting;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^service\/gone deleted$/m);
  });

  test('errors exit 2: a bad --for, a bad object, no agent', async () => {
    const bad = await run(['wait', '--for=ready', 'service/web-a']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: --for: expected condition=NAME\[=VALUE\] or delete, got "ready"/);
    assert.equal((await run(['wait', '--for=delete', 'pods/x'])).code, 2);
    const none = await dockstack(['wait', '--for=delete', 'service/x', '--status-addr', '127.0.0.1:9']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^error: cannot reach the DockStack agent at 127\.0\.0\.1:9/);
    const flag = await run(['wait', '--for=delete', 'service/x', '--frobnicate']);
    assert.equal(flag.code, 2, 'an unknown flag is a usage error, never read as a timeout');
    assert.match(flag.stderr, /^error: unknown option '--frobnicate'/);
    assert.equal((await run(['wait', '--for=delete'])).code, 2, 'a missing argument');
  });
});

describe('get output formats', () => {
  before(async () => {
    source.set('web-b.yaml', service('web-b', `path: /services/web\nport: ${a.port}\nweight: 5`));
    source.set('db.yaml', subscription('db', `service: /services/db\nlisten: { port: ${await freePort()} }\ndefaultServers: ["127.0.0.1:${a.port}"]`));
    assert.equal((await run(['wait', '--for=condition=Ready', 'service/web-b', 'subscription/db', '--timeout', '60s'])).code, 0);
  });

  test('-o name', async () => {
    const r = await run(['get', 'services', '-o', 'name']);
    assert.equal(r.stdout, 'service/web-a\nservice/web-b\n');
  });

  test('-o jsonpath: a list is {items: […]}; range, filters, literals', async () => {
    assert.equal((await run(['get', 'subs', '-o', 'jsonpath={.items[*].metadata.name}'])).stdout, 'db web');
    const r = await run(['get', 'subs', '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.status.conditions[?(@.type=="Ready")].reason}{"\\n"}{end}']);
    assert.equal(r.stdout, 'db\tDefaultServers\nweb\tRouting\n');
    assert.equal((await run(['get', 'sub', 'web', '-o', 'jsonpath={.status.details.listen}'])).stdout, `127.0.0.1:${listenPort}`);
    const bad = await run(['get', 'subs', '-o', 'jsonpath={range .items[*]}{.metadata.name}']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /\{range\} without \{end\}/);
  });

  test('-o custom-columns with --no-headers and --sort-by', async () => {
    const cols = 'NAME:.metadata.name,WEIGHT:.spec.weight,READY:.status.conditions[?(@.type=="Ready")].status';
    assert.equal((await run(['get', 'services', '-o', `custom-columns=${cols}`])).stdout, 'NAME    WEIGHT   READY\nweb-a   <none>   True\nweb-b   5        True\n');
    const sorted = await run(['get', 'services', '-o', 'custom-columns=NAME:.metadata.name,PORT:.spec.port', '--sort-by', '.spec.port', '--no-headers']);
    const lines = sorted.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.ok(!sorted.stdout.includes('NAME'), "!sorted.stdout.includes('NAME')");
    const table = await run(['get', 'subs', '--no-headers', '--sort-by={.status.details.listen}']);
    assert.ok(!table.stdout.includes('READY'), "!table.stdout.includes('READY')");
    assert.equal(table.stdout.trim().split('\n').length, 2);
  });

  test('an unknown -o is a usage error before any request', async () => {
    const r = await dockstack(['get', 'services', '-o', 'xml', '--status-addr', '127.0.0.1:9']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: -o xml: unknown output format/);
  });
});

describe("HAProxy's own Prometheus exporter", () => {
  test('GET /metrics/haproxy passes PROMEX through, with per-listener and per-server series', async () => {
    const res = await fetch(`http://${running.statusAddr}/metrics/haproxy`);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.match(body, /^haproxy_process_uptime_seconds \d+/m);
    assert.match(body, /^haproxy_backend_status\{proxy="web",state="UP"\} 1$/m);
    assert.match(body, /^haproxy_server_check_status\{proxy="web",server="s1",state="L4OK"\} 1$/m);
  });
});

describe("HAProxy's view in describe and get -o wide", () => {
  test('describe shows each backend live (state, check, sessions, last change); -o wide counts UP/TOTAL', async () => {
    const addr = `127.0.0.1:${a.port}`;
    await eventually(async () => {
      const d = await run(['describe', 'subscription', 'web']);
      assert.match(d.stdout, /^Backends \(live, from the proxy\):\n {2}ADDRESS +STATE +CHECK +CHECK-TIME +SESSIONS +LAST-CHANGE +WEIGHT\n/m);
      assert.match(d.stdout, new RegExp(`^  ${addr.replaceAll('.', '\\.')} +UP +L4OK +\\d+ms +0 +\\d+s +1$`, 'm'));
    });
    const wide = await run(['get', 'subs', '-o', 'wide']);
    assert.match(wide.stdout, /UP\/TOTAL/);
    assert.match(wide.stdout, /^web .* 1\/1 /m);
    await a.close();
    await eventually(async () => assert.match((await run(['describe', 'subscription', 'web'])).stdout, new RegExp(`^  ${addr.replaceAll('.', '\\.')} +DOWN +L4CON `, 'm')), { timeoutMs: 20_000 });
    assert.match((await run(['get', 'subs', '-o', 'wide'])).stdout, /^web .* 0\/1 /m);
  });
});
