/**
 * GET /metrics of a real agent (memory registry, real HAProxy 2.6): the series move with real
 * actions — registration, a backend joining through the registry watch, a listener change that
 * reloads HAProxy, a failing check, an invalid manifest — and backends per Subscription are read
 * from HAProxy's own stats.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { reloadReasonLabel } from '../src/server/metrics.ts';
import { answering, startTcpBackend, type TestBackend } from './harness/backends.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';
import { service, StaticSource, subscription } from './harness/static-source.ts';

/** The value of the first sample of `name` whose labels include `labels`; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return undefined;
}

let dir: string;
let running: RunningAgent;
let listenPort: number;
const source = new StaticSource();
const registry = new MemoryRegistry();
const backends: TestBackend[] = [];
const scrape = async () => {
  const res = await fetch(`http://${running.statusAddr}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return res.text();
};
const subSpec = (balance: string) => `service: /services/web\nlisten: { port: ${listenPort} }\nbalance: ${balance}\ncheck: { type: none }`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-metrics-'));
  listenPort = await freePort();
  backends.push(await startTcpBackend('a'), await startTcpBackend('b'));
  running = await startAgent({ manifestsDir: dir, registry, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir, 'haproxy'), source });
});
after(async () => {
  await running?.stop();
  await Promise.all(backends.map((b) => b.close()));
  await rm(dir, { recursive: true, force: true });
});

test('registration, checks and a new listener show in the metrics', async () => {
  const before = await scrape();
  assert.equal(sample(before, 'dockstack_registry_operations_total', { operation: 'register' }), undefined);
  assert.equal(sample(before, 'dockstack_registry_session_state', { backend: 'memory', state: 'connected' }), 1);

  source.set('web.yaml', service('web', `path: /services/web\nport: ${backends[0]!.port}\nchecks:\n  - { type: tcp, intervalMs: 100, rise: 1, fall: 1 }`));
  source.set('sub.yaml', subscription('web', subSpec('roundrobin')));
  await eventually(async () => assert.deepEqual([...(await answering(listenPort, 2))], ['a']));
  const m = await eventually(async () => {
    const t = await scrape();
    assert.equal(sample(t, 'dockstack_events_total', { kind: 'service', reason: 'Registered' }), 1);
    assert.equal(sample(t, 'dockstack_subscription_backends', { subscription: 'web', state: 'up' }), 1);
    return t;
  });
  assert.ok(sample(m, 'dockstack_registry_operations_total', { backend: 'memory', operation: 'register' })! >= 1, "sample(m, 'dockstack_registry_operations_total', { backend: 'memory', operation: 'register' })! >= 1");
  // The Subscription reads the watch's cache: no list() of its own while the registry is connected.
  assert.ok(sample(m, 'dockstack_registry_watch_events_total', { backend: 'memory' })! >= 1, "sample(m, 'dockstack_registry_watch_events_total', { backend: 'memory' })! >= 1");
  assert.ok(sample(m, 'dockstack_check_results_total', { service: 'web', type: 'tcp', result: 'pass' })! >= 1, "sample(m, 'dockstack_check_results_total', { service: 'web', type: 'tcp', result: 'pass' })! >= 1");
  assert.ok(sample(m, 'dockstack_check_duration_seconds_count', { service: 'web' })! >= 1, "sample(m, 'dockstack_check_duration_seconds_count', { service: 'web' })! >= 1");
  assert.ok(sample(m, 'dockstack_reconcile_duration_seconds_count', { kind: 'subscription', outcome: 'success' })! >= 1, "sample(m, 'dockstack_reconcile_duration_seconds_count', { kind: 'subscription', outcome: 'success' })! >= 1");
  assert.equal(sample(m, 'dockstack_haproxy_reloads_total', { reason: 'listener_added' }), 1);
  assert.equal(sample(m, 'dockstack_objects', { kind: 'service', ready: 'true' }), 1);
  assert.equal(sample(m, 'dockstack_queue_depth'), 0);
});

test('a backend joining through the registry moves watch events and runtime commands, not reloads', async () => {
  const before = await scrape();
  await registry.register('/services/web', { host: '127.0.0.1', port: backends[1]!.port, name: 'web-b' });
  await eventually(async () => assert.deepEqual([...(await answering(listenPort, 6))].sort(), ['a', 'b']));
  const after = await eventually(async () => {
    const t = await scrape();
    assert.equal(sample(t, 'dockstack_subscription_backends', { subscription: 'web', state: 'up' }), 2);
    return t;
  });
  assert.ok(sample(after, 'dockstack_registry_watch_events_total', { backend: 'memory' })! > (sample(before, 'dockstack_registry_watch_events_total', { backend: 'memory' }) ?? 0), "sample(after, 'dockstack_registry_watch_events_total', { backend: 'memory' })! > (sample(before, 'dockstack_registry_watch_events_total', { backend: 'memory' }) ?? 0)");
  assert.ok(sample(after, 'dockstack_haproxy_runtime_commands_total')! > sample(before, 'dockstack_haproxy_runtime_commands_total')!, "sample(after, 'dockstack_haproxy_runtime_commands_total')! > sample(before, 'dockstack_haproxy_runtime_commands_total')!");
  assert.equal(sample(after, 'dockstack_events_total', { kind: 'subscription', reason: 'BackendAdded' }), 2);
  assert.equal(sample(after, 'dockstack_haproxy_reloads_total', { reason: 'listener_added' }), 1, 'no reload for a membership change');
  assert.equal(sample(after, 'dockstack_haproxy_reloads_total', { reason: 'listener_changed' }), undefined);
});

test('a listener change reloads, with its reason as a label', async () => {
  source.set('sub.yaml', subscription('web', subSpec('leastconn')));
  await eventually(async () => assert.equal(sample(await scrape(), 'dockstack_haproxy_reloads_total', { reason: 'listener_changed' }), 1));
});

test('a failing check and an invalid manifest are counted', async () => {
  await backends[0]!.close();
  source.set('bad.yaml', service('broken', 'path: /services/x\nport: "abc"'));
  await eventually(async () => {
    const t = await scrape();
    assert.ok(sample(t, 'dockstack_check_results_total', { service: 'web', result: 'fail' })! >= 1, "sample(t, 'dockstack_check_results_total', { service: 'web', result: 'fail' })! >= 1");
    assert.equal(sample(t, 'dockstack_events_total', { kind: 'service', reason: 'CheckFailed' }), 1);
    assert.equal(sample(t, 'dockstack_events_total', { kind: 'service', reason: 'Deregistered' }), 1);
    assert.ok(sample(t, 'dockstack_manifest_validation_errors_total')! >= 1, "sample(t, 'dockstack_manifest_validation_errors_total')! >= 1");
    assert.equal(sample(t, 'dockstack_manifest_invalid_objects'), 1);
  });
});

test('reload reasons map to a bounded label set', () => {
  assert.equal(reloadReasonLabel({ cause: 'listener-added', listener: 'db' }), 'listener_added');
  assert.equal(reloadReasonLabel({ cause: 'runtime-diverged', listener: 'db' }), 'runtime_diverged');
});
