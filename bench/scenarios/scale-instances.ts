/**
 * Scenario 4, instances half: one path holding N instances (written by a plain bulk client). A
 * Subscription's initial sync is timed against a plain client's read of the same data in the same
 * run; then 1 % of the instances are replaced, timed until HAProxy has the new set, with reloads
 * and the agent process's CPU counted.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Agent } from '../../src/agent.ts';
import { parseShowProc, sendCommand } from '../../src/haproxy/runtime-api.ts';
import { addressOf } from '../../src/net/address.ts';
import type { ObjectKey } from '../../src/object-key.ts';
import { createRegistry } from '../../src/registry/create-registry.ts';
import { freePort } from '../../test/harness/ports.ts';
import { StaticSource, subscription } from '../../test/harness/static-source.ts';
import { applied, untilStatus } from '../agent-wait.ts';
import type { BenchEnv, RegistryKind, Updates } from '../bench-env.ts';
import type { BulkInstances } from '../load/bulk-instances.ts';
import { spawnBulk } from '../load/bulk-process.ts';
import { now } from '../stats.ts';

export interface InstancesRun {
  readonly writeMs: number;
  /** Plain client's read of the whole path, ms (one per sync, interleaved with them). */
  readonly rawRead: readonly number[];
  /** Subscription added → listed (Synced with N instances), ms. */
  readonly synced: readonly number[];
  /** Subscription added → HAProxy serving the N servers (Ready), ms. */
  readonly ready: readonly number[];
  /** `haproxy -c` of the agent's config once it serves the N servers, ms: what parsing that config alone costs HAProxy (a reload parses it once more). */
  readonly parseConfig: readonly number[];
  /** 1 % replaced → HAProxy has exactly the new set, ms: from the first write, and from the registry's ack of the last one. */
  readonly change: readonly number[];
  readonly changeFromAck: readonly number[];
  /** Agent-process CPU (user + system) per change, ms (the bulk client runs in a process of its own). */
  readonly cpu: readonly number[];
  readonly reloadsDuringChanges: number;
  readonly reloadReasons: readonly string[];
}

const TIMEOUT_MS = 120_000;

async function bulk(env: BenchEnv, kind: RegistryKind, path: string, n: number): Promise<BulkInstances> {
  const url = await env.url(kind);
  const target = url.replace(/^\w+:\/\//, '');
  // Its own process: the bench process's CPU is then the agent's.
  const b = await spawnBulk(kind, target, path, n);
  env.defer(() => b.close());
  return b;
}

export async function instancesRun(env: BenchEnv, kind: RegistryKind, n: number, syncs: number, changes: number, updates: Updates | 'native' = 'runtime'): Promise<InstancesRun> {
  const path = `/bench/scale/i-${kind}-${updates}-${Date.now()}`;
  const instances = await bulk(env, kind, path, n);
  const source = new StaticSource();
  const agent = await env.agent(kind, updates, source);
  const a = agent.running.agent;
  const out = { rawRead: [] as number[], synced: [] as number[], ready: [] as number[], parseConfig: [] as number[], change: [] as number[], changeFromAck: [] as number[], cpu: [] as number[] };

  let key: ObjectKey = 'subscription/big0';
  for (let s = 0; s < syncs; s++) {
    out.rawRead.push((await instances.rawRead()).ms);
    if (s > 0) {
      const old = key;
      source.set(`sub-${s - 1}.yaml`, undefined);
      await untilStatus(a, () => !a.status.get(old), TIMEOUT_MS, 'subscription removed');
      await env.settle(agent, 500);
    }
    key = `subscription/big${s}`;
    const k = key;
    const t0 = now();
    source.set(`sub-${s}.yaml`, subscription(`big${s}`, `service: ${path}\nlisten: { port: ${await freePort()} }\ncheck: { type: none }`));
    const listed = `${n} instances under`;
    out.synced.push((await untilStatus(a, () => a.status.condition(k, 'Synced')?.message.startsWith(listed) ?? false, TIMEOUT_MS, 'synced')) - t0);
    out.ready.push((await untilStatus(a, () => applied(a, k, 1) && backends(a, k).length === n, TIMEOUT_MS, 'ready')) - t0);
  }
  await env.settle(agent, 1000);
  for (let i = 0; i < syncs; i++) {
    const t0 = now();
    await promisify(execFile)('haproxy', ['-c', '-q', '-f', join(agent.dir, 'haproxy', 'haproxy.cfg')]);
    out.parseConfig.push(now() - t0);
  }

  const reloadsBefore = agent.reloads();
  const reasonsBefore = agent.reloadReasons.length;
  const k = key;
  for (let c = 0; c < changes; c++) {
    const cpu0 = process.cpuUsage();
    const t0 = now();
    const { added, removed, writtenAt } = await instances.replace(Math.max(1, Math.round(n / 100)));
    const done = await untilStatus(a, () => hasExactly(backends(a, k), added, removed), TIMEOUT_MS, `change ${c}`);
    out.change.push(done - t0);
    out.changeFromAck.push(Math.max(0, done - writtenAt));
    const cpu = process.cpuUsage(cpu0);
    out.cpu.push((cpu.user + cpu.system) / 1000);
    await env.settle(agent, 500);
  }
  const reloadsDuringChanges = agent.reloads() - reloadsBefore;
  const reloadReasons = agent.reloadReasons.slice(reasonsBefore);
  await agent.stop();
  return { writeMs: instances.writeMs, ...out, reloadsDuringChanges, reloadReasons };
}

/**
 * The same 1 % changes on the registry's watch alone (a Registry of our own: client library and
 * watch cache, no agent, no HAProxy): CPU per change until the watch holds the new set, and the
 * watch's deliveries in all. The agent's CPU per change is read against it.
 */
export async function watchCpuRun(env: BenchEnv, kind: RegistryKind, n: number, changes: number): Promise<{ cpu: number[]; deliveries: number }> {
  const url = await env.url(kind);
  const path = `/bench/scale/w-${kind}-${Date.now()}`;
  const instances = await bulk(env, kind, path, n);
  const registry = await createRegistry({ url });
  env.defer(() => registry.close());
  const held = new Set<string>();
  let deliveries = 0;
  let wake = (): void => {};
  registry.watch(path, (c) => {
    deliveries++;
    if (c.reset) held.clear(), c.current.forEach((_, a) => held.add(a));
    for (const i of c.added) held.add(addressOf(i));
    for (const i of c.removed) held.delete(addressOf(i));
    wake();
  });
  const until = (done: () => boolean, what: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind} watch alone: not ${what} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      const check = () => (done() ? (clearTimeout(timer), resolve()) : (wake = check));
      check();
    });
  await until(() => held.size === n, `${n} instances`);
  await new Promise((r) => setTimeout(r, 1000));
  const d0 = deliveries;
  const cpu: number[] = [];
  for (let c = 0; c < changes; c++) {
    const cpu0 = process.cpuUsage();
    const { added, removed } = await instances.replace(Math.max(1, Math.round(n / 100)));
    await until(() => added.every((a) => held.has(a)) && !removed.some((a) => held.has(a)), `change ${c}`);
    const used = process.cpuUsage(cpu0);
    cpu.push((used.user + used.system) / 1000);
    await new Promise((r) => setTimeout(r, 500));
  }
  return { cpu, deliveries: deliveries - d0 };
}

