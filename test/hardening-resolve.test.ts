/**
 * Registry hostnames are untrusted: names that do not resolve, or whose resolver never answers,
 * cost rejected entries and a bounded wait, never a stalled Subscription. A real agent and HAProxy
 * resolve through a DNS server on a loopback port (no query leaves 127.0.0.1).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { HostResolver } from '../src/net/host-resolver.ts';
import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import type { ObjectKey } from '../src/object-key.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { startDnsServer, type TestDnsServer } from './harness/dns-server.ts';
import { startTcpBackend, whoAnswers, type TestBackend } from './harness/backends.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';
import { StaticSource, subscription } from './harness/static-source.ts';

const SLOW = 40;
const TIMEOUT_MS = 1000;
let dir: string;
let dns: TestDnsServer;
let running: RunningAgent;
const backends: TestBackend[] = [];
const source = new StaticSource();
const registry = new MemoryRegistry();
const details = (key: ObjectKey) => running.agent.status.get(key)?.details ?? {};
const reconciles = async () => {
  const text = (await running.metrics.render()).body;
  return [...text.matchAll(/^dockstack_reconcile_duration_seconds_count\{kind="subscription"[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-resolve-'));
  dns = await startDnsServer({ answers: { 'good.test': '127.0.0.1' }, silent: /\.slow\.invalid$/ });
  backends.push(await startTcpBackend('steady'), await startTcpBackend('named'), await startTcpBackend('literal'));
  running = await startAgent({
    manifestsDir: dir, registry, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir, 'haproxy'), source,
    resolver: new HostResolver({ lookup: dns.lookup, timeoutMs: TIMEOUT_MS, concurrency: 2 }),
  });
  registry.seed('/services/steady', 'steady', JSON.stringify({ host: '127.0.0.1', port: backends[0]!.port }));
  const steadyPort = await freePort();
  source.set('steady.yaml', subscription('steady', `service: /services/steady\nlisten: { port: ${steadyPort} }\ncheck: { type: none }`));
  await eventually(async () => assert.equal(await whoAnswers(steadyPort), 'steady'), { timeoutMs: 20_000 });
});
after(async () => {
  await running?.stop();
  await dns?.close();
  await Promise.all(backends.map((b) => b.close()));
  await rm(dir, { recursive: true, force: true });
});

test(`${SLOW} names whose resolver never answers and one that does not exist: rejected with reasons within the timeout, the rest routes`, async () => {
  const path = '/services/mixed';
  registry.seed(path, 'named', JSON.stringify({ host: 'good.test', port: backends[1]!.port }));
  registry.seed(path, 'literal', JSON.stringify({ host: '127.0.0.1', port: backends[2]!.port }));
  // Names are resolved in address order: these two get the slots before the silent ones take them.
  registry.seed(path, 'nowhere', JSON.stringify({ host: 'a-nowhere.invalid', port: 1 }));
  for (let i = 0; i < SLOW; i++) registry.seed(path, `slow${i}`, JSON.stringify({ host: `n${i}.slow.invalid`, port: 1 }));
  const port = await freePort();
  source.set('mixed.yaml', subscription('mixed', `service: ${path}\nlisten: { port: ${port} }\ncheck: { type: none }`));
  const want = [`127.0.0.1:${backends[1]!.port}`, `127.0.0.1:${backends[2]!.port}`].sort();
  // Without a timeout the first reconcile waits out c-ares' own 30 s for each silent name.
  await eventually(() => assert.deepEqual([...((details('subscription/mixed').backends as string[]) ?? [])].sort(), want), { timeoutMs: 10_000 });
  const rejected = new Map((details('subscription/mixed').rejected as { key: string; reason: string }[]).map((r) => [r.key, r.reason]));
  assert.equal(rejected.get('a-nowhere.invalid:1'), 'resolving a-nowhere.invalid: ENOTFOUND');
  for (let i = 0; i < SLOW; i++) assert.equal(rejected.get(`n${i}.slow.invalid:1`), `resolving n${i}.slow.invalid: no answer within ${TIMEOUT_MS} ms`);
  assert.equal(rejected.size, SLOW + 1);
  assert.deepEqual((await running.proxy.status('mixed')).map((s) => s.address).sort(), want, 'HAProxy routes to exactly what the status reports');
  const slowAsked = new Set(dns.asked.filter((n) => n.endsWith('.slow.invalid')));
  assert.ok(slowAsked.size <= 2, `at most 2 lookups in flight, saw ${slowAsked.size} silent names asked`);

  // The two hung lookups still hold both slots: a resync cannot ask for good.test again in time,
  // and its last answer is kept rather than dropping a backend over a slow resolver.
  const before = await reconciles();
  running.agent.resync();
  await eventually(async () => assert.ok((await reconciles()) >= before + 2, '(await reconciles()) >= before + 2'), { timeoutMs: 10_000 });
  assert.deepEqual([...(details('subscription/mixed').backends as string[])].sort(), want);
  assert.equal(await whoAnswers(port).then(() => 'ok'), 'ok');
});
