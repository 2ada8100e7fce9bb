/**
 * HAProxy faults under the whole agent: worker and master SIGKILLed (restarted, runtime state
 * re-applied), a `haproxy` binary that starts failing validation, and the state directory on its own
 * tmpfs made unwritable by filling it. In each case the
 * last good config keeps serving, the Subscription's status says why, and it recovers once the cause
 * goes. Needs root (mount), as the CI does.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HaproxyProxy } from '../src/haproxy/haproxy-proxy.ts';
import { parseShowProc, sendCommand } from '../src/haproxy/runtime-api.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { answering, startTcpBackend, whoAnswers, type TestBackend } from './harness/backends.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';
import { service, subscription } from './harness/static-source.ts';
import { probeTraffic } from './harness/traffic-probe.ts';

describe('HAProxy faults', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let state: string;
  let mounted = false;
  let agent: RunningAgent;
  let port: number;
  let a: TestBackend, b: TestBackend;
  const flag = () => join(dir.path, 'reject-validation');
  const haproxy = () => agent.proxy as HaproxyProxy;
  const routes = async () => assert.deepEqual([...(await answering(port, 6))].sort(), ['a', 'b']);
  const proxyCondition = (name: string) => agent.agent.status.condition(`subscription/${name}`, 'ProxyConfigured');

  before(async () => {
    dir = await tempDir('ds-faults-haproxy');
    state = join(dir.path, 'state');
    await mkdir(state);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=700', 'tmpfs', state]);
    mounted = true;
    // A haproxy that refuses every config at `-c` while the flag file exists.
    const bin = join(dir.path, 'haproxy-wrapper');
    await writeFile(bin, `#!/bin/sh\nif [ "$1" = "-c" ] && [ -e '${flag()}' ]; then echo "[ALERT] simulated: config rejected" >&2; exit 1; fi\nexec haproxy "$@"\n`);
    await chmod(bin, 0o755);
    [a, b] = [await startTcpBackend('a'), await startTcpBackend('b')];
    port = await freePort();
    const m = join(dir.path, 'manifests');
    await mkdir(m);
    await writeFile(join(m, 'a.yaml'), service('hf-a', `path: /services/hf\nport: ${a.port}`));
    await writeFile(join(m, 'b.yaml'), service('hf-b', `path: /services/hf\nport: ${b.port}`));
    await writeFile(join(m, 'sub.yaml'), subscription('hf', `service: /services/hf\nlisten: { port: ${port} }\ncheck: { type: tcp, interMs: 200, rise: 1, fall: 1 }`));
    agent = await startAgent({ manifestsDir: m, registry: { url: 'memory://' }, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: state, haproxyBin: bin, resyncMs: 1000 });
    await eventually(routes, { timeoutMs: 20_000 });
  });

  after(async () => {
    await agent?.stop();
    await Promise.all([a, b].map((x) => x?.close()));
    if (mounted) execFileSync('umount', ['-l', state]);
    await dir?.cleanup();
  });

  for (const victim of ['worker', 'master'] as const) {
    test(`the ${victim} SIGKILLed: HAProxy is restarted with the last good config and the runtime state`, async (t) => {
      // After the previous case's restart the master may still be binding its socket: wait until it answers.
      const procs = await eventually(async () => parseShowProc(await sendCommand(join(state, 'master.sock'), 'show proc')), { timeoutMs: 15_000 });
      const master = haproxy().masterPid!;
      const pid = victim === 'master' ? master : procs.find((p) => p.type === 'worker')!.pid;
      const probe = probeTraffic(port, { intervalMs: 20 });
      const t0 = Date.now();
      process.kill(pid, 'SIGKILL');
      await eventually(() => assert.ok(haproxy().masterPid !== undefined && haproxy().masterPid !== master, 'haproxy().masterPid !== undefined && haproxy().masterPid !== master'), { timeoutMs: 15_000 });
      await eventually(routes, { timeoutMs: 15_000 });
      t.diagnostic(`routing again ${Date.now() - t0} ms after the ${victim} was killed`);
      // The probe's own connections get through too (it may not have tried since routing returned).
      await eventually(() => assert.ok(probe.counts().ok > 0, 'probe.counts().ok > 0'), { timeoutMs: 5_000 });
      const traffic = await probe.stop();
      t.diagnostic(`connections: ${traffic.ok} ok, ${traffic.failed} failed`);
    });
  }

  const addListener = async (name: string): Promise<number> => {
    const p = await freePort();
    await writeFile(join(dir.path, 'manifests', `${name}.yaml`), subscription(name, `service: /services/hf\nlisten: { port: ${p} }\ncheck: { type: none }`));
    return p;
  };

  test('the haproxy binary starts rejecting configs: the old listeners keep serving, status shows its output, recovery', async (t) => {
    await writeFile(flag(), '');
    const p = await addListener('hf-rejected');
    await eventually(() => assert.match(proxyCondition('hf-rejected')?.message ?? '', /simulated: config rejected/), { timeoutMs: 15_000 });
    assert.equal(proxyCondition('hf-rejected')?.status, 'False');
    await routes();
    await assert.rejects(whoAnswers(p));
    const t0 = Date.now();
    await rm(flag());
    await eventually(async () => assert.ok(['a', 'b'].includes(await whoAnswers(p)), "['a', 'b'].includes(await whoAnswers(p))"), { timeoutMs: 30_000 });
    await eventually(() => assert.equal(proxyCondition('hf-rejected')?.status, 'True'), { timeoutMs: 10_000 });
    t.diagnostic(`listener served ${Date.now() - t0} ms after the binary accepted configs again`);
  });

  test('the state directory full (no write succeeds): the old listeners keep serving, status says why, recovery', async (t) => {
    // A read-only remount is refused while HAProxy holds its log open, and root ignores permission
    // bits: filling the directory's own tmpfs makes every write fail, as a read-only one would.
    const filler = join(state, 'filler');
    await writeFile(filler, Buffer.alloc(16 * 1024 * 1024)).catch((err: NodeJS.ErrnoException) => assert.equal(err.code, 'ENOSPC'));
    try {
      const p = await addListener('hf-full');
      await eventually(() => assert.match(proxyCondition('hf-full')?.message ?? '', /ENOSPC|no space/), { timeoutMs: 15_000 });
      assert.equal(proxyCondition('hf-full')?.status, 'False');
      await routes();
      await assert.rejects(whoAnswers(p));
      const t0 = Date.now();
      await rm(filler);
      await eventually(async () => assert.ok(['a', 'b'].includes(await whoAnswers(p)), "['a', 'b'].includes(await whoAnswers(p))"), { timeoutMs: 30_000 });
      await eventually(() => assert.equal(proxyCondition('hf-full')?.status, 'True'), { timeoutMs: 10_000 });
      t.diagnostic(`listener served ${Date.now() - t0} ms after space was freed`);
    } finally {
      await rm(filler, { force: true });
    }
  });
});
