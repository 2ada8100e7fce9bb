/**
 * Scenario 3: zero failed requests under churn. Short-connection and keep-alive HTTP loads run
 * through the agent's HAProxy while, every 100 ms, a plain registry client adds an instance or
 * deregisters one (HAProxy drains it, then frees its slot). The backends themselves stay up: this
 * measures what membership changes cost clients, not what backend deaths do (scenario 2).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { startHttpBackend, type TestBackend } from '../../test/harness/backends.ts';
import { eventually } from '../../test/harness/eventually.ts';
import { freePort } from '../../test/harness/ports.ts';
import { StaticSource, subscription } from '../../test/harness/static-source.ts';
import { REGISTRIES, type BenchEnv, type RegistryKind, type Updates } from '../bench-env.ts';
import { describeErrors, type LoadStats } from '../load/http-load.ts';
import { startLoad } from '../load/threaded-load.ts';
import { LATENCY_COLUMNS, latencyCells, speedup } from '../report.ts';
import type { Scenario, ScenarioResult, Size } from '../scenario.ts';
import { now, summarize } from '../stats.ts';

const SIZES = {
  smoke: { short: 600, registries: ['zookeeper'] as readonly RegistryKind[], maxMs: 20_000 },
  // 100k short connections per run take minutes on a contended 2-vCPU box; BENCH_CHURN_SHORT raises it.
  full: { short: Number(process.env.BENCH_CHURN_SHORT ?? 15_000), registries: REGISTRIES, maxMs: 300_000 },
} as const;
const MODES: readonly Updates[] = ['reload', 'runtime'];
const POOL = 6;
const TICK_MS = 100;

interface Run {
  short: LoadStats;
  keepAlive: LoadStats;
  changes: number;
  reloads: number;
  seconds: number;
}

/** Deterministic pseudo-random numbers (mulberry32), so both modes see the same change sequence. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function measure(env: BenchEnv, kind: RegistryKind, mode: Updates, size: Size): Promise<Run> {
  const sz = SIZES[size];
  const path = `/bench/churn/${kind}-${mode}-${Date.now()}`;
  const port = await freePort();
  const backends: TestBackend[] = [];
  env.defer(() => Promise.all(backends.map((b) => b.close())));
  for (let i = 0; i < POOL; i++) backends.push(await startHttpBackend(`h${i}`));
  const client = await env.client(kind);
  const registered = new Set<number>();
  const setMember = async (i: number, on: boolean) => {
    const b = backends[i]!;
    if (on) await client.register(path, { host: '127.0.0.1', port: b.port, name: b.name });
    else await client.deregister(path, b.name);
    if (on) registered.add(i);
    else registered.delete(i);
  };
  for (let i = 0; i < 3; i++) await setMember(i, true);
  const source = new StaticSource();
  source.set('sub.yaml', subscription('churn', `service: ${path}\nlisten: { port: ${port} }\nmode: http\ncheck: { type: none }`));
  const agent = await env.agent(kind, mode, source);
  await eventually(async () => {
    const res = await fetch(`http://127.0.0.1:${port}/`);
    if (res.status !== 200) throw new Error(`status ${res.status}`);
  }, { timeoutMs: 20_000 });
  await env.settle(agent);

  const reloadsBefore = agent.reloads();
  let done = false;
  const started = now();
  const short = startLoad({ kind: 'short', port, workers: 4, maxMs: sz.maxMs, count: sz.short });
  const keepAlive = startLoad({ kind: 'keep-alive', port, workers: 4, maxMs: sz.maxMs });
  const random = prng(9);
  let changes = 0;
  const churn = (async () => {
    while (!done) {
      const t = now();
      const canAdd = registered.size < POOL - 1;
      const canRemove = registered.size > 2;
      const add = canAdd && (!canRemove || random() < 0.5);
      const choices = [...Array(POOL).keys()].filter((i) => registered.has(i) !== add);
      await setMember(choices[Math.floor(random() * choices.length)]!, add);
      changes++;
      await sleep(Math.max(0, TICK_MS - (now() - t)));
    }
  })();
  const shortStats = await short.finished.finally(() => {
    done = true;
    keepAlive.stop();
  });
  const [keepAliveStats] = await Promise.all([keepAlive.finished, churn]);
  return { short: shortStats, keepAlive: keepAliveStats, changes, reloads: agent.reloads() - reloadsBefore, seconds: (now() - started) / 1000 };
}

async function run(env: BenchEnv, size: Size): Promise<ScenarioResult> {
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const kind of SIZES[size].registries) {
    const runs = new Map<Updates, Run>();
    for (const mode of MODES) runs.set(mode, await measure(env, kind, mode, size));
    const base = runs.get('reload')!;
    for (const mode of MODES) {
      const r = runs.get(mode)!;
      for (const [what, stats, b] of [['short connections', r.short, base.short], ['keep-alive requests', r.keepAlive, base.keepAlive]] as const) {
        const s = summarize(stats.latencies);
        rows.push([kind, mode, what, `${stats.ok + stats.failed}`, `**${stats.failed}**`, describeErrors(stats), ...latencyCells(s).slice(1), mode === 'reload' ? 'baseline' : speedup(s, summarize(b.latencies)), `${r.reloads} / ${r.changes} in ${r.seconds.toFixed(0)} s`]);
      }
    }
    const ours = runs.get('runtime')!;
    const oursFailed = ours.short.failed + ours.keepAlive.failed;
    notes.push(`${kind}: ours failed ${oursFailed} requests ${oursFailed === 0 ? '(goal 0 met)' : '(goal 0 MISSED)'}; the baseline failed ${base.short.failed + base.keepAlive.failed} while reloading ${base.reloads} times for ${base.changes} changes (its reload manager coalesces changes arriving within 500 ms).`);
  }
  notes.push('Loads: 4 short-connection workers (raw sockets, `Connection: close`) until the short-connection count is reached, and 4 keep-alive workers (node http.Agent) for the same time; Subscription `mode: http`, `check: none`. The latency columns are per request, loopback, client and servers on the same 2 vCPUs as HAProxy and the agent.');
  return {
    tables: [{ title: 'requests through HAProxy while an instance is added or removed every 100 ms', columns: ['registry', 'updates', 'load', 'requests', 'failed', 'errors', ...LATENCY_COLUMNS.slice(1), 'latency vs baseline (× faster)', 'reloads / changes'], rows }],
    notes,
  };
}

export const churn: Scenario = { name: 'churn', title: '3. Zero failed requests under churn', run };
