/**
 * Data plane growth (issue 13), HaproxyProxy against a real HAProxy 2.6 with no registry in the
 * way: one listener grows 1 → N servers in steps and back to 1 (reloads and the worker pid are
 * watched throughout), and servers are added one at a time past the 8-slot pool, each timed from
 * apply() until HAProxy's own stats show it routable — next to the same adds in `updates: reload`
 * mode (the pre-dynamic-server behaviour for every add) in the same run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaproxyProxy } from '../../src/haproxy/haproxy-proxy.ts';
import { parseShowProc, sendCommand } from '../../src/haproxy/runtime-api.ts';
import type { Endpoint, ListenerSpec } from '../../src/proxy/proxy.ts';
import { freePort } from '../../test/harness/ports.ts';
import type { BenchEnv } from '../bench-env.ts';
import { LATENCY_COLUMNS, latencyCells } from '../report.ts';
import type { Scenario, ScenarioResult, Size } from '../scenario.ts';
import { ms, now, summarize } from '../stats.ts';

const SIZES = { smoke: { steps: [1, 10, 100, 1000], adds: 20 }, full: { steps: [1, 10, 100, 1000, 5000, 10_000], adds: 100 } } as const;

const spec = (port: number): ListenerSpec => ({
  listen: { host: '127.0.0.1', port },
  protocol: 'tcp',
  balance: 'round-robin',
  check: { kind: 'none' },
  timeouts: { connectMs: 1000, clientMs: 10_000, serverMs: 10_000 },
});
// Addresses nobody listens on: HAProxy needs no backend to hold a server, only its stats matter here.
const servers = (n: number): Endpoint[] => Array.from({ length: n }, (_, i) => ({ host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 9000 }));

async function withProxy<T>(updates: 'runtime' | 'reload', fn: (p: HaproxyProxy, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ds-bench-growth-'));
  const p = new HaproxyProxy({ dir, updates, drainTimeoutMs: 0, reloadDebounceMs: 0, minReloadIntervalMs: 0 });
  try {
    await p.start();
    return await fn(p, dir);
  } finally {
    await p.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const worker = async (dir: string) => parseShowProc(await sendCommand(join(dir, 'master.sock'), 'show proc')).find((x) => x.type === 'worker')?.pid;

/** Until HAProxy's stats list `count` servers of `name` not in maintenance (bounded). Read through the proxy: see stats-guard.ts. */
async function untilServing(p: HaproxyProxy, name: string, count: number): Promise<void> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 2))) {
    const rows = await p.status(name).catch(() => undefined);
    if (rows && rows.filter((r) => r.state !== 'maintenance').length === count) return;
  }
  throw new Error(`${name}: never ${count} servers in service`);
}

async function growth(steps: readonly number[]) {
  return withProxy('runtime', async (p, dir) => {
    const port = await freePort();
    const rows: string[][] = [];
    await p.apply('grow', spec(port), servers(1));
    const pid = await worker(dir);
    const reloads0 = p.reloadCount;
    const path = [...steps.slice(1), ...[...steps].reverse().slice(1)];
    for (const n of path) {
      const t0 = now();
      const r = await p.apply('grow', spec(port), servers(n));
      await untilServing(p, 'grow', n);
      rows.push([`→ ${n}`, ms(now() - t0), String(r.runtimeOps), String(p.reloadCount - reloads0), (await worker(dir)) === pid ? 'same' : 'NEW']);
    }
    return { rows, reloads: p.reloadCount - reloads0, samePid: (await worker(dir)) === pid };
  });
}

async function adds(updates: 'runtime' | 'reload', k: number): Promise<number[]> {
  return withProxy(updates, async (p, dir) => {
    const port = await freePort();
    await p.apply('adds', spec(port), servers(8));
    const out: number[] = [];
    for (let n = 9; n < 9 + k; n++) {
      const t0 = now();
      await p.apply('adds', spec(port), servers(n));
      await untilServing(p, 'adds', n);
      out.push(now() - t0);
    }
    return out;
  });
}

async function run(_env: BenchEnv, size: Size): Promise<ScenarioResult> {
  const sz = SIZES[size];
  const g = await growth(sz.steps);
  const runtime = summarize(await adds('runtime', sz.adds));
  const reload = summarize(await adds('reload', Math.min(sz.adds, 30)));
  return {
    tables: [
      { title: `one listener grown 1 → ${sz.steps.at(-1)} servers and back (apply → HAProxy stats show the set)`, columns: ['step', 'ms', 'runtime commands', 'reloads so far', 'worker pid'], rows: g.rows },
      {
        title: 'one server added at a time past the 8-slot pool: apply → in HAProxy stats',
        columns: ['updates', ...LATENCY_COLUMNS, 'vs reload'],
        rows: [
          ['runtime (dynamic servers)', ...latencyCells(runtime), `${(reload.p50 / runtime.p50).toFixed(1)}× faster (p50)`],
          ['reload (baseline, every add)', ...latencyCells(reload), '1.0×'],
        ],
      },
    ],
    notes: [
      `growth 1 → ${sz.steps.at(-1)} → 1: ${g.reloads} reloads, worker pid ${g.samePid ? 'unchanged' : 'CHANGED'}.`,
      `add past the pool → routable p99 ${ms(runtime.p99)} ms ${runtime.p99 <= 25 ? 'meets' : 'MISSES'} the ≤ 25 ms goal (HaproxyProxy alone; no registry in the path).`,
    ],
  };
}

export const growthScenario: Scenario = { name: 'growth', title: 'Data plane growth past the slot pool', run };
