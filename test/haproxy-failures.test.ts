/** HaproxyProxy when things go wrong: rejected configs, a dying HAProxy, adoption, and the reload baseline. */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HaproxyError, TerminalError } from '../src/errors.ts';
import { HaproxyProxy } from '../src/haproxy/haproxy-proxy.ts';
import type { Endpoint as BackendServer } from '../src/proxy/proxy.ts';
import { parseShowProc, sendCommand } from '../src/haproxy/runtime-api.ts';
import { SubscriptionSpec } from '../src/manifest/schema.ts';
import { listenerSpecOf } from '../src/reconcile/listener-spec.ts';
import { startTcpBackend, whoAnswers, type TestBackend } from './harness/backends.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';

const spec = (port: number) =>
  listenerSpecOf(SubscriptionSpec.parse({ service: '/services/x', listen: { port }, check: { type: 'tcp', interMs: 100, rise: 1, fall: 1 } }));
const srv = (...bs: TestBackend[]): BackendServer[] => bs.map((b) => ({ host: '127.0.0.1', port: b.port }));

let root: string;
const backends: TestBackend[] = [];
const proxies: HaproxyProxy[] = [];
const backend = async (name: string) => {
  const b = await startTcpBackend(name);
  backends.push(b);
  return b;
};
const newProxy = async (name: string, opts: Partial<ConstructorParameters<typeof HaproxyProxy>[0]> = {}) => {
  const p = new HaproxyProxy({ dir: join(root, name), reloadDebounceMs: 20, minReloadIntervalMs: 50, ...opts });
  proxies.push(p);
  await p.start();
  return p;
};

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'ds-hapf-'));
});
after(async () => {
  for (const p of proxies) await p.close();
  await Promise.all(backends.map((b) => b.close()));
  await rm(root, { recursive: true, force: true });
});

describe('HaproxyProxy failures', () => {
  test('a config HAProxy rejects: apply throws with its output, the old listeners keep serving, good ones coalesced with it still land', async () => {
    // A haproxy that refuses any config containing "backend rejected-*" at `-c` time.
    const bin = join(root, 'picky-haproxy');
    await writeFile(
      bin,
      `#!/bin/sh\nif [ "$1" = "-c" ] && grep -q '^backend rejected' "$3"; then echo "[ALERT] simulated: listener rejected here" >&2; exit 1; fi\nexec haproxy "$@"\n`,
    );
    await chmod(bin, 0o755);
    const events: string[] = [];
    const proxy = await newProxy('picky', { haproxyBin: bin, onEvent: (e) => events.push(e.type) });
    const a = await backend('picky-a');
    const [good, bad, late] = [await freePort(), await freePort(), await freePort()];
    await proxy.apply('good', spec(good), srv(a));
    await eventually(async () => assert.equal(await whoAnswers(good), 'picky-a'));

    const err = await proxy.apply('rejected-1', spec(bad), srv(a)).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof TerminalError && err.cause instanceof HaproxyError, `not retried: ${String(err)}`);
    assert.match(err.cause.output, /simulated: listener rejected here/);
    assert.equal(await whoAnswers(good), 'picky-a', 'the previous config keeps serving');
    assert.ok(events.includes('listener-rejected'), "events.includes('listener-rejected')");

    const [ok, rejected] = await Promise.allSettled([proxy.apply('late', spec(late), srv(a)), proxy.apply('rejected-1', spec(bad), srv(a))]);
    assert.equal(ok.status, 'fulfilled');
    assert.equal(rejected.status, 'rejected');
    await eventually(async () => assert.equal(await whoAnswers(late), 'picky-a'));
    await assert.rejects(whoAnswers(bad));
  });

  test('when HAProxy dies it is restarted and the runtime state re-applied', async () => {
    const events: string[] = [];
    const proxy = await newProxy('restart', { onEvent: (e) => events.push(e.type) });
    const restarts = () => events.filter((e) => e === 'haproxy-restarted').length;
    const [a, b] = [await backend('r-a'), await backend('r-b')];
    const port = await freePort();
    await proxy.apply('svc', spec(port), srv(a));
    // A runtime-only change: the config file on disk still says r-a, only the runtime says r-b.
    assert.equal((await proxy.apply('svc', spec(port), srv(b))).reloaded, false);
    await eventually(async () => assert.equal(await whoAnswers(port), 'r-b'));

    const master = proxy.masterPid!;
    const worker = parseShowProc(await sendCommand(join(root, 'restart', 'master.sock'), 'show proc')).find((p) => p.type === 'worker')!;
    process.kill(worker.pid, 'SIGKILL');
    await eventually(() => assert.equal(restarts(), 1), { message: 'restarted after the worker died' });
    assert.notEqual(proxy.masterPid, master);
    await eventually(async () => assert.equal(await whoAnswers(port), 'r-b'), { message: 'runtime state re-applied' });

    const master2 = proxy.masterPid!;
    process.kill(master2, 'SIGKILL');
    await eventually(() => assert.equal(restarts(), 2), { message: 'restarted after the master died' });
    assert.notEqual(proxy.masterPid, master2);
    await eventually(async () => assert.equal(await whoAnswers(port), 'r-b'));
  });

  test('a HAProxy left running by a previous run is adopted, not duplicated, and its first reload renders the current membership', async () => {
    const [a, b] = [await backend('adopt-a'), await backend('adopt-b')];
    const port = await freePort();
    const first = await newProxy('adopt');
    await first.apply('svc', spec(port), srv(a));
    assert.equal((await first.apply('svc', spec(port), srv(b))).reloaded, false);
    const pid = first.masterPid;
    await first.close({ keepServing: true });
    await eventually(async () => assert.equal(await whoAnswers(port), 'adopt-b'), { message: 'keeps serving while no agent runs' });

    const events: string[] = [];
    const second = await newProxy('adopt', { onEvent: (e) => events.push(e.type) });
    assert.equal(second.masterPid, pid);
    assert.ok(events.includes('adopted'), "events.includes('adopted')");
    // The file on disk renders a, the runtime routes to b: the bytes are equal, yet the reload runs (a fresh worker from the model).
    const r = await second.apply('svc', spec(port), srv(a));
    assert.equal(r.reloaded, true);
    assert.equal(second.masterPid, pid);
    await eventually(async () => assert.equal(await whoAnswers(port), 'adopt-a'));
  });

  test("baseline mode 'reload' reloads on every membership change", async () => {
    const proxy = await newProxy('baseline', { updates: 'reload' });
    const [a, b] = [await backend('base-a'), await backend('base-b')];
    const port = await freePort();
    assert.equal((await proxy.apply('svc', spec(port), srv(a))).reloaded, true);
    const r = await proxy.apply('svc', spec(port), srv(a, b));
    assert.equal(r.reloaded, true);
    assert.deepEqual(r.reasons, [{ cause: 'every-change', listener: 'svc' }]);
    const same = await proxy.apply('svc', spec(port), srv(a, b));
    assert.equal(same.reloaded, false, 'identical config bytes: no reload');
    assert.equal(proxy.reloadCount, 2);
  });
});
