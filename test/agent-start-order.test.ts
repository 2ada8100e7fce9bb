/**
 * Start-up order: the status API listens before HAProxy has started, so /healthz (the process
 * answers) comes early, while /readyz says 503 "start-up" until HAProxy runs and 200 only once the
 * initial sync is complete. HAProxy is held at its first exec by a FIFO the test opens when it has
 * seen both answers.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, rmSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { StatusServer } from '../src/server/status-server.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';
import { service, subscription } from './harness/static-source.ts';

const get = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** Let a reader waiting on the FIFO go (EOF), if there is one, and remove it. */
function release(fifo: string): void {
  try {
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // ENOENT: already gone; ENXIO: no reader waiting
  }
  rmSync(fifo, { force: true });
}

test('/healthz answers before HAProxy has started; /readyz is 503 until HAProxy runs and the initial sync is complete', async () => {
  const d = await tempDir('ds-start-order');
  const gate = join(d.path, 'gate');
  execFileSync('mkfifo', [gate]);
  const bin = join(d.path, 'haproxy-gated');
  // The first run of haproxy waits for the gate to be written, and removes it so later runs do not.
  await writeFile(bin, `#!/bin/sh\nif [ -p '${gate}' ]; then cat '${gate}' >/dev/null; rm -f '${gate}'; fi\nexec haproxy "$@"\n`);
  await chmod(bin, 0o755);
  const m = join(d.path, 'manifests');
  await mkdir(m);
  await writeFile(join(m, 'svc.yaml'), service('so', `path: /services/so\nport: ${await freePort()}`));
  await writeFile(join(m, 'sub.yaml'), subscription('so', `service: /services/so\nlisten: { port: ${await freePort()} }\ncheck: { type: none }`));
  const statusAddr = `127.0.0.1:${await freePort()}`;
  let resolved = false;
  let agent: RunningAgent | undefined;
  const starting = startAgent({ manifestsDir: m, registry: { url: 'memory://' }, host: '127.0.0.1', statusAddr, proxy: 'haproxy', haproxyDir: join(d.path, 'hp'), haproxyBin: bin }).then((a) => ((resolved = true), (agent = a)));
  try {
    await eventually(async () => assert.equal((await get(`http://${statusAddr}/healthz`)).status, 200), { timeoutMs: 20_000 });
    assert.deepEqual(await get(`http://${statusAddr}/readyz`), { status: 503, body: { ready: false, waiting: 'start-up' } });
    assert.equal(resolved, false, 'startAgent returned while HAProxy was held');
    await writeFile(gate, 'go\n'); // blocks until the held haproxy reads it
    await starting;
    await eventually(async () => assert.deepEqual(await get(`http://${statusAddr}/readyz`), { status: 200, body: { ready: true } }), { timeoutMs: 20_000 });
    assert.equal(agent!.agent.status.condition('subscription/so', 'ProxyConfigured')?.status, 'True');
  } finally {
    release(gate); // a failed test must not leave a haproxy run waiting on it
    await (await starting.catch(() => undefined))?.stop();
    await d.cleanup();
  }
});

test('a status API listening before the agent exists (as the CLI starts): /healthz 200, /readyz 503, other requests wait for the agent; stop() closes it', async () => {
  const d = await tempDir('ds-start-early');
  const m = join(d.path, 'manifests');
  await mkdir(m);
  await writeFile(join(m, 'svc.yaml'), service('early', `path: /services/early\nport: ${await freePort()}`));
  const status = new StatusServer(undefined, { port: 0 });
  const addr = await status.start();
  let agent: RunningAgent | undefined;
  try {
    assert.equal((await get(`http://${addr}/healthz`)).status, 200);
    assert.deepEqual(await get(`http://${addr}/readyz`), { status: 503, body: { ready: false, waiting: 'start-up' } });
    let answered = false;
    const services = get(`http://${addr}/api/v1/services`).then((r) => ((answered = true), r));
    assert.equal((await get(`http://${addr}/healthz`)).status, 200); // a later request has been answered, the list has not
    assert.equal(answered, false);
    agent = await startAgent({ manifestsDir: m, registry: { url: 'memory://' }, host: '127.0.0.1', statusAddr: 'unused', statusServer: status, proxy: 'none', haproxyDir: join(d.path, 'hp') });
    assert.equal(agent.statusAddr, addr);
    assert.equal((await services).status, 200);
    await eventually(async () => assert.deepEqual(await get(`http://${addr}/readyz`), { status: 200, body: { ready: true } }), { timeoutMs: 20_000 });
    await agent.stop();
    await assert.rejects(fetch(`http://${addr}/healthz`));
  } finally {
    await agent?.stop();
    await status.close();
    await d.cleanup();
  }
});
