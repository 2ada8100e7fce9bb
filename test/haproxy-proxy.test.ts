/** HaproxyProxy against the real HAProxy 2.6: runtime membership, drains, slot growth, reloads, status. */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HaproxyProxy } from '../src/haproxy/haproxy-proxy.ts';
import type { Endpoint as BackendServer, ReloadReason } from '../src/proxy/proxy.ts';
import { sendCommand, parseShowProc } from '../src/haproxy/runtime-api.ts';
import { SubscriptionSpec } from '../src/manifest/schema.ts';
import { listenerSpecOf } from '../src/reconcile/listener-spec.ts';
import { answering, connectThrough, startHttpBackend, startTcpBackend, whoAnswers, type TestBackend } from './harness/backends.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';

const spec = (port: number, over: Record<string, unknown> = {}) =>
  listenerSpecOf(SubscriptionSpec.parse({ service: '/services/x', listen: { port }, check: { type: 'tcp', interMs: 100, rise: 1, fall: 1 }, ...over }));
const srv = (...bs: TestBackend[]): BackendServer[] => bs.map((b) => ({ host: '127.0.0.1', port: b.port }));
const sameSet = (a: Set<string>, b: string[]) => assert.deepEqual([...a].sort(), [...b].sort());

describe('HaproxyProxy (runtime updates)', () => {
  let dir: string;
  let proxy: HaproxyProxy;
  const reloads: ReloadReason[][] = [];
  const backends: TestBackend[] = [];
  const backend = async (name: string) => {
    const b = await startTcpBackend(name);
    backends.push(b);
    return b;
  };
  const masterReloads = async () => parseShowProc(await sendCommand(join(dir, 'master.sock'), 'show proc')).find((p) => p.type === 'master')?.reloads;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ds-hap-'));
    proxy = new HaproxyProxy({ dir, reloadDebounceMs: 20, minReloadIntervalMs: 50, drainTimeoutMs: 60_000, onReload: (r) => reloads.push([...r]) });
    await proxy.start();
  });
  after(async () => {
    await proxy?.close();
    await Promise.all(backends.map((b) => b.close()));
    await rm(dir, { recursive: true, force: true });
  });

  test('starts with no listeners', async () => {
    assert.ok(proxy.masterPid, 'proxy.masterPid');
    assert.equal(await masterReloads(), 0);
    assert.deepEqual(await proxy.status('web'), []);
  });

  test('membership changes are runtime edits; drains keep open connections; new connections reach the new set', async () => {
    const [a, b, c] = [await backend('a'), await backend('b'), await backend('c')];
    const port = await freePort();
    const first = await proxy.apply('web', spec(port), srv(a, b));
    assert.equal(first.reloaded, true);
    assert.deepEqual(first.reasons, [{ cause: 'listener-added', listener: 'web' }]);
    await eventually(async () => sameSet(await answering(port, 6), ['a', 'b']), { message: 'round robin over a and b' });

    const held = await connectThrough(port);
    const drained = held.backend === 'a' ? a : b;
    const kept = drained === a ? b : a;
    const reloadsBefore = await masterReloads();
    const second = await proxy.apply('web', spec(port), srv(kept, c));
    assert.equal(second.reloaded, false);
    assert.ok(second.runtimeOps > 0, 'second.runtimeOps > 0');
    assert.equal(await masterReloads(), reloadsBefore, 'no HAProxy reload');
    assert.equal(reloads.length, 1);
    await eventually(async () => sameSet(await answering(port, 6), [kept.name, 'c']), { message: 'new set answers' });
    assert.equal(await held.echo('still-here'), 'still-here', 'the drained connection stays up');
    assert.equal(drained.open(), 1);

    const st = await proxy.status('web');
    const byAddr = new Map(st.map((s) => [s.address, s.state]));
    assert.equal(byAddr.get(`127.0.0.1:${drained.port}`), 'draining');
    assert.equal(st.length, 3, 'only live slots are reported');
    held.close();
    await eventually(async () => assert.equal((await proxy.status('web')).length, 2), { message: 'drained slot freed once idle' });
  });

  test('growth past the slot pool adds dynamic servers: no reload, no new worker; shrinking deletes them', async () => {
    const port = await freePort();
    const many = await Promise.all(Array.from({ length: 12 }, (_, i) => backend(`g${i}`)));
    await proxy.apply('grow', spec(port), srv(...many.slice(0, 8)));
    const held = await eventually(() => connectThrough(port));
    const before = proxy.reloadCount;
    const worker = async () => parseShowProc(await sendCommand(join(dir, 'master.sock'), 'show proc')).find((p) => p.type === 'worker')?.pid;
    const pid = await worker();
    for (let n = 9; n <= 12; n++) {
      const r = await proxy.apply('grow', spec(port), srv(...many.slice(0, n)));
      assert.equal(r.reloaded, false);
    }
    assert.equal(proxy.reloadCount, before, 'no reload');
    assert.equal(await worker(), pid, 'the same worker serves');
    const servers = await sendCommand(join(dir, 'admin.sock'), 'show servers state grow');
    assert.match(servers, / s12 127\.0\.0\.1 /, 'dynamic server s12 exists');
    await eventually(async () => assert.ok((await answering(port, 30)).has('g11'), "(await answering(port, 30)).has('g11')"), { message: 'the twelfth server answers' });
    assert.equal(await held.echo('still-here'), 'still-here');
    // Shrink: the dynamic servers drain, then are deleted (nobody is connected to them).
    await proxy.apply('grow', spec(port), srv(...many.slice(0, 8)));
    await eventually(async () => assert.doesNotMatch(await sendCommand(join(dir, 'admin.sock'), 'show servers state grow'), / s(9|1[0-2]) /), { message: 'dynamic servers deleted' });
    assert.equal((await proxy.status('grow')).length, 8);
    assert.equal(proxy.reloadCount, before, 'still no reload');
    held.close();
  });

  test('a refused runtime command (state changed behind its back) is seen per command and converged from show servers state, without a reload', async () => {
    const port = await freePort();
    const fake = (n: number, w = 1): BackendServer[] => Array.from({ length: n }, (_, i) => ({ host: `10.77.0.${i + 1}`, port: 9000, weight: i === n - 1 ? w : 1 }));
    await proxy.apply('div', spec(port), fake(8));
    await proxy.apply('div', spec(port), fake(10));
    const admin = join(dir, 'admin.sock');
    // Someone else deletes dynamic server s10 and repoints s3; the agent's next edit of s10 is refused ("No such server").
    assert.match(await sendCommand(admin, 'set server div/s10 state maint'), /^\s*$/);
    assert.match(await sendCommand(admin, 'del server div/s10'), /Server deleted/);
    assert.match(await sendCommand(admin, 'set server div/s3 addr 10.99.0.1 port 1'), /changed/);
    const before = proxy.reloadCount;
    const r = await proxy.apply('div', spec(port), fake(10, 5));
    assert.equal(r.reloaded, false);
    assert.equal(proxy.reloadCount, before, 'no reload');
    const st = await proxy.status('div');
    assert.deepEqual(st.filter((x) => x.state !== 'draining').map((x) => x.address).sort(), fake(10).map((e) => `${e.host}:9000`).sort(), 'HAProxy routes to exactly the wanted set again');
    assert.ok(!st.some((x) => x.address === '10.99.0.1:1' && x.state !== 'draining'), 'the repointed server takes no new traffic');
    assert.equal(st.find((x) => x.address === '10.77.0.10:9000')?.weight, 5);
    const again = await proxy.apply('div', spec(port), fake(10, 5));
    assert.deepEqual([again.reloaded, again.runtimeOps], [false, 0], 'converged: nothing left to do');
  });

  test('when the real state cannot be converged through the runtime API either, a forced reload does it', async () => {
    // Without dockstack.lua: a config server Lua has touched cannot be deleted at all (lua-slots.test.ts).
    const nativeDir = await mkdtemp(join(tmpdir(), 'ds-hap-native-'));
    const proxy = new HaproxyProxy({ dir: nativeDir, updates: 'native', reloadDebounceMs: 20, minReloadIntervalMs: 50 });
    await proxy.start();
    try {
      const port = await freePort();
      const fake = (n: number, w = 1): BackendServer[] => Array.from({ length: n }, (_, i) => ({ host: `10.78.0.${i + 1}`, port: 9000, weight: i === n - 1 ? w : 1 }));
      await proxy.apply('div2', spec(port), fake(10));
      const admin = join(nativeDir, 'admin.sock');
      // Someone else deletes s10, a config slot (10 servers at once: 10 config slots): only a reload brings it back.
      await sendCommand(admin, 'set server div2/s10 state maint');
      assert.match(await sendCommand(admin, 'del server div2/s10'), /Server deleted/);
      const before = proxy.reloadCount;
      const r = await proxy.apply('div2', spec(port), fake(10, 5));
      assert.equal(r.reloaded, true);
      assert.ok(r.reasons.some((x) => x.cause === 'runtime-diverged' && x.listener === 'div2'), JSON.stringify(r.reasons));
      assert.equal(proxy.reloadCount, before + 1);
      const st = await proxy.status('div2');
      assert.deepEqual(st.map((x) => x.address).sort(), fake(10).map((e) => `${e.host}:9000`).sort(), 'HAProxy has exactly the wanted set again');
      assert.equal(st.find((x) => x.address === '10.78.0.10:9000')?.weight, 5);
    } finally {
      await proxy.close();
      await rm(nativeDir, { recursive: true, force: true });
    }
  });

  test('a spec change (port) reloads and moves the listener', async () => {
    const a = await backend('p');
    const [p1, p2] = [await freePort(), await freePort()];
    await proxy.apply('moving', spec(p1), srv(a));
    await eventually(async () => assert.equal(await whoAnswers(p1), 'p'));
    const r = await proxy.apply('moving', spec(p2), srv(a));
    assert.equal(r.reloaded, true);
    assert.deepEqual(r.reasons, [{ cause: 'listener-changed', listener: 'moving' }]);
    await eventually(async () => assert.equal(await whoAnswers(p2), 'p'));
    await eventually(() => assert.rejects(whoAnswers(p1)), { message: 'old port closed' });
  });

  test('a burst of applies leads to one reload', async () => {
    const a = await backend('burst');
    const ports = await Promise.all([1, 2, 3, 4, 5].map(() => freePort()));
    const before = proxy.reloadCount;
    const results = await Promise.all(ports.map((p, i) => proxy.apply(`burst-${i}`, spec(p), srv(a))));
    assert.equal(proxy.reloadCount, before + 1);
    assert.ok(results.every((r) => r.reloaded && r.reasons.length === 5), JSON.stringify(results));
    for (const p of ports) await eventually(async () => assert.equal(await whoAnswers(p), 'burst'));
  });

  test('status() reports UP and DOWN from real checks, and maintenance', async () => {
    const live = await backend('live');
    const deadPort = await freePort();
    const port = await freePort();
    await proxy.apply('checked', spec(port), [...srv(live), { host: '127.0.0.1', port: deadPort }]);
    await eventually(async () => {
      const st = new Map((await proxy.status('checked')).map((s) => [s.address, s]));
      assert.equal(st.get(`127.0.0.1:${live.port}`)?.state, 'up');
      assert.equal(st.get(`127.0.0.1:${deadPort}`)?.state, 'down');
      assert.match(st.get(`127.0.0.1:${deadPort}`)?.detail ?? '', /L4CON/);
      assert.equal(st.get(`127.0.0.1:${live.port}`)?.weight, 1);
    });
    const r = await proxy.apply('checked', spec(port), [{ host: '127.0.0.1', port: live.port, maintenance: true, weight: 7 }]);
    assert.equal(r.reloaded, false);
    const st = (await proxy.status('checked')).find((s) => s.address === `127.0.0.1:${live.port}`);
    assert.equal(st?.state, 'maintenance');
    assert.equal(st?.weight, 7);
  });

  test('http mode with an http check routes requests and reports L7 check results', async () => {
    const h = await startHttpBackend('http-a');
    backends.push(h);
    const port = await freePort();
    const s = spec(port, { mode: 'http', check: { type: 'http', path: '/health', hostHeader: 'svc.local', interMs: 100, rise: 1, fall: 1 } });
    await proxy.apply('web-http', s, srv(h));
    await eventually(async () => {
      const res = await fetch(`http://127.0.0.1:${port}/`);
      assert.equal(await res.text(), 'http-a');
    });
    await eventually(async () => assert.match((await proxy.status('web-http'))[0]?.detail ?? '', /L7OK/));
  });

  test('remove() drops the listener with one reload', async () => {
    const a = await backend('gone');
    const port = await freePort();
    await proxy.apply('gone', spec(port), srv(a));
    await eventually(async () => assert.equal(await whoAnswers(port), 'gone'));
    const before = proxy.reloadCount;
    await proxy.remove('gone');
    assert.equal(proxy.reloadCount, before + 1);
    assert.deepEqual(await proxy.status('gone'), []);
    await eventually(() => assert.rejects(whoAnswers(port)));
    await proxy.remove('gone');
    assert.equal(proxy.reloadCount, before + 1, 'removing an absent listener is a no-op');
  });
});
