/**
 * The agent process itself SIGKILLed (the real binary, against a real ZooKeeper): HAProxy, detached,
 * keeps serving while no agent runs; the next agent adopts it (same master, no duplicate process),
 * removes its crashed predecessor's registrations and registers once, with no orphan left after the
 * old session expires. Client traffic is counted throughout. A final SIGTERM deregisters and stops.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseShowProc, sendCommand } from '../src/haproxy/runtime-api.ts';
import { answering, startTcpBackend, type TestBackend } from './harness/backends.ts';
import { BIN } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';
import { rawZooKeeper, type RawRegistry } from './harness/raw-registry.ts';
import { killProcess } from './harness/process.ts';
import { service, subscription } from './harness/static-source.ts';
import { probeTraffic } from './harness/traffic-probe.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';
import { instanceIdFor } from '../src/reconcile/instance-id.ts';

const PATH = '/services/ar';
const SESSION_MS = 4000;

describe('agent SIGKILL and restart', () => {
  let zk: ZooKeeperServer;
  let raw: RawRegistry;
  let dir: { path: string; cleanup: () => Promise<void> };
  let port: number;
  let a: TestBackend, b: TestBackend;
  const agents: ChildProcess[] = [];
  let probe: ReturnType<typeof probeTraffic> | undefined;
  const hdir = () => join(dir.path, 'haproxy');
  const pidFile = async () => Number((await readFile(join(hdir(), 'haproxy.pid'), 'utf8')).trim());
  const names = async () => [...(await raw.read(PATH)).keys()].map((k) => k.replace(/_\d{10}$/, '')).sort();
  const routes = async () => assert.deepEqual([...(await answering(port, 6))].sort(), ['a', 'b']);

  const runAgent = (): ChildProcess => {
    const args = ['agent', '--manifests', join(dir.path, 'manifests'), '--registry', `zk://127.0.0.1:${zk.port}`, '--haproxy-dir', hdir(),
      '--status-addr', '127.0.0.1:0', '--session-timeout', String(SESSION_MS), '--resync', '1000', '--log-level', 'warn'];
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr?.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
    child.on('exit', (code, sig) => (log += `\n[exited ${sig ?? code}]`));
    Object.defineProperty(child, 'log', { get: () => log });
    agents.push(child);
    return child;
  };

  before(async () => {
    zk = await startZooKeeper();
    raw = await rawZooKeeper(zk.connectString);
    dir = await tempDir('ds-faults-agent');
    await mkdir(join(dir.path, 'manifests'));
    [a, b] = [await startTcpBackend('a'), await startTcpBackend('b')];
    port = await freePort();
    await writeFile(join(dir.path, 'manifests', 'a.yaml'), service('ar-a', `path: ${PATH}\nport: ${a.port}`));
    await writeFile(join(dir.path, 'manifests', 'b.yaml'), service('ar-b', `path: ${PATH}\nport: ${b.port}`));
    await writeFile(join(dir.path, 'manifests', 'sub.yaml'), subscription('ar', `service: ${PATH}\nlisten: { port: ${port} }\ncheck: { type: none }`));
  });

  after(async () => {
    // A failed assertion leaves the probe running: its loop would hold the file open until its bound.
    await probe?.stop();
    for (const c of agents) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    // A HAProxy left by a failed run: stop it by its pid file, never by name.
    const pid = await pidFile().catch(() => undefined);
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await raw?.close();
    await Promise.all([a, b].map((x) => x?.close()));
    await zk?.stop();
    await dir?.cleanup();
  });

  test('SIGKILL: HAProxy keeps serving, the next agent adopts it and registers exactly once', async (t) => {
    const first = runAgent();
    await eventually(async () => assert.deepEqual(await names(), [instanceIdFor('127.0.0.1', 'ar-a'), instanceIdFor('127.0.0.1', 'ar-b')]), { timeoutMs: 30_000, message: `first agent registered (log: ${(first as unknown as { log: string }).log})` });
    await eventually(routes, { timeoutMs: 20_000 });
    const master = await pidFile();
    const before = [...(await raw.read(PATH)).keys()];
    probe = probeTraffic(port, { intervalMs: 20 });
    const t0 = Date.now();
    first.kill('SIGKILL');
    await new Promise<void>((r) => (first.exitCode !== null || first.signalCode !== null ? r() : first.once('exit', () => r())));
    // No agent now: the listener is HAProxy's alone.
    await routes();

    const second = runAgent();
    // Observe the registry until past the old session's expiry: never zero entries for an instance
    // (the successor creates its node before deleting the predecessor's: make before break, so two
    // may be seen for a moment), the predecessor's entries replaced (not left to expire), and none
    // orphaned or duplicated afterwards.
    let replacedAt: number | undefined;
    let doubled = 0;
    const seen = new Set<string>();
    const instances = [...new Set(before.map((k) => k.replace(/_\d{10}$/, '')))].sort();
    while (Date.now() - t0 < SESSION_MS + 1500) {
      const keys = [...(await raw.read(PATH)).keys()];
      const n = keys.map((k) => k.replace(/_\d{10}$/, ''));
      assert.deepEqual([...new Set(n)].sort(), instances, `an instance had no entry: ${keys.join(', ')}`);
      if (new Set(n).size !== n.length) doubled++;
      for (const k of keys) seen.add(k);
      if (replacedAt === undefined && keys.length === 2 && keys.every((k) => !before.includes(k))) replacedAt = Date.now() - t0;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(replacedAt !== undefined && replacedAt < SESSION_MS, `the predecessor's entries were not replaced before its session expired (seen ${[...seen].join(', ')})`);
    t.diagnostic(`polls that saw an instance twice (make before break): ${doubled}`);
    t.diagnostic(`registrations replaced ${replacedAt} ms after the SIGKILL (before: ${before.join(', ')}; now: ${[...(await raw.read(PATH)).keys()].join(', ')})`);
    assert.deepEqual(await names(), [instanceIdFor('127.0.0.1', 'ar-a'), instanceIdFor('127.0.0.1', 'ar-b')]);
    await routes();
    const traffic = await probe.stop();
    t.diagnostic(`connections during kill and restart: ${traffic.ok} ok, ${traffic.failed} failed`);
    assert.equal(traffic.failed, 0, traffic.errors.join('\n'));

    assert.equal(await pidFile(), master, 'the running HAProxy was adopted, not replaced');
    const procs = parseShowProc(await sendCommand(join(hdir(), 'master.sock'), 'show proc'));
    assert.deepEqual(procs.filter((p) => p.type === 'master').map((p) => p.pid), [master]);
    assert.equal(procs.filter((p) => p.type === 'worker').length, 1, JSON.stringify(procs));

    const t1 = Date.now();
    await killProcess(second);
    assert.equal(second.exitCode, 0, (second as unknown as { log: string }).log);
    t.diagnostic(`SIGTERM: exited in ${Date.now() - t1} ms`);
    assert.deepEqual(await names(), [], 'SIGTERM deregistered everything before exiting');
    // Exited, reaped or not: its parent is init (the agent that started it was SIGKILLed), which may reap late.
    const stat = await readFile(`/proc/${master}/stat`, 'utf8').catch(() => '');
    assert.ok(stat === '' || /^\d+ \(.*\) [ZX] /.test(stat), `SIGTERM stopped HAProxy (${stat.slice(0, 60)})`);
  });
});
