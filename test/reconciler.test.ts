/**
 * The reconcile engine end to end with in-memory boundaries (memory registry, recording proxy,
 * scripted health): desired state → registrations and proxy listeners, fail static, last good
 * manifest kept, conditions and generations. The same flows run on real servers in the e2e tests.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Agent } from '../src/agent.ts';
import { MemoryProxy as RecordingProxy } from '../src/proxy/memory-proxy.ts';
import type { HealthRunner } from '../src/reconcile/service-controller.ts';
import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import type { Instance, RegistryState } from '../src/registry/registry.ts';
import { RegistryError } from '../src/errors.ts';
import { eventually } from './harness/eventually.ts';
import { service, StaticSource, subscription } from './harness/static-source.ts';
import { instanceIdFor } from '../src/reconcile/instance-id.ts';

class ScriptedHealth implements HealthRunner {
  static all = new Map<string, ScriptedHealth>();
  healthy = false;
  constructor(readonly target: string, private readonly onChange: (h: boolean) => void) {
    ScriptedHealth.all.set(target, this);
  }
  set(h: boolean) {
    this.healthy = h;
    this.onChange(h);
  }
  start() {}
  async stop() {}
  statuses() {
    return [];
  }
}

/**
 * 'connecting' until connect(), and a register() made before then waits for it, as ZooKeeper's
 * requests wait in the client for the first connection. `failing` registers throw a transient
 * error: at once while connecting, the one in flight when it connects as the connection comes up.
 */
class ConnectingRegistry extends MemoryRegistry {
  registers = 0;
  failing = 0;
  private connected = false;
  private readonly heard = new Set<(s: RegistryState) => void>();
  private open!: () => void;
  private readonly opened = new Promise<void>((r) => (this.open = r));

  override state(): RegistryState {
    return this.connected ? super.state() : 'connecting';
  }
  override onStateChange(cb: (s: RegistryState) => void): () => void {
    this.heard.add(cb);
    const off = super.onStateChange(cb);
    return () => (this.heard.delete(cb), off());
  }
  override async register(path: string, instance: Instance, signal?: AbortSignal): Promise<string> {
    const n = ++this.registers;
    if (n < this.failing) throw new RegistryError('connection lost', { transient: true });
    await this.opened;
    if (n === this.failing) throw new RegistryError('connection lost', { transient: true });
    return super.register(path, instance, signal);
  }
  connect(): void {
    this.connected = true;
    for (const cb of this.heard) cb('connected');
    this.open();
  }
}

function setup(registry = new MemoryRegistry(), onReconcile?: (key: string) => void) {
  const proxy = new RecordingProxy();
  const source = new StaticSource();
  const agent = new Agent({
    ...(onReconcile && { onReconcile }),
    source,
    registry,
    proxy,
    host: '127.0.0.1',
    health: (checks, target, onChange) => {
      const h = new ScriptedHealth(`${target.host}:${target.port}`, onChange);
      if (checks.length === 0) h.healthy = true;
      return h;
    },
  });
  return { registry, proxy, source, agent };
}

const agents: Agent[] = [];
after(async () => {
  for (const a of agents) await a.stop();
});

test('a healthy Service is registered; unhealthy or removed, it is deregistered', async () => {
  const { registry, source, agent } = setup();
  agents.push(agent);
  await agent.start();
  source.set('db.yaml', service('db', 'path: /services/db\nport: 3306\nchecks:\n  - type: tcp'));
  await eventually(() => assert.equal(agent.status.condition('service/db', 'Healthy')?.status, 'False'));
  assert.deepEqual((await registry.list('/services/db')).instances, []);

  ScriptedHealth.all.get('127.0.0.1:3306')!.set(true);
  await eventually(async () => assert.deepEqual((await registry.list('/services/db')).instances, [{ host: '127.0.0.1', port: 3306, name: instanceIdFor('127.0.0.1', 'db') }]));
  await eventually(() => assert.equal(agent.status.condition('service/db', 'Ready')?.status, 'True'));
  assert.equal(agent.viewOf('service/db')?.status.observedGeneration, 1);

  ScriptedHealth.all.get('127.0.0.1:3306')!.set(false);
  await eventually(async () => assert.equal((await registry.list('/services/db')).instances.length, 0));
  assert.deepEqual(agent.status.events('service/db').map((e) => e.reason), ['CheckPassed', 'Registered', 'CheckFailed', 'Deregistered']);

  ScriptedHealth.all.get('127.0.0.1:3306')!.set(true);
  await eventually(async () => assert.equal((await registry.list('/services/db')).instances.length, 1));
  source.set('db.yaml', undefined);
  await eventually(async () => assert.equal((await registry.list('/services/db')).instances.length, 0));
  await eventually(() => assert.equal(agent.viewOf('service/db'), undefined));
});

