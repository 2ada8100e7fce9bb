/**
 * Scenario 4: scale. Many manifests at start and one edited among them (scale-manifests.ts); one
 * path with many instances in ZooKeeper and etcd against a plain client's read (scale-instances.ts).
 */
import { REGISTRIES, type BenchEnv, type RegistryKind } from '../bench-env.ts';
import { LATENCY_COLUMNS, latencyCells } from '../report.ts';
import type { Scenario, ScenarioResult, Size } from '../scenario.ts';
import { ms, summarize } from '../stats.ts';
import { instancesRun } from './scale-instances.ts';
import { manifestRun, type ManifestRun } from './scale-manifests.ts';

type Config = readonly [RegistryKind | 'memory', 'haproxy' | 'none'];
const SIZES = {
  smoke: { manifests: 20, coldRuns: 1, edits: 5, configs: [['memory', 'none'], ['memory', 'haproxy']] as readonly Config[], instances: 200, syncs: 1, changes: 2, registries: REGISTRIES },
  full: {
    manifests: 1000,
    coldRuns: 3,
    edits: 50,
    configs: [['memory', 'none'], ['zookeeper', 'none'], ['memory', 'haproxy']] as readonly Config[],
    instances: 10_000,
    syncs: 3,
    changes: 5,
    registries: REGISTRIES,
  },
} as const;

const verdict = (value: number, goal: number, what: string) => `${what} ${ms(value)} ms ${value <= goal ? 'meets' : 'MISSES'} the ≤ ${goal} ms goal`;

async function run(env: BenchEnv, size: Size): Promise<ScenarioResult> {
  const sz = SIZES[size];
  const notes: string[] = [];
  const manifestRows: string[][] = [];
  for (const [registry, proxy] of sz.configs) {
    const runs: ManifestRun[] = [];
    // One cold start with HAProxy (each starts its own HAProxy with 500 listeners).
    for (let r = 0; r < (proxy === 'haproxy' ? 1 : sz.coldRuns); r++) runs.push(await manifestRun(env, registry, proxy, sz.manifests, r === 0 ? sz.edits : 0));
    const reloads = runs.reduce((s, r) => s + r.reloadsDuringEdits, 0);
    const row = (what: string, xs: readonly number[], extra: string) => [registry, proxy, what, ...latencyCells(summarize(xs)), extra];
    manifestRows.push(row('startAgent() → returned', runs.map((r) => r.started), ''));
    manifestRows.push(row(`startAgent() → all ${sz.manifests} Ready`, runs.map((r) => r.allReady), ''));
    manifestRows.push(row('one Subscription edited → applied', runs.flatMap((r) => r.edits), `${reloads} reloads`));
    const cold = summarize(runs.map((r) => r.allReady));
    const edit = summarize(runs.flatMap((r) => r.edits));
    notes.push(`${registry} + proxy ${proxy}: ${verdict(cold.max, 1000, `cold start (worst of ${cold.n})`)}; ${verdict(edit.p99, 50, 'edit → applied p99')}.`);
  }

  const instanceRows: string[][] = [];
  for (const kind of sz.registries) {
    const r = await instancesRun(env, kind, sz.instances, sz.syncs, sz.changes);
    const raw = summarize(r.rawRead);
    const ratio = (xs: readonly number[]) => `${(summarize(xs).p50 / raw.p50).toFixed(2)}×`;
    const row = (what: string, xs: readonly number[], extra: string) => [kind, what, ...latencyCells(summarize(xs)), extra];
    instanceRows.push(row(`plain client writes ${sz.instances} (500 in flight)`, [r.writeMs], ''));
    instanceRows.push(row('plain client reads them all (the floor)', r.rawRead, '1.00×'));
    instanceRows.push(row('Subscription added → listed', r.synced, ratio(r.synced)));
    instanceRows.push(row(`Subscription added → HAProxy serving ${sz.instances}`, r.ready, ratio(r.ready)));
    instanceRows.push(row(`1 % replaced (${Math.round(sz.instances / 100)} out, ${Math.round(sz.instances / 100)} in) → applied`, r.change, `${r.reloadsDuringChanges} reloads`));
    instanceRows.push(row('… agent process CPU per change (ms of CPU)', r.cpu, ''));
    const listed = summarize(r.synced).p50 / raw.p50;
    const change = summarize(r.change);
    notes.push(
      `${kind}, ${sz.instances} instances: initial sync (listed) ${listed.toFixed(2)}× the plain read at p50 ${listed <= 1.5 ? '(goal ≤ 1.5× met)' : '(goal ≤ 1.5× MISSED)'}; ${verdict(change.p99, 100, '1 % change p99')}; ${r.reloadsDuringChanges} reloads during the changes ${r.reloadsDuringChanges === 0 ? '(goal 0 met)' : `(goal 0 MISSED: ${[...new Set(r.reloadReasons)].join('; ')})`}.`,
    );
  }
  notes.push(
    'Manifests: half Services (no checks, each registering its own address) and half Subscriptions to those paths (check none), in a static in-process source; "all Ready" means every Service registered and every Subscription serving its instance. The edit toggles a maintenance address in one Subscription (a spec change applied through the runtime API).',
    'Cold start with HAProxy: every new listener needs a reload, and a Subscription reconcile waits for the reload that makes its listener live. With the queue\'s former 4 workers each reload carried ≈ 4 listeners and 500 listeners took ≈ 90 s; the queue now runs up to 512 reconciles at once (they are I/O waits), so one or two coalesced reloads carry them all.',
    'Instances: nothing listens at the registered addresses and HAProxy never connects (check none). HAProxy slots grow in powers of two (10,000 → 16,384), so the initial sync reloads once to create the listener with its slots and a 1 % change fits the free slots. CPU is process.cpuUsage() of the bench process, which holds the agent and the bulk client (whose 200 writes are a small part).',
  );
  return {
    tables: [
      { title: `${sz.manifests} manifests (registry, proxy)`, columns: ['registry', 'proxy', 'measure', ...LATENCY_COLUMNS, 'reloads'], rows: manifestRows },
      { title: `${sz.instances} instances under one path`, columns: ['registry', 'measure', ...LATENCY_COLUMNS, 'vs plain read (p50) / reloads'], rows: instanceRows },
    ],
    notes,
  };
}

export const scale: Scenario = { name: 'scale', title: '4. Scale', run };
