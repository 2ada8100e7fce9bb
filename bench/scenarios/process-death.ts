/**
 * Scenario 2: death → out of rotation. Backend hosts are child processes; one is SIGKILLed per
 * trial while a short-connection load runs, and we time until HAProxy's stats no longer show it
 * taking new connections (DRAIN, MAINT, DOWN, or gone). Three ways of noticing:
 * - process death: the agent's own tcp check (every 100 ms, fall 1) deregisters it;
 * - host death, HAProxy check: the Subscription's check (inter 100 ms, fall 2) marks it DOWN;
 * - host death, expiry: its registration disappears with its 2 s ZooKeeper session / etcd lease.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Proxy } from '../../src/proxy/proxy.ts';
import { freePort } from '../../test/harness/ports.ts';
import { StaticSource, service, subscription } from '../../test/harness/static-source.ts';
import { REGISTRIES, type BenchEnv, type RegistryKind, type Updates } from '../bench-env.ts';
import { describeErrors, type LoadStats } from '../load/http-load.ts';
import { spawnHost, type HostProcess } from '../load/spawn-host.ts';
import { startLoad } from '../load/threaded-load.ts';
import { LATENCY_COLUMNS, latencyCells, speedup } from '../report.ts';
import type { Scenario, ScenarioResult, Size } from '../scenario.ts';
import { now, summarize } from '../stats.ts';

type Detect = 'agent check' | 'HAProxy check' | 'session/lease expiry';
interface Variant {
  readonly what: string;
  readonly detect: Detect;
  readonly modes: readonly Updates[];
  readonly goalMs: number;
}
const VARIANTS: readonly Variant[] = [
  { what: 'process death', detect: 'agent check', modes: ['reload', 'runtime'], goalMs: 500 },
  { what: 'host death', detect: 'HAProxy check', modes: ['runtime'], goalMs: 1000 },
  { what: 'host death', detect: 'session/lease expiry', modes: ['reload', 'runtime'], goalMs: 2500 },
];
const SIZES = {
  smoke: { trials: 1, registries: ['zookeeper'] as readonly RegistryKind[] },
  full: { trials: 6, registries: REGISTRIES },
} as const;
const TTL_MS: Record<Detect, number> = { 'agent check': 10_000, 'HAProxy check': 10_000, 'session/lease expiry': 2000 };

async function inRotation(proxy: Proxy, port: number): Promise<boolean> {
  const rows = await proxy.status('death');
  return rows.some((r) => r.address === `127.0.0.1:${port}` && (r.state === 'up' || r.state === 'unchecked'));
}

async function until(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    const t = now();
    if (await cond()) return t;
    await sleep(2);
  }
  throw new Error(`${what} within ${timeoutMs} ms`);
}

interface Series {
  readonly samples: number[];
  load: LoadStats | undefined;
}

async function measure(env: BenchEnv, kind: RegistryKind, v: Variant, mode: Updates, trials: number): Promise<Series> {
  const path = `/bench/death/${kind}-${mode}-${Date.now()}`;
  const port = await freePort();
  const url = await env.url(kind);
  const check = v.detect === 'HAProxy check' ? '{ type: tcp, interMs: 100, rise: 1, fall: 2 }' : '{ type: none }';
  const source = new StaticSource();
  source.set('sub.yaml', subscription('death', `service: ${path}\nlisten: { port: ${port} }\nmode: http\ncheck: ${check}`));
  const agent = await env.agent(kind, mode, source);
  const proxy = agent.running.proxy;
  const hosts: HostProcess[] = [];
  let seq = 0;
  const addHost = async () => {
    const name = `h${seq++}`;
    const h = await spawnHost(name, v.detect === 'agent check' ? undefined : { url, path, ttlMs: TTL_MS[v.detect] });
    env.defer(() => h.kill());
    hosts.push(h);
    if (v.detect === 'agent check')
      source.set(`${name}.yaml`, service(name, `path: ${path}\nport: ${h.port}\ninstanceId: ${name}\nchecks:\n  - { type: tcp, intervalMs: 100, timeoutMs: 100, rise: 1, fall: 1 }`));
    await until(() => inRotation(proxy, h.port), 20_000, `${name} not in rotation`);
  };
  await Promise.all([addHost(), addHost(), addHost()]);
  const load = startLoad({ kind: 'short', port, workers: 2, maxMs: 600_000 });
  const out: Series = { samples: [], load: undefined };
  try {
    for (let i = 0; i < trials; i++) {
      await sleep(700); // the baseline's minimum reload interval must not add to its numbers
      const victim = hosts.shift()!;
      const t0 = now();
      await victim.kill();
      out.samples.push((await until(async () => !(await inRotation(proxy, victim.port)), 15_000, `${victim.name} still in rotation`)) - t0);
      if (v.detect === 'agent check') source.set(`${victim.name}.yaml`, undefined);
      await addHost();
    }
  } finally {
    load.stop();
    out.load = await load.finished;
    await agent.stop();
    await Promise.all(hosts.splice(0).map((h) => h.kill()));
  }
  return out;
}

async function run(env: BenchEnv, size: Size): Promise<ScenarioResult> {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const kind of SIZES[size].registries) {
    for (const v of VARIANTS) {
      const series = new Map<Updates, Series>();
      // The smoke run skips the baselines here: scenarios 1 and 3 exercise reload mode already.
      const modes = size === 'smoke' ? v.modes.filter((m) => m === 'runtime') : v.modes;
      for (const mode of modes) series.set(mode, await measure(env, kind, v, mode, SIZES[size].trials));
      const base = series.get('reload');
      for (const [mode, s] of series) {
        const sum = summarize(s.samples);
        const failed = s.load?.failed ?? 0;
        rows.push([kind, v.what, v.detect, mode, ...latencyCells(sum), mode === 'reload' ? 'baseline' : base ? speedup(sum, summarize(base.samples)) : 'same mechanism in both', `**${failed}** of ${(s.load?.ok ?? 0) + failed}`, s.load ? describeErrors(s.load) : '–']);
        if (mode === 'runtime')
          notes.push(`${kind}, ${v.what} via ${v.detect}: p99 ${sum.p99.toFixed(0)} ms ${sum.p99 <= v.goalMs ? 'meets' : 'MISSES'} the ≤ ${v.goalMs} ms goal; ${failed} failed requests ${failed === 0 ? '(goal 0 met)' : '(goal 0 MISSED)'}.`);
      }
    }
  }
  notes.push('Time runs from SIGKILL to the first `show stat` poll (every ~2 ms) that no longer shows the server UP or "no check". Requests: 2 short-connection workers (HTTP, `Connection: close`) through the listener for the whole series (all kills, and the replacements starting); HAProxy has `retries 3` + `option redispatch 1`, so a connection refused by a dead server is retried on another at once. One agent holds both the Subscription and (for process death) the backends\' Service manifests.');
  return {
    tables: [{ title: 'SIGKILL → out of rotation, and failed client requests meanwhile', columns: ['registry', 'death', 'noticed by', 'updates', ...LATENCY_COLUMNS, 'ours vs baseline (× faster)', 'failed requests', 'errors'], rows }],
    notes,
  };
}

export const processDeath: Scenario = { name: 'death', title: '2. Death → out of rotation', run };
