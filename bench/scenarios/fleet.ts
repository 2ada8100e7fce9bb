/**
 * Scenario 6: across hosts (network namespaces on one switch, test/harness/netns-hosts.ts).
 * ZooKeeper on host1; a producer agent on host2 whose Service's tcp check fails until its backend
 * starts; two consumer agents on host3 subscribed to it, one with runtime updates and one with the
 * reload-per-change baseline, measured on the same events.
 * - healthy on A → routable on B: from the backend listening on host2 to the first connection
 *   from host3 through each consumer's listener that reaches it;
 * - host dies → out of rotation: host4 (its own producer and backend) SIGKILLed whole; time until
 *   each consumer's HAProxy stops routing to it (2 s session expiry, or the HAProxy check first).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sendCommand } from '../../src/haproxy/runtime-api.ts';
import { killProcess } from '../../test/harness/process.ts';
import { startHostAgent, type HostAgent } from '../../test/harness/host-agent.ts';
import { createFleet, SUBNET, type NsHost } from '../../test/harness/netns-hosts.ts';
import { service, subscription } from '../../test/harness/static-source.ts';
import { startZooKeeper } from '../../test/harness/zookeeper.ts';
import type { BenchEnv, Updates } from '../bench-env.ts';
import { LATENCY_COLUMNS, latencyCells, speedup } from '../report.ts';
import type { Scenario, ScenarioResult, Size } from '../scenario.ts';
import { now, summarize } from '../stats.ts';

const SIZES = { smoke: { routable: 3, death: 1 }, full: { routable: 20, death: 5 } } as const;
const SESSION_MS = 2000;
const PORT = 22000;
const MODES: readonly Updates[] = ['reload', 'runtime'];
const LISTEN: Record<Updates, number> = { runtime: 15000, reload: 15001 };

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(2);
  }
  throw new Error(`${what} within ${timeoutMs} ms`);
}

/** True while `consumer`'s HAProxy has `addr` UP in its only backend (runtime socket: a file, reachable from here). */
async function inRotation(consumer: HostAgent, addr: string): Promise<boolean> {
  const out = await sendCommand(join(consumer.dir, 'state', 'haproxy', 'admin.sock'), 'show servers state');
  return out.split('\n').some((l) => {
    const f = l.split(' ');
    // srv_addr:srv_port, op state running, no maintenance or drain bit (0x04, "configured
    // disabled", stays set on the reload baseline's slots after they are enabled and serving)
    return `${f[4]}:${f[18]}` === addr && f[5] === '2' && (Number(f[6]) & ~0x04) === 0;
  });
}

