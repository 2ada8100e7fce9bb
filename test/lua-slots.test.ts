/** dockstack.lua's `dockstack slot` against the real HAProxy 2.6: used for config slots, every answer checked, hostile input refused. */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HaproxyProxy } from '../src/haproxy/haproxy-proxy.ts';
import { answerOk, runAdminBatch, sendCommand } from '../src/haproxy/runtime-api.ts';
import { parseServersState } from '../src/haproxy/runtime-repair.ts';
import { SubscriptionSpec } from '../src/manifest/schema.ts';
import { listenerSpecOf } from '../src/reconcile/listener-spec.ts';
import { answering, startTcpBackend, type TestBackend } from './harness/backends.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';

const spec = (port: number) => listenerSpecOf(SubscriptionSpec.parse({ service: '/services/x', listen: { port }, check: { type: 'tcp', interMs: 100, rise: 1, fall: 1 } }));

describe('dockstack.lua slot command', () => {
  let dir: string;
  let proxy: HaproxyProxy;
  const backends: TestBackend[] = [];
  const admin = () => join(dir, 'admin.sock');
  const state = async (name: string) => parseServersState(await sendCommand(admin(), `show servers state ${name}`), name);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ds-lua-'));
    proxy = new HaproxyProxy({ dir, reloadDebounceMs: 20, minReloadIntervalMs: 50, drainTimeoutMs: 60_000 });
    await proxy.start();
    assert.equal((await sendCommand(admin(), 'dockstack version')).trim(), 'dockstack 1', 'HAProxy here is built with Lua and loaded the file');
  });
  after(async () => {
    await proxy?.close();
    await Promise.all(backends.map((b) => b.close()));
    await rm(dir, { recursive: true, force: true });
  });

  test('a config slot edit is one command; HAProxy holds what the model says and routes to it', async () => {
    const [a, b, c] = await Promise.all(['la', 'lb', 'lc'].map((n) => startTcpBackend(n)));
    backends.push(a!, b!, c!);
    const port = await freePort();
    await proxy.apply('lua', spec(port), [{ host: '127.0.0.1', port: a!.port }, { host: '127.0.0.1', port: b!.port }]);
    const r = await proxy.update('lua', { set: [{ host: '127.0.0.1', port: c!.port, weight: 7 }], removed: [{ host: '127.0.0.1', port: a!.port }] });
    assert.deepEqual([r.reloaded, r.runtimeOps], [false, 2], 'one command to drain a, one to fill c (natively: 1 + 4)');
    const slots = (await state('lua')).filter((s) => s && s.admin !== 'maint');
    assert.deepEqual(
      slots.map((s) => `${s!.ip}:${s!.port} ${s!.weight} ${s!.admin}`).sort(),
      [`127.0.0.1:${a!.port} 1 drain`, `127.0.0.1:${b!.port} 1 ready`, `127.0.0.1:${c!.port} 7 ready`].sort(),
    );
    await eventually(async () => assert.deepEqual([...(await answering(port, 12))].sort(), ['lb', 'lc']), { message: 'b and c answer, a no longer' });
    const st = await proxy.status('lua');
    assert.equal(st.find((s) => s.address === `127.0.0.1:${c!.port}`)?.state, 'up', 'its check was enabled');
  });

  test('hostile or malformed commands are refused with a reason and change nothing', async () => {
    const port = await freePort();
    await proxy.apply('luah', spec(port), [{ host: '10.79.0.1', port: 9000 }]);
    const before = await state('luah');
    const bad = [
      'dockstack slot luah/s2 fe80::1%lo 80 1 ready on',
      'dockstack slot luah/s2 db.example 80 1 ready on',
      'dockstack slot luah/s2 10.0.0.1 +80 1 ready on',
      'dockstack slot luah/s2 10.0.0.1 65536 1 ready on',
      'dockstack slot luah/s2 10.0.0.1 80 257 ready on',
      'dockstack slot luah/s2 10.0.0.1 80 1 up on',
      'dockstack slot luah/s2 10.0.0.1 80 1 ready on extra',
      'dockstack slot luah/s2 10.0.0.1',
      'dockstack slot luah/s99 10.0.0.1 80 1 ready on',
      'dockstack slot nope/s1 10.0.0.1 80 1 ready on',
    ];
    const refused = await runAdminBatch(admin(), bad);
    assert.deepEqual(refused.map((r) => r.command), bad, 'every one refused');
    for (const r of refused) assert.match(r.answer, /^(Usage|Invalid|Too many|No such)/, r.answer);
    assert.deepEqual(await state('luah'), before, 'nothing changed (address, port, weight, state)');
    assert.equal(answerOk('dockstack slot luah/s1 - - - maint -', ''), false, 'an empty answer (a Lua error) is a refusal');
  });

  test('config servers cannot be deleted behind the table: no command can reach a freed server', async () => {
    const port = await freePort();
    await proxy.apply('luad', spec(port), [{ host: '10.79.0.2', port: 9000 }]);
    await sendCommand(admin(), 'set server luad/s8 state maint');
    assert.match(await sendCommand(admin(), 'del server luad/s8'), /cannot be removed/);
    assert.deepEqual(await runAdminBatch(admin(), ['dockstack slot luad/s8 10.79.0.3 9000 2 maint -']), []);
    assert.equal((await state('luad'))[7]?.ip, '10.79.0.3');
  });
});

describe('dockstack.lua unavailable', () => {
  test('the proxy starts without lua-load, warns once, serves, and edits slots with native commands', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ds-nolua-'));
    await mkdir(join(dir, 'dockstack.lua')); // a directory there: the file cannot be written
    const events: { type: string; message: string }[] = [];
    const proxy = new HaproxyProxy({ dir, reloadDebounceMs: 20, minReloadIntervalMs: 50, drainTimeoutMs: 60_000, onEvent: (e) => events.push(e) });
    const backends = await Promise.all(['na', 'nb', 'nc'].map((n) => startTcpBackend(n)));
    const [a, b, c] = backends;
    try {
      await proxy.start();
      assert.deepEqual(events.map((e) => e.type), ['lua-unavailable']);
      assert.match(events[0]!.message, /dockstack\.lua/);
      assert.doesNotMatch(await readFile(join(dir, 'haproxy.cfg'), 'utf8'), /lua-load/);
      assert.notEqual((await sendCommand(join(dir, 'admin.sock'), 'dockstack version')).trim(), 'dockstack 1');
      const port = await freePort();
      await proxy.apply('nolua', spec(port), [{ host: '127.0.0.1', port: a!.port }, { host: '127.0.0.1', port: b!.port }]);
      await eventually(async () => assert.deepEqual([...(await answering(port, 12))].sort(), ['na', 'nb']), { message: 'a and b answer' });
      const r = await proxy.update('nolua', { set: [{ host: '127.0.0.1', port: c!.port, weight: 7 }], removed: [{ host: '127.0.0.1', port: a!.port }] });
      assert.deepEqual([r.reloaded, r.runtimeOps], [false, 5], 'native commands: 1 to drain a, 4 to fill c');
      await eventually(async () => assert.deepEqual([...(await answering(port, 12))].sort(), ['nb', 'nc']), { message: 'b and c answer, a no longer' });
      assert.equal(events.filter((e) => e.type === 'lua-unavailable').length, 1, 'one warning');
    } finally {
      await proxy.close();
      await Promise.all(backends.map((x) => x.close()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
