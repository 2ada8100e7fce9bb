/**
 * Scenario 5: footprint, all from the package as users install it (npm pack + global install into
 * a temp prefix): CLI wall time against `node -e 0`, agent start-up, the agent's memory as a
 * separate process (idle with 100 manifests; one Subscription to 10,000 instances), and the
 * latency HAProxy adds with our generated config vs a hand-written minimal one.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, freePorts } from '../../test/harness/ports.ts';
import { service, subscription } from '../../test/harness/static-source.ts';
import type { BenchEnv, RegistryKind } from '../bench-env.ts';
import { allReady, spawnAgent, type AgentMemory, type AgentProcess } from '../load/agent-process.ts';
import { bulkEtcd, bulkZooKeeper } from '../load/bulk-instances.ts';
import { installPackage } from '../load/installed-package.ts';
import { LATENCY_COLUMNS } from '../report.ts';
import type { Scenario, ScenarioResult, Size } from '../scenario.ts';
import { ms, percentile } from '../stats.ts';
import { cliTimes, startTimes } from './footprint-cli.ts';
import { latency } from './footprint-latency.ts';

const SIZES = {
  smoke: { manifests: 10, instances: 200, registries: ['etcd'] as readonly RegistryKind[], settleMs: 1000, cliRuns: 3, starts: 2 },
  full: { manifests: 100, instances: 10_000, registries: ['zookeeper', 'etcd'] as readonly RegistryKind[], settleMs: 10_000, cliRuns: 10, starts: 5 },
} as const;
const median = (xs: readonly number[]) => percentile([...xs].sort((a, b) => a - b), 50);
const verdict = (v: number, goal: number) => (v <= goal ? 'meets' : 'MISSES');

async function measureMemory(env: BenchEnv, bin: string, name: string, args: string[], files: Record<string, string>, ready: Parameters<AgentProcess['until']>[0], settleMs: number): Promise<AgentMemory> {
  const dir = await env.tempDir(`footprint-${name}`);
  await Promise.all(Object.entries(files).map(([f, text]) => writeFile(join(dir, f), text)));
  const agent = spawnAgent(bin, ['--manifests', dir, '--haproxy-dir', join(dir, '.haproxy'), ...args], `127.0.0.1:${await freePort()}`);
  env.defer(() => agent.stop());
  await agent.until(ready, 180_000);
  await new Promise((r) => setTimeout(r, settleMs));
  const mem = await agent.memory();
  await agent.stop();
  return mem;
}

async function run(env: BenchEnv, size: Size): Promise<ScenarioResult> {
  const sz = SIZES[size];
  const notes: string[] = [];
  const pkg = await installPackage(await env.tempDir('footprint-pkg'));

  const cli = await cliTimes(env, pkg.bin, sz.cliRuns);
  const base = cli[0]!.ms;
  const cliRows = cli.map((c, i) => [c.label, ms(c.ms), i === 0 ? '1.00×' : `${(c.ms / base).toFixed(2)}×`, i === 0 ? '' : '≤ 2×']);
  for (const c of cli.slice(1)) notes.push(`${c.label}: ${(c.ms / base).toFixed(2)}× \`node -e 0\` ${verdict(c.ms / base, 2)} the ≤ 2× goal.`);

  const st = await startTimes(env, pkg.bin, sz.starts);
  const startRows = [
    ['spawn → status API answering (GET /healthz 200)', String(st.answeringMs.length), ms(median(st.answeringMs)), ms(Math.max(...st.answeringMs)), '300'],
    ['spawn → "initial sync complete" logged', String(st.syncedMs.length), ms(median(st.syncedMs)), ms(Math.max(...st.syncedMs)), '1000'],
  ];
  for (const r of startRows) notes.push(`${r[0]}: median ${r[2]} ms ${verdict(Number(r[2]), Number(r[4]))} the ≤ ${r[4]} ms goal.`);

  const memRows: string[][] = [];
  const files: Record<string, string> = {};
  // Distinct ports: freePort() one at a time may hand out the same one twice, leaving a Subscription never Ready.
  const listenPorts = await freePorts(sz.manifests / 2);
  for (let i = 0; i < sz.manifests / 2; i++) {
    files[`svc-${i}.yaml`] = service(`s${i}`, `path: /bench/footprint/s${i}\nport: ${30_000 + i}`);
    files[`sub-${i}.yaml`] = subscription(`c${i}`, `service: /bench/footprint/s${i}\nlisten: { port: ${listenPorts[i]} }\ncheck: { type: none }`);
  }
  const row = (what: string, m: AgentMemory, goal: number) => [what, m.rssMiB.toFixed(1), m.heapUsedMiB.toFixed(1), m.peakMiB.toFixed(1), String(goal)];
  const idle = await measureMemory(env, pkg.bin, 'idle', ['--registry', 'memory://'], files, (o) => allReady(o, sz.manifests), sz.settleMs);
  memRows.push(row(`idle, ${sz.manifests} manifests (memory registry, HAProxy)`, idle, 64));
  for (const kind of sz.registries) {
    const url = await env.url(kind);
    const path = `/bench/footprint/big-${kind}-${Date.now()}`;
    const target = url.replace(/^\w+:\/\//, '');
    const bulk = kind === 'zookeeper' ? await bulkZooKeeper(target, path, sz.instances) : await bulkEtcd(target, '/dockstack', path, sz.instances);
    env.defer(() => bulk.close());
    const sub = { 'sub.yaml': subscription('big', `service: ${path}\nlisten: { port: ${await freePort()} }\ncheck: { type: none }`) };
    const full = (o: Parameters<typeof allReady>[0]) => allReady(o, 1) && (o[0]?.status.details.backends as unknown[] | undefined)?.length === sz.instances;
    const m = await measureMemory(env, pkg.bin, kind, ['--registry', url], sub, full, sz.settleMs);
    await bulk.close();
    memRows.push(row(`one Subscription to ${sz.instances} instances (${kind}, HAProxy)`, m, 120));
  }
  for (const r of memRows) notes.push(`${r[0]}: RSS ${r[1]} MiB ${verdict(Number(r[1]), Number(r[4]))} the ≤ ${r[4]} MiB goal (heap used ${r[2]} MiB).`);

  const latencyRows = await latency(env, size);
  for (const r of latencyRows.filter((x) => x[2] === 'generated (ours)')) {
    const control = latencyRows.find((x) => x[0] === r[0] && x[1] === r[1] && x[2]!.endsWith('(control)'));
    notes.push(`${r[0]}, ${r[1]}: ours vs hand-written ${r[r.length - 1]} (goal ≤ 5 %); the control (the minimal config's twin) ${control?.[control.length - 1] ?? '?'}.`);
  }
  notes.push(
    `Everything runs from the installed package (npm pack + npm install -g into a temp prefix, ${pkg.seconds.toFixed(0)} s), started as \`node PREFIX/lib/node_modules/dockstack/bin/dockstack.js\` (no npx, no tsx). CLI: median of ${sz.cliRuns} runs per command, the commands interleaved round by round with \`node -e 0\`, after one warm-up run each; \`get\` asks an agent running the examples. Start-up: ${sz.starts} starts of an agent on the examples (memory registry, HAProxy on, ports moved to free ones), from spawn. Memory: VmRSS and V8 heap used (process.memoryUsage() over IPC; the bench forces no GC, the agent's own heap policy, src/cli/agent-heap.ts, runs as in production) ${sz.settleMs / 1000} s after every object was Ready; peak is VmHWM; HAProxy is a separate process and not counted.`,
  );
  return {
    tables: [
      { title: 'CLI wall time from the installed package (median)', columns: ['command', 'ms', 'vs node -e 0', 'goal'], rows: cliRows },
      { title: 'agent start-up (installed, examples, memory registry, HAProxy)', columns: ['measure', 'n', 'median ms', 'max ms', 'goal ms'], rows: startRows },
      { title: 'agent memory (separate process)', columns: ['agent', 'VmRSS MiB', 'heap used MiB', 'VmHWM (peak) MiB', 'goal MiB'], rows: memRows },
      { title: 'latency through HAProxy: generated config vs hand-written minimal', columns: ['mode', 'measure', 'config', ...LATENCY_COLUMNS, 'ours vs minimal'], rows: latencyRows },
    ],
    notes,
  };
}

export const footprint: Scenario = { name: 'footprint', title: '5. Footprint', run };