async function run(env: BenchEnv, size: Size): Promise<ScenarioResult> {
  const fleet = await createFleet(4);
  env.defer(() => fleet.close());
  const [h1, h2, h3, h4] = fleet.hosts as [NsHost, NsHost, NsHost, NsHost];
  const zk = await startZooKeeper({ on: h1 });
  env.defer(() => zk.stop());
  const registry = `zk://${zk.connectString}`;
  const args = ['--session-timeout', String(SESSION_MS), '--log-level', 'warn'];
  const svc = service('echo', `path: /services/echo\nport: ${PORT}\nchecks:\n  - { type: tcp, intervalMs: 100, timeoutMs: 100, rise: 1, fall: 1 }`);
  const producer = (h: NsHost, name: string) => startHostAgent(h, { dir: join(fleet.dir, name), registry, args, manifests: { 'echo.yaml': svc } });
  const agents: HostAgent[] = [await producer(h2, 'p2')];
  const consumers = {} as Record<Updates, HostAgent>;
  for (const [i, mode] of MODES.entries()) {
    consumers[mode] = await startHostAgent(h3, {
      dir: join(fleet.dir, `c-${mode}`), registry, statusPort: 7070 + i, args: [...args, '--haproxy-updates', mode],
      manifests: { 'sub.yaml': subscription('echo', `service: /services/echo\nlisten: { address: 127.0.0.1, port: ${LISTEN[mode]} }\ncheck: { type: tcp, interMs: 100, rise: 1, fall: 2 }`) },
    });
    agents.push(consumers[mode]);
  }
  env.defer(() => Promise.allSettled(agents.map((a) => a.stop())));
  const a2 = `${SUBNET}.2:${PORT}`;
  const a4 = `${SUBNET}.4:${PORT}`;

  // healthy on host2 → routable from host3
  const routable: Record<Updates, number[]> = { runtime: [], reload: [] };
  let backend: ChildProcess | undefined;
  for (let i = 0; i < SIZES[size].routable; i++) {
    await killProcess(backend, 0);
    await until(async () => (!(await inRotation(consumers.runtime, a2)) && !(await inRotation(consumers.reload, a2)) ? true : undefined), 20_000, 'host2 out of rotation');
    await sleep(700); // past the baseline's minimum reload interval, so it does not add to its numbers
    backend = await h2.greet('a', PORT);
    const t0 = now();
    await Promise.all(MODES.map(async (mode) => {
      routable[mode].push((await until(async () => ((await h3.greeting(LISTEN[mode], '127.0.0.1', 500)) === 'a' ? now() : undefined), 20_000, `${mode}: routable`)) - t0);
    }));
  }

  // host4 dies whole
  const death: Record<Updates, number[]> = { runtime: [], reload: [] };
  for (let i = 0; i < SIZES[size].death; i++) {
    await h4.greet('b', PORT);
    const p4 = await producer(h4, `p4-${i}`);
    await until(async () => ((await inRotation(consumers.runtime, a4)) && (await inRotation(consumers.reload, a4)) ? true : undefined), 30_000, 'host4 in rotation')
      .catch(async (err: Error) => {
        const state = await Promise.all(MODES.map((m) => sendCommand(join(consumers[m].dir, 'state', 'haproxy', 'admin.sock'), 'show servers state')));
        throw new Error(`${err.message}; producer on host4: ${p4.log().slice(-1500)}; HAProxy: ${state.join('\n')}`);
      });
    await sleep(700);
    const t0 = now();
    await h4.killAll();
    await Promise.all(MODES.map(async (mode) => {
      death[mode].push((await until(async () => (!(await inRotation(consumers[mode], a4)) ? now() : undefined), 20_000, `${mode}: host4 out of rotation`)) - t0);
    }));
    void p4;
    await h4.revive();
  }

  const rows: string[][] = [];
  for (const [what, samples] of [['healthy on host2 → routable from host3', routable], ['host4 SIGKILLed whole → out of rotation on host3', death]] as const) {
    const base = summarize(samples.reload);
    for (const mode of MODES) {
      const sum = summarize(samples[mode]);
      rows.push([what, mode, ...latencyCells(sum), mode === 'reload' ? 'baseline' : speedup(sum, base)]);
    }
  }
  return {
    tables: [{ title: 'across hosts (ZooKeeper on host1, session 2 s)', columns: ['event', 'updates', ...LATENCY_COLUMNS, 'vs baseline'], rows }],
    notes: [
      `Four network namespaces on one bridge; the agents are the real binary (\`ip netns exec HOST node bin/dockstack.js agent\`). Both consumers run on host3 at once and see the same events. The producer's tcp check runs every 100 ms (rise 1); each consumer's HAProxy check every 100 ms (fall 2).`,
      'Routable: from the moment host2\'s backend listens to the first connection from host3 through the consumer\'s listener (polled every ~2 ms) that it answers. Out of rotation: from the SIGKILL of every process on host4 to the first `show servers state` without it running (the HAProxy check usually wins over the 2 s session expiry).',
      'Reading it: the producer\'s 100 ms check interval (0–100 ms until the first pass) is in both columns. At p50 the baseline can be as fast or faster: after its reload HAProxy starts a new server UP, while a runtime-API slot waits for its first HAProxy check (inter 100 ms); the baseline\'s tail is its minimum reload interval. Host death is noticed by each consumer\'s HAProxy check (fall 2 × 100 ms) long before the 2 s session expires, so both modes are about equal: marking a server DOWN needs no reload.',
    ],
  };
}

export const fleet: Scenario = { name: 'fleet', title: '6. Across hosts', run };
