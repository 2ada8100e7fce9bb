/**
 * Input that could desync or stall the data plane, against a real agent and HAProxy 2.6 (memory
 * registry): hostile-but-valid-looking registry entries leave no ghost server, a listen address in
 * use or claimed twice stays with its own Subscription, and an unrelated listener never drops a
 * connection meanwhile.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseShowProc, sendCommand } from '../src/haproxy/runtime-api.ts';
import { HostResolver } from '../src/net/host-resolver.ts';
import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import type { ObjectKey } from '../src/object-key.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { startDnsServer, type TestDnsServer } from './harness/dns-server.ts';
import { startTcpBackend, whoAnswers, type TestBackend } from './harness/backends.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';
import { service, StaticSource, subscription } from './harness/static-source.ts';
import { probeTraffic, type TrafficProbe } from './harness/traffic-probe.ts';

let dir: string;
let running: RunningAgent;
let steadyPort: number;
let probe: TrafficProbe;
let dns: TestDnsServer;
const backends: TestBackend[] = [];
const source = new StaticSource();
const registry = new MemoryRegistry();
const cond = (key: ObjectKey, type: string) => running.agent.status.get(key)?.conditions.find((c) => c.type === type);
const details = (key: ObjectKey) => running.agent.status.get(key)?.details ?? {};
// The master CLI is briefly away while the master re-executes for a reload.
const failedReloads = () => eventually(async () => parseShowProc(await sendCommand(join(dir, 'haproxy', 'master.sock'), 'show proc')).find((p) => p.type === 'master')?.failedReloads ?? 0);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-iso-'));
  backends.push(await startTcpBackend('steady'), await startTcpBackend('a'), await startTcpBackend('b'));
  steadyPort = await freePort();
  // Names resolve on a loopback DNS server: no query leaves 127.0.0.1.
  dns = await startDnsServer({ answers: {} });
  running = await startAgent({ manifestsDir: dir, registry, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir, 'haproxy'), source, resolver: new HostResolver({ lookup: dns.lookup }) });
  source.set('steady-svc.yaml', service('steady', `path: /services/steady\nport: ${backends[0]!.port}`));
  source.set('steady.yaml', subscription('steady', `service: /services/steady\nlisten: { port: ${steadyPort} }\ncheck: { type: none }`));
  await eventually(async () => assert.equal(await whoAnswers(steadyPort), 'steady'));
  probe = probeTraffic(steadyPort, { intervalMs: 20, maxMs: 120_000 });
});
after(async () => {
  await probe?.stop();
  await running?.stop();
  await dns?.close();
  await Promise.all(backends.map((b) => b.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('registry entries that look valid but HAProxy would refuse', () => {
  test('zone-scoped IPv6, IPv4-mapped IPv6, odd weights, unresolvable names: no ghost server, the same set everywhere', async () => {
    const [a, b] = [backends[1]!, backends[2]!];
    const path = '/services/hostile';
    registry.seed(path, 'zone', JSON.stringify({ host: 'fe80::1%lo', port: a.port }));
    registry.seed(path, 'mapped', JSON.stringify({ host: '::ffff:127.0.0.1', port: b.port }));
    registry.seed(path, 'plain', JSON.stringify({ host: '127.0.0.1', port: a.port, weight: 7 }));
    registry.seed(path, 'frac', JSON.stringify({ host: '127.0.0.2', port: a.port, weight: 1.5 }));
    registry.seed(path, 'neg', JSON.stringify({ host: '127.0.0.3', port: a.port, weight: -1 }));
    registry.seed(path, 'big', JSON.stringify({ host: '127.0.0.4', port: a.port, weight: 257 }));
    registry.seed(path, 'nowhere', JSON.stringify({ host: 'no-such-host.invalid', port: a.port }));
    const port = await freePort();
    source.set('hostile.yaml', subscription('hostile', `service: ${path}\nlisten: { port: ${port} }\ncheck: { type: none }`));
    const want = [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`].sort();
    await eventually(() => assert.deepEqual([...((details('subscription/hostile').backends as string[]) ?? [])].sort(), want), { timeoutMs: 15_000 });
    const rejected = (details('subscription/hostile').rejected as { key: string; reason: string }[]).map((r) => `${r.key} ${r.reason}`).join('\n');
    for (const why of [/zone-scoped/, /weight 1\.5/, /weight -1/, /weight 257/, /no-such-host\.invalid.*ENOTFOUND|resolving no-such-host/]) assert.match(rejected, why);
    const routed = (await running.proxy.status('hostile')).map((s) => s.address).sort();
    assert.deepEqual(routed, want, 'HAProxy routes to exactly what the status reports');
    const state = await sendCommand(join(dir, 'haproxy', 'admin.sock'), 'show servers state hostile');
    assert.doesNotMatch(state, /fe80|127\.0\.0\.[234] /, 'no ghost server in HAProxy');
    assert.equal(cond('subscription/hostile', 'ProxyConfigured')?.status, 'True');
    const weights = new Map((await running.proxy.status('hostile')).map((s) => [s.address, s.weight]));
    assert.equal(weights.get(`127.0.0.1:${a.port}`), 7);
  });
});

describe('listen addresses', () => {
  let holder: Server;
  after(() => new Promise<void>((r) => (holder ? holder.close(() => r()) : r())));

  test('an address held by another process: that Subscription alone is ProxyConfigured=False naming it; new Subscriptions still come up', async () => {
    const busy = await freePort();
    holder = createServer();
    await new Promise<void>((r) => holder.listen(busy, '127.0.0.1', r));
    const failedBefore = await failedReloads();
    source.set('busy.yaml', subscription('busy', `service: /services/steady\nlisten: { port: ${busy} }\ncheck: { type: none }`));
    await eventually(() => {
      const c = cond('subscription/busy', 'ProxyConfigured');
      assert.equal(c?.status, 'False');
      assert.equal(c?.reason, 'ListenAddressInUse');
      assert.match(c?.message ?? '', new RegExp(`127\\.0\\.0\\.1:${busy}.*another process`));
    }, { timeoutMs: 15_000 });
    const fresh = await freePort();
    source.set('fresh.yaml', subscription('fresh', `service: /services/steady\nlisten: { port: ${fresh} }\ncheck: { type: none }`));
    await eventually(async () => assert.equal(await whoAnswers(fresh), 'steady'), { timeoutMs: 15_000, message: 'a new Subscription comes up' });
    assert.equal(await failedReloads(), failedBefore, 'no reload was tried that could fail');
    assert.equal(probe.counts().failed, 0, probe.counts().errors.join('\n'));
  });

  test('two Subscriptions on one address:port: the later is invalid with a located error naming the earlier, which keeps serving', async () => {
    const port = await freePort();
    source.set('dup-a.yaml', subscription('dup-a', `service: /services/steady\nlisten: { port: ${port} }\ncheck: { type: none }`));
    await eventually(async () => assert.equal(await whoAnswers(port), 'steady'), { timeoutMs: 15_000 });
    source.set('dup-b.yaml', subscription('dup-b', `service: /services/hostile\nlisten: { port: ${port} }\ncheck: { type: none }`));
    await eventually(() => {
      const c = cond('subscription/dup-b', 'ProxyConfigured');
      assert.equal(c?.reason, 'DuplicateListen');
      assert.match(c?.message ?? '', new RegExp(`dup-b\\.yaml:\\d+:\\d+ spec\\.listen: 127\\.0\\.0\\.1:${port} is already the listen address of subscription/dup-a \\(dup-a\\.yaml:\\d+:\\d+\\)`));
    }, { timeoutMs: 15_000 });
    for (let i = 0; i < 10; i++) assert.equal(await whoAnswers(port), 'steady', 'the earlier keeps every connection');
    // The earlier goes away: the later takes the address.
    source.set('dup-a.yaml', undefined);
    await eventually(() => assert.equal(cond('subscription/dup-b', 'ProxyConfigured')?.status, 'True'), { timeoutMs: 15_000 });
    assert.equal(probe.counts().failed, 0, probe.counts().errors.join('\n'));
    assert.ok(probe.counts().ok > 10, 'probe.counts().ok > 10');
  });
});
