/**
 * A newer desired state supersedes a running reconcile: a manifest changed or deleted while its
 * reconcile waits on a ZooKeeper that stopped answering aborts that reconcile (once it is
 * SUPERSEDE_AFTER_MS old), the newer state is reconciled at once, and it is what the registry ends
 * up holding. Registry watch events never abort: a steady stream of them lets a slow reconcile finish.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Agent } from '../src/agent.ts';
import { AbortedError } from '../src/errors.ts';
import type { ObjectKey } from '../src/object-key.ts';
import { MemoryProxy } from '../src/proxy/memory-proxy.ts';
import type { ApplyResult, Endpoint, ListenerSpec } from '../src/proxy/proxy.ts';
import { createRegistry } from '../src/registry/create-registry.ts';
import type { Registry } from '../src/registry/registry.ts';
import { SUPERSEDE_AFTER_MS, type Outcome } from '../src/reconcile/work-queue.ts';
import { within } from '../src/within.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';
import { startEtcd, type EtcdServer } from './harness/etcd.ts';
import { rawEtcd, rawZooKeeper, type RawRegistry } from './harness/raw-registry.ts';
import { service, StaticSource, subscription } from './harness/static-source.ts';
import { startTcpProxy, type TcpProxy } from './harness/tcp-proxy.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';

// Far longer than the supersede may take: a run that waited for its calls would fail the bound.
// Not longer: an etcd call sent into the silent link is at times held until its deadline after the heal.
const OP_TIMEOUT_MS = 20_000;
const SUPERSEDE_BOUND_MS = SUPERSEDE_AFTER_MS + 5_000;
const SUPERSEDED = ['service/web', 'service/gone', 'subscription/late'] as const;

let zk: ZooKeeperServer;
let etcd: EtcdServer;
const raw: Partial<Record<'zookeeper' | 'etcd', RawRegistry>> = {};
const cleanup: Array<() => Promise<unknown>> = [];

before(async () => {
  [zk, etcd] = await Promise.all([startZooKeeper(), startEtcd()]);
  raw.zookeeper = await rawZooKeeper(`127.0.0.1:${zk.port}`);
  raw.etcd = rawEtcd(etcd.endpoint);
});
after(async () => {
  for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  await Promise.all(Object.values(raw).map((r) => r.close()));
  await Promise.all([zk?.stop(), etcd?.stop()]);
});

const healthy = () => ({ healthy: true, start() {}, async stop() {}, statuses: () => [] });

/** `inner` with a count, per registry path, of register/list calls started and not yet settled. */
function counting(inner: Registry): { registry: Registry; inFlight: (path: string) => number } {
  const n = new Map<string, number>();
  const track = <T>(path: string, p: Promise<T>): Promise<T> => {
    n.set(path, (n.get(path) ?? 0) + 1);
    return p.finally(() => n.set(path, n.get(path)! - 1));
  };
  return {
    inFlight: (path) => n.get(path) ?? 0,
    registry: {
      kind: inner.kind,
      register: (path, instance, signal) => track(path, inner.register(path, instance, signal)),
      deregister: (path, name, signal) => inner.deregister(path, name, signal),
      list: (path, signal) => track(path, inner.list(path, signal)),
      watch: (path, cb) => inner.watch(path, cb),
      onStateChange: (cb) => inner.onStateChange(cb),
      state: () => inner.state(),
      close: () => inner.close(),
    },
  };
}

/** Instances under `path` as a plain client of `kind` reads them: "host:port" sorted. */
async function registered(kind: 'zookeeper' | 'etcd', path: string): Promise<string[]> {
  const entries = await raw[kind]!.read(path);
  return [...entries.values()].map((d) => JSON.parse(d) as { host: string; port: number }).map((i) => `${i.host}:${i.port}`).sort();
}

