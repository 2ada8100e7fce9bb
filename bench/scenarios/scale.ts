/**
 * Scenario 4: scale. Many manifests at start and one edited among them (scale-manifests.ts). One
 * path with many instances is the `instances` scenario.
 */
import type { BenchEnv, RegistryKind } from '../bench-env.ts';
import { LATENCY_COLUMNS, latencyCells } from '../report.ts';
import type { Scenario, ScenarioResult, Size } from '../scenario.ts';
import { ms, summarize } from '../stats.ts';
import { manifestRun, type ManifestRun } from './scale-manifests.ts';

type Config = readonly [RegistryKind | 'memory', 'haproxy' | 'none'];
const SIZES = {
  smoke: { manifests: 20, coldRuns: 1, edits: 5, configs: [['memory', 'none'], ['memory', 'haproxy']] as readonly Config[] },
  full: {
    manifests: 1000,
    coldRuns: 3,
    edits: 50,
    configs: [['memory', 'none'], ['zookeeper', 'none'], ['memory', 'haproxy']] as readonly Config[],
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

  notes.push(
    'Manifests: half Services (no checks, each registering its own address) and half Subscriptions to those paths (check none), in a static in-process source; "all Ready" means every Service registered and every Subscription serving its instance. The edit toggles a maintenance address in one Subscription (a spec change applied through the runtime API).',
    'Cold start with HAProxy: every new listener needs a reload, and a Subscription reconcile waits for the reload that makes its listener live. With the queue\'s former 4 workers each reload carried ≈ 4 listeners and 500 listeners took ≈ 90 s; the queue now runs up to 512 reconciles at once (they are I/O waits), so one or two coalesced reloads carry them all.',
  );
  return {
    tables: [
      { title: `${sz.manifests} manifests (registry, proxy)`, columns: ['registry', 'proxy', 'measure', ...LATENCY_COLUMNS, 'reloads'], rows: manifestRows },
    ],
    notes,
  };
}

export const scale: Scenario = { name: 'scale', title: '4. Scale', run };