test('a Subscription routes to registered instances and follows changes', async () => {
  const { registry, proxy, source, agent } = setup();
  agents.push(agent);
  await agent.start();
  source.set('sub.yaml', subscription('db', 'service: /services/db\nlisten: { port: 13306 }'));
  await eventually(() => assert.deepEqual(proxy.listeners.get('db')?.endpoints, []));
  await registry.register('/services/db', { host: '10.0.0.1', port: 3306, name: 'a' });
  await registry.register('/services/db', { host: '10.0.0.2', port: 3306, name: 'b', weight: 5 });
  await eventually(() => assert.deepEqual(proxy.listeners.get('db')?.endpoints, [{ host: '10.0.0.1', port: 3306 }, { host: '10.0.0.2', port: 3306, weight: 5 }]));
  await registry.deregister('/services/db', 'a');
  await eventually(() => assert.deepEqual(proxy.listeners.get('db')?.endpoints, [{ host: '10.0.0.2', port: 3306, weight: 5 }]));
  assert.equal(agent.status.condition('subscription/db', 'Ready')?.reason, 'Routing');
  const reasons = agent.status.events('subscription/db').map((e) => `${e.reason} ${e.message}`);
  assert.ok(reasons.includes('BackendAdded 10.0.0.1:3306') && reasons.includes('BackendRemoved 10.0.0.1:3306'), reasons.join('\n'));
});

test('fail static: a registry outage or a sudden empty set keeps the last known backends', async () => {
  const { registry, proxy, source, agent } = setup();
  agents.push(agent);
  await agent.start();
  await registry.register('/services/api', { host: '10.0.0.1', port: 80, name: 'a' });
  source.set('sub.yaml', subscription('api', 'service: /services/api\nlisten: { port: 18080 }'));
  await eventually(() => assert.equal(proxy.listeners.get('api')?.endpoints.length, 1));

  registry.setAvailable(false);
  agent.resync();
  await eventually(() => assert.equal(agent.status.condition('subscription/api', 'Synced')?.status, 'False'));
  await agent.queue.idle();
  assert.deepEqual(proxy.listeners.get('api')?.endpoints, [{ host: '10.0.0.1', port: 80 }], 'outage keeps backends');
  assert.equal(agent.status.condition('subscription/api', 'Ready')?.reason, 'FailStatic');
  assert.ok(agent.queue.retries('subscription/api') >= 1, 'registry error retried with backoff');

  registry.setAvailable(true);
  await registry.deregister('/services/api', 'a');
  await eventually(() => assert.equal(agent.status.condition('subscription/api', 'Synced')?.status, 'True'));
  await agent.queue.idle();
  assert.deepEqual(proxy.listeners.get('api')?.endpoints, [{ host: '10.0.0.1', port: 80 }], 'empty set keeps backends');
});

test('failStatic: false empties the backend; defaultServers serve when nothing was ever known', async () => {
  const { registry, proxy, source, agent } = setup();
  agents.push(agent);
  await agent.start();
  source.set('a.yaml', subscription('cache', 'service: /services/cache\nlisten: { port: 16379 }\ndefaultServers: ["127.0.0.9:6379"]'));
  await eventually(() => assert.deepEqual(proxy.listeners.get('cache')?.endpoints, [{ host: '127.0.0.9', port: 6379 }]));
  assert.equal(agent.status.condition('subscription/cache', 'Ready')?.reason, 'DefaultServers');

  source.set('b.yaml', subscription('strict', 'service: /services/strict\nlisten: { port: 16380 }\nfailStatic: false'));
  await registry.register('/services/strict', { host: '10.0.0.3', port: 1, name: 'x' });
  await eventually(() => assert.equal(proxy.listeners.get('strict')?.endpoints.length, 1));
  await registry.deregister('/services/strict', 'x');
  await eventually(() => assert.deepEqual(proxy.listeners.get('strict')?.endpoints, []));
});

test('untrusted registry data is skipped with a reason and never reaches the proxy', async () => {
  const { registry, proxy, source, agent } = setup();
  agents.push(agent);
  await agent.start();
  registry.seed('/services/x', 'evil', JSON.stringify({ host: '1.2.3.4\n  server evil 6.6.6.6:1', port: 80 }));
  registry.seed('/services/x', 'junk', 'not json');
  registry.seed('/services/x', 'good', JSON.stringify({ host: '10.1.1.1', port: 8080, name: 'good' }));
  source.set('x.yaml', subscription('x', 'service: /services/x\nlisten: { port: 18081 }'));
  await eventually(() => assert.deepEqual(proxy.listeners.get('x')?.endpoints, [{ host: '10.1.1.1', port: 8080 }]));
  const rejected = agent.viewOf('subscription/x')?.status.details.rejected as Array<{ key: string; reason: string }>;
  assert.deepEqual(rejected.map((r) => r.key).sort(), ['/services/x/evil', '/services/x/junk']);
});

