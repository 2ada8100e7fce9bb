/**
 * Issue 13's data-plane figures through a real registry: one path holding N instances (written by
 * a plain bulk client) — a Subscription's initial sync against a plain client's read of the same
 * data in the same run, then 1 % of the instances replaced, timed until HAProxy has the new set,
 * next to the same changes in `updates: reload` mode (the reload-per-change baseline); and one
 * Subscription grown 1 → N instances and back through the registry, with reloads and the HAProxy
 * worker pid watched.
 */
import { REGISTRIES, type BenchEnv } from '../bench-env.ts';
import { LATENCY_COLUMNS, latencyCells } from '../report.ts';
import type { Scenario, ScenarioResult, Size } from '../scenario.ts';
import { ms, summarize } from '../stats.ts';
import { dataplaneAB } from './instances-dataplane.ts';
import { growthRun, instancesRun, watchCpuRun } from './scale-instances.ts';

const SIZES = {
  smoke: { instances: 200, syncs: 1, changes: 2, baseline: 1, dataplaneReps: 2, steps: [1, 10, 100, 200] },
  // 15 changes and 4 syncs: with 5 and 2 the p50s of two quiet runs differed by 2x (CPU per change 19.5 / 27.2 ms, serving 2.04x / 1.50x).
  full: { instances: 10_000, syncs: 4, changes: 15, baseline: 3, dataplaneReps: 8, steps: [1, 100, 1000, 10_000] },
} as const;

async function run(env: BenchEnv, size: Size): Promise<ScenarioResult> {
  const sz = SIZES[size];
  const n = sz.instances;
  const rows: string[][] = [];
  const growRows: string[][] = [];
  const notes: string[] = [];
  for (const kind of REGISTRIES) {
    const r = await instancesRun(env, kind, n, sz.syncs, sz.changes);
    const native = await instancesRun(env, kind, n, 1, sz.changes, 'native');
    const base = await instancesRun(env, kind, n, 1, sz.baseline, 'reload');
    const watchAlone = await watchCpuRun(env, kind, n, sz.changes);
    const raw = summarize(r.rawRead);
    const ratio = (xs: readonly number[]) => `${(summarize(xs).p50 / raw.p50).toFixed(2)}×`;
    const row = (what: string, xs: readonly number[], extra: string) => [kind, what, ...latencyCells(summarize(xs)), extra];
    const k = Math.round(n / 100);
    rows.push(row('plain client reads them all (the floor)', r.rawRead, '1.00×'));
    rows.push(row('Subscription added → listed', r.synced, ratio(r.synced)));
    rows.push(row(`Subscription added → HAProxy serving ${n}`, r.ready, ratio(r.ready)));
    rows.push(row(`… HAProxy alone: haproxy -c of that config (${n} servers), no agent`, r.parseConfig, ratio(r.parseConfig)));
    rows.push(row(`1 % replaced (${k} out, ${k} in), first write → applied`, r.change, `${r.reloadsDuringChanges} reloads`));
    rows.push(row('… last write acknowledged → applied', r.changeFromAck, ''));
    rows.push(row('… agent CPU per change, ms', r.cpu, ''));
    rows.push(row("… the registry's watch alone (its client and cache, no agent): CPU per change, ms", watchAlone.cpu, ''));
    rows.push(row('A/B: HAProxy\'s own commands (no Lua slot command): last write acknowledged → applied', native.changeFromAck, `${native.reloadsDuringChanges} reloads`));
    rows.push(row('A/B: … agent CPU per change, ms', native.cpu, ''));
    rows.push(row('baseline (reload every change): first write → applied', base.change, `${base.reloadsDuringChanges} reloads`));
    rows.push(row('baseline: last write acknowledged → applied', base.changeFromAck, ''));
    rows.push(row('baseline: CPU per change, ms', base.cpu, ''));
    const ready = summarize(r.ready).p50 / raw.p50;
    const change = summarize(r.changeFromAck);
    const cpu = summarize(r.cpu);
    notes.push(
      `${kind}: Subscription added → serving ${n} ${ready.toFixed(2)}× the plain read at p50 (goal ≤ 1.5× ${ready <= 1.5 ? 'met' : 'MISSED'}; HAProxy's parse of the config alone is ${ratio(r.parseConfig)}); 1 % change acknowledged → applied p99 ${ms(change.p99)} ms (goal ≤ 100 ms ${change.p99 <= 100 ? 'met' : 'MISSED'}), ${ms(summarize(native.changeFromAck).p99)} ms with HAProxy's own commands, baseline p99 ${ms(summarize(base.changeFromAck).p99)} ms; CPU per change p50 ${ms(cpu.p50)} ms (goal ≤ 20 ms ${cpu.p50 <= 20 ? 'met' : 'MISSED'}) (the registry's watch alone, the same changes with no agent: p50 ${ms(summarize(watchAlone.cpu).p50)} ms); ${r.reloadsDuringChanges} reloads.`,
    );
    const g = await growthRun(env, kind, sz.steps);
    for (const s of g.steps) growRows.push([kind, `→ ${s.count}`, ms(s.ms)]);
    notes.push(`${kind}: growth 1 → ${sz.steps.at(-1)} → 1 through the registry: ${g.reloads} reloads (goal 0 ${g.reloads === 0 ? 'met' : 'MISSED'}), HAProxy worker pid ${g.samePid ? 'unchanged' : 'CHANGED'}.`);
  }
  const dp = await dataplaneAB(env, n, sz.dataplaneReps);
  const dpRows = (['runtime', 'native'] as const).map((m) => [m === 'runtime' ? 'Lua slot command (runtime)' : "HAProxy's own commands (native)", ...latencyCells(summarize(dp[m]))]);
  notes.push(
    `Data plane alone (HaproxyProxy.update() of a random 1 % at ${n} servers, the two modes interleaved in this run): p50 ${ms(summarize(dp.runtime).p50)} ms with the Lua slot command, ${ms(summarize(dp.native).p50)} ms with HAProxy's own commands (${(summarize(dp.native).p50 / summarize(dp.runtime).p50).toFixed(1)}×).`,
  );
  notes.push(
    'Instances: nothing listens at the registered addresses and HAProxy never connects (check none). Times end at the first status change whose backend list holds the new set, which the agent writes once HAProxy took the runtime commands. CPU is process.cpuUsage() of the bench process, which runs the agent; the bulk client (its 2 % of writes) and HAProxy are processes of their own.',
  );
  return {
    tables: [
      { title: `${n} instances under one path`, columns: ['registry', 'measure', ...LATENCY_COLUMNS, 'vs plain read (p50) / reloads'], rows },
      { title: `the data plane alone: update() of a random 1 % at ${n} servers, ms`, columns: ['slot edits', ...LATENCY_COLUMNS], rows: dpRows },
      { title: `one Subscription grown 1 → ${sz.steps.at(-1)} instances and back (registry writes start → status shows the count)`, columns: ['registry', 'step', 'ms'], rows: growRows },
    ],
    notes,
  };
}

export const instances: Scenario = { name: 'instances', title: 'Data plane at 10,000 instances (registry → HAProxy)', run };
