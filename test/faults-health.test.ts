/**
 * Health-check faults under the whole agent (memory registry, real HAProxy): a backend flapping
 * up/down every 50 ms may change the registration no faster than rise/fall allow, and the
 * membership changes reach HAProxy without a reload; a backend that accepts but never answers is
 * failed by the http and mysql checks' timeouts (a tcp check cannot tell: accepting is all it sees).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { HaproxyProxy } from '../src/haproxy/haproxy-proxy.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { whoAnswers } from './harness/backends.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';
import { service, subscription } from './harness/static-source.ts';

const FLAP_MS = process.env.DOCKSTACK_FAULTS_FULL === '1' ? 15_000 : 3_000;
const INTERVAL_MS = 100;
const RISE = 3;
const FALL = 3;

/** A loopback server on a fixed port that greets "flap\n"; open()/close() toggle the listener. */
function flappingServer(port: number) {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((c) => {
        sockets.add(c);
        c.on('close', () => sockets.delete(c));
        c.on('error', () => undefined);
        c.end('flap\n');
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
      server = s;
    });
  const close = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      for (const c of sockets) c.destroy();
      if (s) s.close(() => resolve());
      else resolve();
    });
  return { open, close };
}

/** Accepts every connection and never writes a byte. */
async function blackHole(): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const s = createServer((c) => {
    accepted++;
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
    c.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const addr = s.address();
  if (typeof addr !== 'object' || !addr) throw new Error('black hole is not listening');
  return {
    port: addr.port,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of sockets) c.destroy();
        s.close(() => resolve());
      }),
  };
}

