/**
 * Shutdown aborts in-flight reconciles: the work queue's signal reaches the controllers' registry
 * calls, so a stop does not wait out a registry that stopped answering (a silent partition, where
 * each call would hang until its op deadline).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent } from '../src/agent.ts';
import { AbortedError } from '../src/errors.ts';
import type { ObjectKey } from '../src/object-key.ts';
import { MemoryProxy } from '../src/proxy/memory-proxy.ts';
import { createRegistry } from '../src/registry/create-registry.ts';
import type { Registry } from '../src/registry/registry.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';
import { service, StaticSource, subscription } from './harness/static-source.ts';
import { startTcpProxy, type TcpProxy } from './harness/tcp-proxy.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';

// Far longer than the stop may take: a stop that waited for the calls would fail the bound below.
const OP_TIMEOUT_MS = 120_000;
const STOP_BOUND_MS = 10_000;

let zk: ZooKeeperServer;
let link: TcpProxy;
let agent: Agent | undefined;

before(async () => {
  zk = await startZooKeeper();
  link = await startTcpProxy(zk.port);
});
after(async () => {
  await link?.close(); // drops the frozen connection, so the registry's close does not wait on it
  await agent?.stop();
  await zk?.stop();
});

/** `inner` with a count of list/register calls that have started and not yet settled. */
function counting(inner: Registry): { registry: Registry; inFlight: Map<string, number> } {
  const inFlight = new Map<string, number>();
  const track = <T>(op: string, p: Promise<T>): Promise<T> => {
    inFlight.set(op, (inFlight.get(op) ?? 0) + 1);
    return p.finally(() => inFlight.set(op, inFlight.get(op)! - 1));
  };
  const registry: Registry = {
    kind: inner.kind,
    register: (path, instance, signal) => track('register', inner.register(path, instance, signal)),
    deregister: (path, name, signal) => inner.deregister(path, name, signal),
    list: (path, signal) => track('list', inner.list(path, signal)),
    watch: (path, cb) => inner.watch(path, cb),
    onStateChange: (cb) => inner.onStateChange(cb),
    state: () => inner.state(),
    close: () => inner.close(),
  };
  return { registry, inFlight };
}

test('stopping the work queue aborts reconciles waiting on a registry that stopped answering', async () => {
  const zkRegistry = await createRegistry({ url: `zk://127.0.0.1:${link.port}`, opTimeoutMs: OP_TIMEOUT_MS, sessionTimeoutMs: 30_000 });
  const { registry, inFlight } = counting(zkRegistry);
  const source = new StaticSource();
  const outcomes = new Map<ObjectKey, unknown>();
  agent = new Agent({
    source,
    registry,
    proxy: new MemoryProxy(),
    host: '127.0.0.1',
    health: () => ({ healthy: true, start() {}, async stop() {}, statuses: () => [] }),
    onReconcile: (key, _outcome, _ms, err) => outcomes.set(key, err),
  });
  await agent.start();
  source.set('sub.yaml', subscription('sub', `service: /services/x\nlisten: { port: ${await freePort()} }`));
  await eventually(() => assert.equal(agent!.status.condition('subscription/sub', 'Synced')?.status, 'True'), { timeoutMs: 20_000 });

  // A new Subscription waits for its watch's first delivery, then lists; a new Service registers.
  link.blackhole();
  source.set('web.yaml', service('web', 'path: /services/web\nport: 8080'));
  source.set('late.yaml', subscription('late', `service: /services/y\nlisten: { port: ${await freePort()} }`));
  await eventually(() => {
    assert.ok((inFlight.get('list') ?? 0) >= 1, 'a list in flight');
    assert.ok((inFlight.get('register') ?? 0) >= 1, 'a register in flight');
  }, { timeoutMs: 30_000 });

  const t0 = Date.now();
  await agent.queue.shutdown();
  const ms = Date.now() - t0;
  assert.ok(ms < STOP_BOUND_MS, `queue shutdown took ${ms} ms (registry calls time out after ${OP_TIMEOUT_MS} ms)`);
  for (const key of ['subscription/late', 'service/web'] as const) assert.ok(outcomes.get(key) instanceof AbortedError, `${key}: ${String(outcomes.get(key))}`);
  // An abort is not the registry's failure: no error or retry is written into status.
  assert.equal(agent.status.get('subscription/late')?.lastError, undefined);
  assert.equal(agent.status.condition('subscription/late', 'Synced'), undefined);
  assert.equal(agent.status.get('service/web')?.lastError, undefined);
});
