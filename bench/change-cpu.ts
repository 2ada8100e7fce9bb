/**
 * `node --import tsx bench/change-cpu.ts [zookeeper|etcd]... [--n 10000] [--changes 8] [--prof DIR] [--floor]`:
 * the agent's CPU for one 1 % change at N instances, the instances bench's measure alone (no
 * sync timing, no baseline), plus the CPU of the second after "applied" (the state file's
 * once-a-second write, deferred status work) against an idle second. With --prof, a V8 CPU profile
 * of the change windows only (inspector, in-process), written to DIR/<kind>-w<change>.cpuprofile
 * (the window) and DIR/<kind>-a<change>.cpuprofile (the second after); read each with
 * bench/profile-summary.ts. ZooKeeper's getChildren reads per change are counted. With --floor, the
 * same changes are first measured on the registry's watch alone (a Registry of our own, no agent, no
 * HAProxy): the client library's and the watch cache's share of the agent's figure.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Agent } from '../src/agent.ts';
import type { ObjectKey } from '../src/object-key.ts';
import { ZkClient } from '../src/registry/zookeeper-client.ts';
import { freePort } from '../test/harness/ports.ts';
import { StaticSource, subscription } from '../test/harness/static-source.ts';
import { applied, untilStatus } from './agent-wait.ts';
import { BenchEnv, type RegistryKind } from './bench-env.ts';
import { spawnBulk } from './load/bulk-process.ts';
import { hasExactly, watchCpuRun } from './scenarios/scale-instances.ts';
import { summarize } from './stats.ts';

// ZooKeeper re-lists the path per change (a burst coalesces into a read in flight and one more): count them.
let lists = 0;
const getChildren = ZkClient.prototype.getChildren;
ZkClient.prototype.getChildren = function (this: ZkClient, ...args: Parameters<typeof getChildren>) {
  lists++;
  return getChildren.apply(this, args);
};

const { values, positionals } = parseArgs({ allowPositionals: true, options: { n: { type: 'string' }, changes: { type: 'string' }, prof: { type: 'string' }, floor: { type: 'boolean' } } });
const n = Number(values.n ?? 10_000);
const changes = Number(values.changes ?? 8);
const kinds = (positionals.length ? positionals : ['zookeeper', 'etcd']) as RegistryKind[];
const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const backends = (a: Agent, key: ObjectKey) => (a.status.get(key)?.details.backends as readonly string[] | undefined) ?? [];

async function floor(env: BenchEnv, kind: RegistryKind): Promise<void> {
  const { cpu, deliveries } = await watchCpuRun(env, kind, n, changes);
  const s = summarize(cpu);
  console.log(`${kind} n=${n}: the registry's watch alone, change window CPU p50 ${s.p50.toFixed(1)} ms (min ${Math.min(...cpu).toFixed(1)}, max ${s.max.toFixed(1)}) [${cpu.map((x) => x.toFixed(0)).join(' ')}]; deliveries per change ${(deliveries / changes).toFixed(1)}`);
}

async function one(env: BenchEnv, kind: RegistryKind): Promise<void> {
  const url = await env.url(kind);
  const path = `/bench/cpu/${kind}-${Date.now()}`;
  const bulk = await spawnBulk(kind, url.replace(/^\w+:\/\//, ''), path, n);
  env.defer(() => bulk.close());
  const source = new StaticSource();
  const agent = await env.agent(kind, 'runtime', source);
  const a = agent.running.agent;
  const k: ObjectKey = 'subscription/big';
  source.set('big.yaml', subscription('big', `service: ${path}\nlisten: { port: ${await freePort()} }\ncheck: { type: none }`));
  await untilStatus(a, () => applied(a, k, 1) && backends(a, k).length === n, 120_000, 'ready');
  await env.settle(agent, 1000);
  await sleep(1500);
  const idle0 = process.cpuUsage();
  await sleep(1000);
  const idle = cpuMs(process.cpuUsage(idle0));
  const session = values.prof ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 250 });
  }
  // One profile per change window and one per second after it, so the two can be told apart.
  const profiled = async (name: string, fn: () => Promise<void>) => {
    if (session) await session.post('Profiler.start');
    await fn();
    if (!session) return;
    const { profile } = await session.post('Profiler.stop');
    await writeFile(join(values.prof!, `${kind}-${name}.cpuprofile`), JSON.stringify(profile));
  };
  const win: number[] = [];
  const l0 = lists;
  const after: number[] = [];
  for (let c = 0; c < changes; c++) {
    await profiled(`w${c}`, async () => {
      const cpu0 = process.cpuUsage();
      const { added, removed } = await bulk.replace(Math.max(1, Math.round(n / 100)));
      await untilStatus(a, () => hasExactly(backends(a, k), added, removed), 60_000, `change ${c}`);
      win.push(cpuMs(process.cpuUsage(cpu0)));
    });
    await profiled(`a${c}`, async () => {
      const t1 = process.cpuUsage();
      await sleep(1000);
      after.push(cpuMs(process.cpuUsage(t1)));
    });
    await sleep(300);
  }
  session?.disconnect();
  const s = summarize(win);
  const t = summarize(after);
  console.log(
    `${kind} n=${n}: change window CPU p50 ${s.p50.toFixed(1)} ms (min ${Math.min(...win).toFixed(1)}, max ${s.max.toFixed(1)}) [${win.map((x) => x.toFixed(0)).join(' ')}]; the second after: p50 ${t.p50.toFixed(1)} ms (idle second ${idle.toFixed(1)} ms); getChildren per change ${((lists - l0) / changes).toFixed(1)}`,
  );
  await agent.stop();
}

const env = new BenchEnv();
try {
  for (const kind of kinds) {
    if (values.floor) await floor(env, kind);
    await one(env, kind);
  }
} finally {
  await env.close();
}