describe('health-check faults', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let agent: RunningAgent;
  let flap: ReturnType<typeof flappingServer>;
  let hole: Awaited<ReturnType<typeof blackHole>>;
  let backendPort: number;
  let listenPort: number;
  const manifests = () => join(dir.path, 'manifests');
  const status = () => agent.agent.status;

  before(async () => {
    dir = await tempDir('ds-faults-health');
    await mkdir(manifests());
    backendPort = await freePort();
    listenPort = await freePort();
    flap = flappingServer(backendPort);
    hole = await blackHole();
    await writeFile(join(manifests(), 'flap.yaml'), service('flap', `path: /services/flap\nport: ${backendPort}\nchecks:\n  - { type: tcp, intervalMs: ${INTERVAL_MS}, timeoutMs: 80, rise: ${RISE}, fall: ${FALL} }`));
    await writeFile(join(manifests(), 'flap-sub.yaml'), subscription('flap', `service: /services/flap\nlisten: { port: ${listenPort} }\ncheck: { type: none }\nfailStatic: false`));
    agent = await startAgent({ manifestsDir: manifests(), registry: { url: 'memory://' }, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir.path, 'state') });
  });

  after(async () => {
    await agent?.stop();
    await flap?.close();
    await hole?.close();
    await dir?.cleanup();
  });

  test('a backend flapping every 50 ms: registration changes no faster than rise/fall allow, and no reload', async (t) => {
    await flap.open();
    await eventually(() => assert.equal(status().condition('service/flap', 'Registered')?.status, 'True'), { timeoutMs: 10_000 });
    await eventually(async () => assert.equal(await whoAnswers(listenPort), 'flap'), { timeoutMs: 10_000 });
    const reloads = (agent.proxy as HaproxyProxy).reloadCount;
    const transitions: string[] = [];
    const checkFlips: string[] = [];
    const membership: string[] = [];
    const off = status().onEvent((e) => {
      if (e.object === 'service/flap' && (e.reason === 'Registered' || e.reason === 'Deregistered')) transitions.push(e.reason);
      if (e.object === 'service/flap' && (e.reason === 'CheckPassed' || e.reason === 'CheckFailed')) checkFlips.push(e.reason);
      if (e.object === 'subscription/flap' && (e.reason === 'BackendAdded' || e.reason === 'BackendRemoved')) membership.push(e.reason);
    });
    const t0 = Date.now();
    // Fault injection, not synchronisation: toggle the listener every 50 ms on average for FLAP_MS.
    // The period is jittered (20-80 ms, a fixed LCG sequence) so that checks every 100 ms do not sample
    // the same phase each time and see both states.
    let seed = 7;
    for (let up = false; Date.now() - t0 < FLAP_MS; up = !up) {
      if (up) await flap.open();
      else await flap.close();
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      await new Promise((r) => setTimeout(r, 20 + (seed % 61)));
    }
    await flap.close();
    const elapsed = Date.now() - t0;
    // Steady down: the instance must leave the registry and HAProxy (failStatic off), still without a reload.
    await eventually(() => assert.equal(status().condition('service/flap', 'Registered')?.status, 'False'), { timeoutMs: 10_000 });
    await eventually(() => assert.equal(membership.at(-1), 'BackendRemoved'), { timeoutMs: 10_000 });
    const settled = Date.now() - t0;
    off();
    // Each flip needs min(rise, fall) consecutive results, each at least intervalMs after the last.
    const bound = Math.floor(settled / (INTERVAL_MS * Math.min(RISE, FALL))) + 2;
    t.diagnostic(`flapped ${elapsed} ms: ${transitions.length} registration changes (bound ${bound}), ${checkFlips.length} health flips, ${membership.length} HAProxy membership changes, reloads ${(agent.proxy as HaproxyProxy).reloadCount - reloads}`);
    assert.ok(transitions.length >= 1, 'the final steady-down deregistered the instance');
    assert.ok(transitions.length <= bound, `${transitions.length} registration changes in ${settled} ms exceed ${bound}`);
    assert.ok(checkFlips.length <= bound, `${checkFlips.length} health flips in ${settled} ms exceed ${bound}`);
    assert.equal((agent.proxy as HaproxyProxy).reloadCount, reloads, 'membership changes caused no reload');
  });

  test('a backend that accepts but never answers: http and mysql checks fail by timeout, never registered', async (t) => {
    const checks = { http: `{ type: http, path: /health, intervalMs: 200, timeoutMs: 150, rise: 1 }`, mysql: `{ type: mysql, user: haproxy_check, intervalMs: 200, timeoutMs: 150, rise: 1 }` };
    const registered: string[] = [];
    const off = status().onEvent((e) => e.reason === 'Registered' && registered.push(e.object));
    for (const [type, check] of Object.entries(checks))
      await writeFile(join(manifests(), `hole-${type}.yaml`), service(`hole-${type}`, `path: /services/hole-${type}\nport: ${hole.port}\nchecks:\n  - ${check}`));
    for (const type of Object.keys(checks)) {
      const key = `service/hole-${type}` as const;
      const cond = await eventually(() => {
        const c = status().condition(key, 'Healthy');
        assert.equal(c?.status, 'False');
        assert.match(c?.message ?? '', /timed out after 150 ms/);
        return c;
      }, { timeoutMs: 10_000 });
      t.diagnostic(`${type}: Healthy=False "${cond?.message}"`);
      assert.equal(status().condition(key, 'Registered')?.status, 'False');
    }
    // Several more timed-out rounds (rise is 1: a single pass would register), and still nothing.
    const seen = hole.accepted();
    await eventually(() => assert.ok(hole.accepted() >= seen + 6, `${hole.accepted() - seen} more attempts`), { timeoutMs: 10_000 });
    assert.ok(agent.agent.services.registeredKeys().every((k) => !k.startsWith('service/hole-')), "agent.agent.services.registeredKeys().every((k) => !k.startsWith('service/hole-'))");
    off();
    assert.deepEqual(registered.filter((k) => k.startsWith('service/hole-')), []);
  });

  test('a tcp check cannot detect a backend that accepts but never answers (a known limit)', async () => {
    await writeFile(join(manifests(), 'hole-tcp.yaml'), service('hole-tcp', `path: /services/hole-tcp\nport: ${hole.port}\nchecks:\n  - { type: tcp, intervalMs: 100, timeoutMs: 150, rise: 1 }`));
    await eventually(() => assert.equal(status().condition('service/hole-tcp', 'Registered')?.status, 'True'), { timeoutMs: 10_000 });
  });
});