test('a bad edit keeps the last good manifest in force; other manifests keep reconciling', async () => {
  const { proxy, source, agent } = setup();
  agents.push(agent);
  await agent.start();
  source.set('a.yaml', subscription('a', 'service: /services/a\nlisten: { port: 17001 }'));
  source.set('b.yaml', subscription('b', 'service: /services/b\nlisten: { port: 17002 }'));
  await eventually(() => assert.ok(proxy.listeners.has('a') && proxy.listeners.has('b'), "proxy.listeners.has('a') && proxy.listeners.has('b')"));
  source.set('a.yaml', subscription('a', 'service: /services/a\nlisten: { port: abc }'));
  source.set('b.yaml', subscription('b', 'service: /services/b\nlisten: { port: 17003 }'));
  await eventually(() => assert.equal(proxy.listeners.get('b')?.spec.listen.port, 17003));
  assert.equal(proxy.listeners.get('a')?.spec.listen.port, 17001, 'last good version of a stays');
  const valid = agent.status.condition('subscription/a', 'Valid');
  assert.equal(valid?.status, 'False');
  assert.match(valid!.message, /^a\.yaml:7:\d+ spec\.listen\.port: expected integer 1–65535, got "abc"/);
  assert.equal(agent.viewOf('subscription/b')?.metadata.generation, 2);
  assert.equal(agent.viewOf('subscription/b')?.status.observedGeneration, 2);
  assert.equal(agent.viewOf('subscription/a')?.metadata.generation, 1);
});

test('a proxy failure is retried with backoff and surfaces on the object', async () => {
  const { proxy, source, agent } = setup();
  agents.push(agent);
  await agent.start();
  proxy.failWith = new Error('haproxy -c failed: bad config');
  source.set('a.yaml', subscription('a', 'service: /services/a\nlisten: { port: 17005 }'));
  await eventually(() => assert.ok(agent.queue.retries('subscription/a') >= 2, "agent.queue.retries('subscription/a') >= 2"));
  const v = agent.viewOf('subscription/a')!;
  assert.equal(v.status.conditions.find((c) => c.type === 'ProxyConfigured')?.status, 'False');
  assert.match(v.status.lastError ?? '', /bad config/);
  proxy.failWith = undefined;
  await eventually(() => assert.equal(agent.status.condition('subscription/a', 'ProxyConfigured')?.status, 'True'), { timeoutMs: 15_000 });
  await eventually(() => assert.equal(agent.viewOf('subscription/a')?.status.retries, 0));
});

test('a register in flight when the registry first connects is not run again; one that then fails is retried at once', async () => {
  const registry = new ConnectingRegistry();
  const { source, agent } = setup(registry);
  agents.push(agent);
  source.set('a.yaml', service('a', 'path: /services/a\nport: 1001'));
  source.set('b.yaml', service('b', 'path: /services/b\nport: 1002'));
  await agent.start();
  await eventually(() => assert.equal(registry.registers, 2));
  registry.connect();
  await eventually(() => assert.equal(agent.status.condition('service/b', 'Ready')?.status, 'True'));
  await eventually(() => assert.equal(agent.status.condition('service/a', 'Ready')?.status, 'True'));
  await agent.queue.idle();
  assert.equal(registry.registers, 2, 'each Service registered once, not again for the connect');

  // Five failures while connecting put the next retry 3.2 s ± 20 % away; the sixth fails on connect.
  const late = new ConnectingRegistry();
  late.failing = 6;
  const s2 = setup(late);
  agents.push(s2.agent);
  s2.source.set('c.yaml', service('c', 'path: /services/c\nport: 1003'));
  await s2.agent.start();
  await eventually(() => assert.equal(late.registers, 6), { timeoutMs: 15_000 });
  const connectedAt = Date.now();
  late.connect();
  await eventually(() => assert.equal(s2.agent.status.condition('service/c', 'Ready')?.status, 'True'), { timeoutMs: 15_000 });
  assert.ok(Date.now() - connectedAt < 2000, `Ready ${Date.now() - connectedAt} ms after the connect, not after the backoff`);
});

test("a Subscription's first reconcile takes the watch's first delivery and is not run again for it", async () => {
  const runs: string[] = [];
  const { registry, source, agent } = setup(new MemoryRegistry(), (key) => runs.push(key));
  agents.push(agent);
  await registry.register('/services/f', { host: '10.0.0.9', port: 80, name: 'f-1' });
  await agent.start();
  source.set('f.yaml', subscription('f', 'service: /services/f\nlisten: { port: 17009 }'));
  await eventually(() => assert.equal(agent.status.condition('subscription/f', 'Ready')?.status, 'True'));
  await agent.queue.idle();
  assert.deepEqual(runs, ['subscription/f']);
});
