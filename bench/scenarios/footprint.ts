/**
 * Scenario 5: footprint. The agent's resident memory as a separate process (idle with 100
 * manifests; with one Subscription to 10,000 instances), and the latency HAProxy adds with our
 * generated config vs a hand-written minimal one (same backend, same client, rounds interleaved).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startHttpBackend } from '../../test/harness/backends.ts';
import { freePort } from '../../test/harness/ports.ts';
import { StaticSource, service, subscription } from '../../test/harness/static-source.ts';
import type { BenchEnv, RegistryKind } from '../bench-env.ts';
import { allReady, spawnAgent, type AgentProcess } from '../load/agent-process.ts';
import { bulkEtcd, bulkZooKeeper } from '../load/bulk-instances.ts';
import { startPlainHaproxy } from '../load/plain-haproxy.ts';
import { startLoad } from '../load/threaded-load.ts';
import { LATENCY_COLUMNS, latencyCells } from '../report.ts';
import type { Scenario, ScenarioResult, Size } from '../scenario.ts';
import { summarize } from '../stats.ts';

const SIZES = {
  smoke: { manifests: 10, instances: 200, registries: ['etcd'] as readonly RegistryKind[], settleMs: 1000, rounds: 2, requests: 300 },
  full: { manifests: 100, instances: 10_000, registries: ['zookeeper', 'etcd'] as readonly RegistryKind[], settleMs: 10_000, rounds: 6, requests: 5000 },
} as const;

async function measureRss(env: BenchEnv, name: string, args: string[], files: Record<string, string>, ready: Parameters<AgentProcess['until']>[0], settleMs: number): Promise<{ rssMiB: number; peakMiB: number }> {
  const dir = await env.tempDir(`footprint-${name}`);
  await Promise.all(Object.entries(files).map(([f, text]) => writeFile(join(dir, f), text)));
  const agent = spawnAgent(['--manifests', dir, '--haproxy-dir', join(dir, '.haproxy'), ...args], `127.0.0.1:${await freePort()}`);
  env.defer(() => agent.stop());
  await agent.until(ready, 120_000);
  await new Promise((r) => setTimeout(r, settleMs));
  const mem = await agent.memory();
  await agent.stop();
  return mem;
}

async function latency(env: BenchEnv, size: Size): Promise<string[][]> {
  const sz = SIZES[size];
  const backend = await startHttpBackend('footprint');
  env.defer(() => backend.close());
  const rows: string[][] = [];
  for (const mode of ['tcp', 'http'] as const) {
    const ours = await freePort();
    const plain = await freePort();
    const source = new StaticSource();
    source.set('svc.yaml', service('backend', `path: /bench/footprint/${mode}\nport: ${backend.port}`));
    source.set('sub.yaml', subscription('backend', `service: /bench/footprint/${mode}\nlisten: { port: ${ours} }\nmode: ${mode}\ncheck: { type: none }`));
    const agent = await env.agent('memory', 'runtime', source);
    const hp = await startPlainHaproxy(await env.tempDir('plain'), mode, plain, backend.port);
    env.defer(() => hp.stop());
    await untilHttp(ours, 20_000);
    await env.settle(agent);
    const samples = { ours: { short: [] as number[], keep: [] as number[] }, plain: { short: [] as number[], keep: [] as number[] } };
    for (let r = 0; r < sz.rounds; r++) {
      // Alternate which goes first, so drift on this shared machine falls on both alike.
      const order = r % 2 ? (['plain', 'ours'] as const) : (['ours', 'plain'] as const);
      for (const which of order) {
        const port = which === 'ours' ? ours : plain;
        for (const kind of ['short', 'keep-alive'] as const) {
          const stats = await startLoad({ kind, port, workers: 1, maxMs: 60_000, count: sz.requests }).finished;
          if (stats.failed) throw new Error(`${which} ${mode} ${kind}: ${stats.failed} failed requests`);
          samples[which][kind === 'short' ? 'short' : 'keep'].push(...stats.latencies);
        }
      }
    }
    for (const kind of ['short', 'keep'] as const) {
      const o = summarize(samples.ours[kind]);
      const p = summarize(samples.plain[kind]);
      const what = kind === 'short' ? 'new connection + request' : 'request on a kept-alive connection';
      const diff = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)} %`;
      rows.push([mode, what, 'hand-written minimal', ...latencyCells(p), '']);
      rows.push([mode, what, 'generated (ours)', ...latencyCells(o), `${diff(o.p50, p.p50)} p50, ${diff(o.p99, p.p99)} p99`]);
    }
    await hp.stop();
    await agent.stop();
  }
  return rows;
}

/** Poll (bounded) until an HTTP GET through `port` answers 200. */
async function untilHttp(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no HTTP answer through port ${port} within ${timeoutMs} ms`);
}

async function run(env: BenchEnv, size: Size): Promise<ScenarioResult> {
  const sz = SIZES[size];
  const memRows: string[][] = [];
  const notes: string[] = [];
  const files: Record<string, string> = {};
  const pairs = sz.manifests / 2;
  for (let i = 0; i < pairs; i++) {
    files[`svc-${i}.yaml`] = service(`s${i}`, `path: /bench/footprint/s${i}\nport: ${30_000 + i}`);
    files[`sub-${i}.yaml`] = subscription(`c${i}`, `service: /bench/footprint/s${i}\nlisten: { port: ${await freePort()} }\ncheck: { type: none }`);
  }
  const idle = await measureRss(env, 'idle', ['--registry', 'memory://'], files, (o) => allReady(o, sz.manifests), sz.settleMs);
  memRows.push([`idle, ${sz.manifests} manifests (memory registry, HAProxy)`, idle.rssMiB.toFixed(1), idle.peakMiB.toFixed(1), '64']);
  for (const kind of sz.registries) {
    const url = await env.url(kind);
    const path = `/bench/footprint/big-${kind}-${Date.now()}`;
    const target = url.replace(/^\w+:\/\//, '');
    const bulk = kind === 'zookeeper' ? await bulkZooKeeper(target, path, sz.instances) : await bulkEtcd(target, '/dockstack', path, sz.instances);
    env.defer(() => bulk.close());
    const sub = { 'sub.yaml': subscription('big', `service: ${path}\nlisten: { port: ${await freePort()} }\ncheck: { type: none }`) };
    const full = (o: Parameters<typeof allReady>[0]) => allReady(o, 1) && (o[0]?.status.details.backends as unknown[] | undefined)?.length === sz.instances;
    const m = await measureRss(env, kind, ['--registry', url], sub, full, sz.settleMs);
    memRows.push([`one Subscription to ${sz.instances} instances (${kind}, HAProxy)`, m.rssMiB.toFixed(1), m.peakMiB.toFixed(1), '150']);
  }
  for (const r of memRows) notes.push(`${r[0]}: RSS ${r[1]} MiB ${Number(r[1]) <= Number(r[3]) ? 'meets' : 'MISSES'} the ≤ ${r[3]} MiB goal.`);
  const latencyRows = await latency(env, size);
  for (const r of latencyRows.filter((x) => x[2] === 'generated (ours)')) notes.push(`${r[0]}, ${r[1]}: ours vs hand-written ${r[r.length - 1]} (goal ≤ 5 %).`);
  notes.push(
    `RSS is VmRSS of \`node bin/dockstack.js agent\` (tsx loader included, HAProxy is a separate process and not counted) ${sz.settleMs / 1000} s after every object was Ready; peak is VmHWM. Latency: one client connection at a time from a worker thread, ${sz.rounds} interleaved rounds of ${sz.requests} requests per kind and config, same HTTP backend; both HAProxies run side by side in the same run.`,
  );
  return {
    tables: [
      { title: 'agent memory (separate process)', columns: ['agent', 'VmRSS MiB', 'VmHWM (peak) MiB', 'goal MiB'], rows: memRows },
      { title: 'latency through HAProxy: generated config vs hand-written minimal', columns: ['mode', 'measure', 'config', ...LATENCY_COLUMNS, 'ours vs minimal'], rows: latencyRows },
    ],
    notes,
  };
}

export const footprint: Scenario = { name: 'footprint', title: '5. Footprint', run };