for (const kind of ['zookeeper', 'etcd'] as const) test(`${kind}: a manifest changed or deleted while its reconcile hangs on a frozen registry supersedes it; the newer state wins`, async (t) => {
  const link: TcpProxy = await startTcpProxy(kind === 'zookeeper' ? zk.port : etcd.port);
  cleanup.push(() => link.close());
  const url = kind === 'zookeeper' ? `zk://127.0.0.1:${link.port}` : `etcd://127.0.0.1:${link.port}`;
  const { registry, inFlight } = counting(await createRegistry({ url, opTimeoutMs: OP_TIMEOUT_MS, sessionTimeoutMs: 30_000 }));
  const source = new StaticSource();
  const proxy = new MemoryProxy();
  const outcomes: Array<{ key: ObjectKey; outcome: Outcome; ms: number; err: unknown; at: number }> = [];
  const agent = new Agent({ source, registry, proxy, host: '127.0.0.1', health: healthy, onReconcile: (key, outcome, ms, err) => outcomes.push({ key, outcome, ms, err, at: Date.now() }) });
  cleanup.push(() => agent.stop());
  await agent.start();
  source.set('sub.yaml', subscription('sub', `service: /services/x\nlisten: { port: ${await freePort()} }`));
  await eventually(() => assert.equal(agent.status.condition('subscription/sub', 'Synced')?.status, 'True'), { timeoutMs: 20_000 });

  link.blackhole();
  source.set('web.yaml', service('web', 'path: /services/web\nport: 8080'));
  source.set('gone.yaml', service('gone', 'path: /services/gone\nport: 8082'));
  source.set('late.yaml', subscription('late', `service: /services/y\nlisten: { port: ${await freePort()} }`));
  // All three wait on the frozen registry at once (etcd's first calls hang until its liveness check
  // gives up on the channel, ~4 s; later ones fail fast while its circuit breaker is open).
  await eventually(() => {
    for (const path of ['/services/web', '/services/gone', '/services/y']) assert.ok(inFlight(path) >= 1, `a call for ${path} in flight`);
  }, { timeoutMs: 30_000, intervalMs: 5 });

  const t0 = Date.now();
  source.set('web.yaml', service('web', 'path: /services/web\nport: 8081'));
  source.set('late.yaml', undefined);
  source.set('gone.yaml', undefined);
  const ended = (key: ObjectKey) => outcomes.find((o) => o.key === key && o.at >= t0);
  await eventually(() => {
    for (const key of SUPERSEDED) assert.equal(ended(key)?.outcome, 'superseded', key);
  }, { timeoutMs: SUPERSEDE_BOUND_MS * 2 });
  for (const key of SUPERSEDED) {
    const o = ended(key)!;
    assert.ok(o.err instanceof AbortedError, `${key}: ${String(o.err)}`);
    assert.ok(o.at - t0 < SUPERSEDE_BOUND_MS, `${key} superseded after ${o.at - t0} ms (its calls time out after ${OP_TIMEOUT_MS} ms)`);
    t.diagnostic(`${key}: superseded ${o.at - t0} ms after the change, having run ${Math.round(o.ms)} ms`);
  }
  // The deletion is reconciled while ZooKeeper is still frozen (removing a listener needs no registry call).
  await eventually(() => {
    assert.equal(agent.status.get('subscription/late'), undefined);
    assert.equal(proxy.listeners.has('late'), false);
  });

  const healed = Date.now();
  link.restore();
  // The deleted Service's register may have landed: its removal deregisters it all the same.
  await eventually(async () => {
    assert.equal(agent.status.condition('service/web', 'Registered')?.status, 'True');
    assert.deepEqual(await registered(kind, '/services/web'), ['127.0.0.1:8081']);
    assert.equal(agent.status.get('service/gone'), undefined);
  }, { timeoutMs: 60_000 }).catch((err: unknown) => {
    for (const o of outcomes) t.diagnostic(`${o.at - t0} ms: ${o.key} ${o.outcome} after ${Math.round(o.ms)} ms ${o.err ? String(o.err) : ''}`);
    throw err;
  });
  t.diagnostic(`newer state registered ${Date.now() - healed} ms after the heal`);
  assert.deepEqual(await registered(kind, '/services/gone'), []);
  assert.equal(agent.status.get('service/web')?.details.port, 8081);
  await agent.stop();
});