function backends(a: Agent, key: ObjectKey): readonly string[] {
  return (a.status.get(key)?.details.backends as readonly string[] | undefined) ?? [];
}

let checked: readonly string[] | undefined;
/**
 * The status's backend list is a new array whenever it changed: an unchanged one is not looked at
 * again. It is sorted by code unit (EndpointTable), so each address is a binary search: this runs
 * in the agent's process, and a Set of 10,000 per status change was CPU counted as the agent's.
 */
export function hasExactly(list: readonly string[], added: readonly string[], removed: readonly string[]): boolean {
  if (list === checked) return false;
  checked = list;
  const has = (x: string) => {
    let [lo, hi] = [0, list.length];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return list[lo] === x;
  };
  return added.every(has) && !removed.some(has);
}

export interface GrowthRun {
  /** Per step: the instance count reached and registry write start → status shows it, ms. */
  readonly steps: readonly { readonly count: number; readonly ms: number }[];
  readonly reloads: number;
  readonly samePid: boolean;
}

/** One Subscription whose path grows 1 → max through `steps` and back, written by a plain client. */
export async function growthRun(env: BenchEnv, kind: RegistryKind, steps: readonly number[]): Promise<GrowthRun> {
  const path = `/bench/scale/g-${kind}-${Date.now()}`;
  const instances = await bulk(env, kind, path, 1);
  const source = new StaticSource();
  const agent = await env.agent(kind, 'runtime', source);
  const a = agent.running.agent;
  const k = 'subscription/grow' as const;
  source.set('grow.yaml', subscription('grow', `service: ${path}\nlisten: { port: ${await freePort()} }\ncheck: { type: none }`));
  await untilStatus(a, () => applied(a, k, 1) && backends(a, k).length === 1, TIMEOUT_MS, 'first instance');
  await env.settle(agent, 1000);
  const pid = await workerPid(agent.dir);
  const reloads0 = agent.reloads();
  const out: { count: number; ms: number }[] = [];
  let count = 1;
  for (const target of [...steps.slice(1), ...[...steps].reverse().slice(1)]) {
    const t0 = now();
    await instances.resize(target - count);
    count = target;
    out.push({ count, ms: (await untilStatus(a, () => backends(a, k).length === count, TIMEOUT_MS, `${count} instances`)) - t0 });
  }
  const result = { steps: out, reloads: agent.reloads() - reloads0, samePid: (await workerPid(agent.dir)) === pid };
  await agent.stop();
  return result;
}

async function workerPid(dir: string): Promise<number | undefined> {
  return parseShowProc(await sendCommand(join(dir, 'haproxy', 'master.sock'), 'show proc')).find((x) => x.type === 'worker')?.pid;
}
