/**
 * One etcd path filled by someone else must not take the others down. On a real etcd: 80 entries
 * of 60 KB under one path (4.8 MB, over gRPC's 4 MiB receive limit) used to fail its listing, and
 * the retries opened etcd3's circuit breaker for every other path. Now pages are read within the
 * limit, each path has an entry and a byte budget (the excess is rejected with a reason), and a
 * normal Subscription beside it keeps routing through a real HAProxy.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRegistry } from '../src/registry/create-registry.ts';
import type { ObjectKey } from '../src/object-key.ts';
import type { Registry } from '../src/registry/registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { startTcpBackend, whoAnswers, type TestBackend } from './harness/backends.ts';
import { startEtcd, type EtcdServer } from './harness/etcd.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';
import { rawEtcd, type RawRegistry } from './harness/raw-registry.ts';
import { StaticSource, subscription } from './harness/static-source.ts';

const HUGE = 80;
const PAD = 'x'.repeat(60_000);
let etcd: EtcdServer;
let raw: RawRegistry;
let backend: TestBackend;
const hugeEntry = (i: number) => JSON.stringify({ host: '127.0.0.1', port: 20_000 + i, pad: PAD });

before(async () => {
  etcd = await startEtcd();
  raw = rawEtcd(etcd.endpoint);
  backend = await startTcpBackend('steady');
  for (let i = 0; i < HUGE; i++) await raw.write('/services/huge', `h${String(i).padStart(2, '0')}`, hugeEntry(i));
  await raw.write('/services/steady', 'a', JSON.stringify({ host: '127.0.0.1', port: backend.port }));
  for (let i = 0; i < 150; i++) await raw.write('/services/many', `m${String(i).padStart(3, '0')}`, JSON.stringify({ host: '127.0.0.1', port: 30_000 + i }));
});
after(async () => {
  await raw?.close();
  await backend?.close();
  await etcd?.stop();
});

describe('listing', () => {
  let reg: Registry;
  before(async () => (reg = await createRegistry({ url: `etcd://${etcd.endpoint}`, opTimeoutMs: 10_000 })));
  after(() => reg?.close());

  test(`a ${HUGE} × 60 KB path is read in pages under the receive limit, again and again; other paths list meanwhile and the registry stays connected`, async () => {
    for (let round = 0; round < 4; round++) {
      const [huge, steady] = await Promise.all([reg.list('/services/huge'), reg.list('/services/steady')]);
      assert.equal(huge.instances.length, HUGE);
      assert.deepEqual(huge.rejected, []);
      assert.deepEqual(steady.instances.map((i) => i.port), [backend.port]);
    }
    assert.equal(reg.state(), 'connected');
  });
});

describe('per-path limits, with a real agent and HAProxy', () => {
  let dir: string;
  let running: RunningAgent;
  const source = new StaticSource();
  const syncedFalse: string[] = [];
  const MAX_BYTES = 2 * 1024 * 1024;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ds-etcd-limits-'));
    running = await startAgent({
      manifestsDir: dir, source, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir, 'haproxy'), resyncMs: 300,
      registry: { url: `etcd://${etcd.endpoint}`, etcdPathLimits: { maxBytes: MAX_BYTES, maxEntries: 100 } },
    });
    running.agent.status.subscribe((key) => {
      const c = running.agent.status.condition(key, 'Synced');
      if (key === 'subscription/steady' && c?.status === 'False') syncedFalse.push(c.message);
    });
  });
  after(async () => {
    await running?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the excess of a huge path is rejected with its reason; the normal Subscription keeps routing through every resync', async () => {
    const steadyPort = await freePort();
    source.set('steady.yaml', subscription('steady', `service: /services/steady\nlisten: { port: ${steadyPort} }\ncheck: { type: none }`));
    source.set('huge.yaml', subscription('huge', `service: /services/huge\nlisten: { port: ${await freePort()} }\ncheck: { type: none }`));
    source.set('many.yaml', subscription('many', `service: /services/many\nlisten: { port: ${await freePort()} }\ncheck: { type: none }`));
    const details = (k: ObjectKey) => running.agent.status.get(k)?.details ?? {};
    const rejected = (k: ObjectKey) => (details(k).rejected as { key: string; reason: string }[] | undefined) ?? [];
    await eventually(() => assert.ok(((details('subscription/huge').backends as string[] | undefined) ?? []).length > 0, "((details('subscription/huge').backends as string[] | undefined) ?? []).length > 0"), { timeoutMs: 30_000 });
    const admitted = (details('subscription/huge').backends as string[]).length;
    // Each entry is its key (~25 bytes) and ~60 KB of value: 34 of them fit in 2 MiB.
    assert.equal(admitted, Math.floor(MAX_BYTES / (hugeEntry(0).length + '/dockstack/services/huge/h00'.length)));
    assert.equal(rejected('subscription/huge').length, HUGE - admitted);
    for (const r of rejected('subscription/huge')) assert.match(r.reason, /^over the 2097152-byte limit of a path \(the entries before it in key order fill it\)$/);
    assert.equal((await running.proxy.status('huge')).length, admitted, 'HAProxy holds exactly the admitted entries');
    await eventually(() => assert.deepEqual(rejected('subscription/many'), [{ key: '/services/many/*', reason: '50 more entries past the 100-entry limit of a path are not read' }]), { timeoutMs: 20_000 });
    assert.equal((details('subscription/many').backends as string[]).length, 100);

    // New entries arriving by the watch count against the same budget.
    await raw.write('/services/huge', 'zz', hugeEntry(99));
    await eventually(() => assert.ok(rejected('subscription/huge').some((r) => r.key === '/services/huge/zz' && /byte limit/.test(r.reason)), "rejected('subscription/huge').some((r) => r.key === '/services/huge/zz' && /byte li..."), { timeoutMs: 20_000 });

    const reconciles = async () => Number(/dockstack_reconcile_duration_seconds_count\{kind="subscription",outcome="success"\} (\d+)/.exec((await running.metrics.render()).body)?.[1] ?? 0);
    const seen = await reconciles();
    await eventually(async () => assert.ok((await reconciles()) >= seen + 15, '(await reconciles()) >= seen + 15'), { timeoutMs: 30_000 });
    assert.equal(await whoAnswers(steadyPort), 'steady');
    assert.deepEqual(syncedFalse, [], 'the normal Subscription never lost its listing');
    assert.equal(running.registry.state(), 'connected');
  });
});