test('a steady stream of registry watch events does not abort a reconcile that outlasts SUPERSEDE_AFTER_MS', async () => {
  const APPLY_MS = SUPERSEDE_AFTER_MS * 2;
  // A data plane slower than the supersede grace (a big HAProxy reload): the first apply takes APPLY_MS.
  class SlowProxy extends MemoryProxy {
    slowApplies = 0;
    override async apply(name: string, spec: ListenerSpec, endpoints: readonly Endpoint[], signal?: AbortSignal): Promise<ApplyResult> {
      if (!this.listeners.has(name)) {
        this.slowApplies++;
        await within(new Promise((r) => setTimeout(r, APPLY_MS)), { signal });
      }
      return super.apply(name, spec, endpoints);
    }
  }
  const proxy = new SlowProxy();
  const registry = await createRegistry({ url: `zk://127.0.0.1:${zk.port}`, opTimeoutMs: 10_000, sessionTimeoutMs: 30_000 });
  const source = new StaticSource();
  const outcomes: Array<{ key: ObjectKey; outcome: Outcome }> = [];
  const agent = new Agent({ source, registry, proxy, host: '127.0.0.1', health: healthy, onReconcile: (key, outcome) => outcomes.push({ key, outcome }) });
  cleanup.push(() => agent.stop());
  await agent.start();
  await raw.zookeeper!.write('/services/stream', 'seed', JSON.stringify({ host: '127.0.0.1', port: 9000 }));
  source.set('stream.yaml', subscription('stream', `service: /services/stream\nlisten: { port: ${await freePort()} }`));

  // An instance joins every 50 ms while the first apply runs, and for a while after.
  let written = 0;
  const stream = (async () => {
    const until = Date.now() + APPLY_MS + 1000;
    while (Date.now() < until) {
      await raw.zookeeper!.write('/services/stream', `i${written}`, JSON.stringify({ host: '127.0.0.1', port: 10_000 + written }));
      written++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await eventually(() => assert.ok(outcomes.some((o) => o.key === 'subscription/stream'), 'the first reconcile ended'), { timeoutMs: APPLY_MS + 10_000 });
  await stream;
  assert.ok(written >= APPLY_MS / 100, `${written} instances written`);
  assert.equal(outcomes.find((o) => o.key === 'subscription/stream')?.outcome, 'success', 'the first reconcile was not cut short');
  assert.equal(outcomes.filter((o) => o.outcome === 'superseded').length, 0);
  assert.equal(proxy.slowApplies, 1, 'one slow first apply: never aborted and redone');
  await eventually(() => assert.equal(proxy.listeners.get('stream')?.endpoints.length, written + 1), { timeoutMs: 10_000 });
});

test('a register that lands after its run was superseded by the manifest\'s deletion is undone', async () => {
  const inner = await createRegistry({ url: `zk://127.0.0.1:${zk.port}`, opTimeoutMs: 10_000, sessionTimeoutMs: 30_000 });
  let landed = 0;
  // A registry slower than the supersede grace: the write is on the wire and lands after its caller
  // gave up. Later calls for the instance queue behind it, as they do on a ZooKeeper session.
  const pending = new Map<string, Promise<unknown>>();
  const registry: Registry = Object.assign(Object.create(inner) as Registry, {
    register: (path: string, instance: Parameters<Registry['register']>[1], signal?: AbortSignal) => {
      const write = new Promise((r) => setTimeout(r, SUPERSEDE_AFTER_MS * 2)).then(() => inner.register(path, instance)).then((k) => (landed++, k));
      pending.set(`${path}/${instance.name}`, write.catch(() => undefined));
      return within(write, { signal });
    },
    deregister: async (path: string, name: string, signal?: AbortSignal) => {
      await pending.get(`${path}/${name}`);
      return inner.deregister(path, name, signal);
    },
  });
  const source = new StaticSource();
  const outcomes: Array<{ key: ObjectKey; outcome: Outcome }> = [];
  const agent = new Agent({ source, registry, proxy: new MemoryProxy(), host: '127.0.0.1', health: healthy, onReconcile: (key, outcome) => outcomes.push({ key, outcome }) });
  cleanup.push(() => agent.stop());
  await agent.start();
  source.set('late-write.yaml', service('late-write', 'path: /services/late-write\nport: 8083'));
  await eventually(() => assert.ok(agent.status.get('service/late-write'), 'reconciling'));
  source.set('late-write.yaml', undefined);
  await eventually(() => assert.deepEqual(outcomes.map((o) => o.outcome), ['superseded', 'success']), { timeoutMs: SUPERSEDE_BOUND_MS });
  await eventually(() => assert.equal(landed, 1), { timeoutMs: 10_000 });
  await eventually(async () => assert.deepEqual(await registered('zookeeper', '/services/late-write'), []), { timeoutMs: 10_000 });
  assert.equal(agent.status.get('service/late-write'), undefined);
});
