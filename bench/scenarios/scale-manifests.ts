/**
 * Scenario 4, manifests half: N manifests (Services and a Subscription to each one's path) at agent
 * start → every object Ready; then one manifest edited → the edit applied, over many edits.
 */
import { spawnBulk } from '../load/bulk-process.ts';
import { testBind } from '../../src/net/test-bind.ts';
import { StaticSource, service, subscription } from '../../test/harness/static-source.ts';
import { applied, isTrue, untilStatus } from '../agent-wait.ts';
import type { BenchEnv, RegistryKind } from '../bench-env.ts';
import { now } from '../stats.ts';
import type { ObjectKey } from '../../src/object-key.ts';

export interface ManifestRun {
  /** startAgent() called → every object Ready, ms. */
  readonly allReady: number;
  /** startAgent() called → it returned (HAProxy started, status API up), ms. */
  readonly started: number;
  /** One Subscription's spec edited → that generation applied (ProxyConfigured), ms each. */
  readonly edits: readonly number[];
  readonly reloadsDuringEdits: number;
}

const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 240_000);
/** Registry servers already warmed (the later cold starts find them warm from the earlier ones). */
const warmed = new Set<string>();

/** One cold start of `n` manifests over `registry` with `proxy`, then `edits` single-manifest edits. */
export async function manifestRun(env: BenchEnv, registry: RegistryKind | 'memory', proxy: 'haproxy' | 'none', n: number, edits: number): Promise<ManifestRun> {
  const pairs = Math.floor(n / 2);
  const base = `/bench/scale/m-${registry}-${proxy}-${Date.now()}`;
  // Below the OS's ephemeral range (32768 up), which the ports of outgoing connections come from: one
  // taken between this pick and HAProxy's bind once left a Subscription at ListenAddressInUse.
  const ports: number[] = [];
  for (let p = 20_000; ports.length < pairs && p < 32_768; p++) if (proxy === 'none' || (await testBind('127.0.0.1', p)) === undefined) ports.push(p);
  if (ports.length < pairs) throw new Error(`no ${pairs} free ports in 20000-32767`);
  const subText = (i: number, maint: boolean) =>
    subscription(`c${i}`, `service: ${base}/s${i}\nlisten: { port: ${ports[i]} }\ncheck: { type: none }${maint ? `\nmaintenance: ["127.0.0.1:${30_000 + i}"]` : ''}`);
  const texts: [string, string][] = [];
  for (let i = 0; i < pairs; i++) {
    // Each Service registers a distinct address (no checks: healthy at once); nothing listens there,
    // and with check none HAProxy never connects.
    texts.push([`svc-${i}.yaml`, service(`s${i}`, `path: ${base}/s${i}\nport: ${30_000 + i}\ninstanceId: s${i}`)]);
    texts.push([`sub-${i}.yaml`, subText(i, false)]);
  }
  const keys = Array.from({ length: pairs }, (_, i) => [`service/s${i}` as const, `subscription/c${i}` as const]).flat();
  // The registry server is started (once per run, lazily) before the clock, and a fresh ZooKeeper is
  // warmed once by another process writing and reading as many nodes: its JVM's boot and JIT warm-up
  // are not the agent's cold start (with the parse still outside the clock, a first run on a fresh
  // server took 1.18-1.23 s, against 0.76-0.77 s warmed; the agent's ZooKeeper client code is
  // JIT-cold in both).
  const url = await env.url(registry);
  if (registry === 'zookeeper' && !warmed.has(url)) {
    warmed.add(url);
    const w = await spawnBulk('zookeeper', url.replace(/^\w+:\/\//, ''), `${base}-warm`, pairs * 2);
    await w.rawRead();
    await w.close();
  }
  const t0 = now();
  // Parsed inside the clock, as an agent starting on a directory of manifests parses them.
  const source = new StaticSource(texts);
  const agent = await env.agent(registry, 'runtime', source, proxy);
  const started = now() - t0;
  const { agent: a } = agent.running;
  const ready = new Set<ObjectKey>(keys.filter((k) => isTrue(a, k, 'Ready')));
  const allReady =
    (await untilStatus(a, (key) => {
      if (key && isTrue(a, key, 'Ready')) ready.add(key);
      else if (key) ready.delete(key);
      return ready.size === keys.length;
    }, TIMEOUT_MS, `${keys.length} objects Ready`).catch((err: unknown) => {
      // Say which objects never got Ready, and why, so an intermittent stall can be diagnosed.
      const stuck = keys.filter((k) => !ready.has(k)).slice(0, 5).map((k) => `${k}: ${JSON.stringify(a.viewOf(k)?.status.conditions.map((c) => `${c.type}=${c.status}/${c.reason} ${c.message}`))}`);
      throw new Error(`${registry}+${proxy}: ${(err as Error).message}; ${keys.length - ready.size} not Ready, e.g. ${stuck.join('; ')}`);
    })) - t0;
  if (proxy === 'haproxy') await env.settle(agent, 1000);
  else await new Promise((r) => setTimeout(r, 300));

  const reloadsBefore = agent.reloads();
  const samples: number[] = [];
  for (let e = 0; e < edits; e++) {
    const i = e % pairs;
    const key = `subscription/c${i}` as const;
    const generation = (a.manifests.get(key)?.generation ?? 0) + 1;
    const t = now();
    // Hold a non-member address in maintenance (or release it): a real spec change, applied at runtime.
    source.set(`sub-${i}.yaml`, subText(i, Math.floor(e / pairs) % 2 === 0));
    samples.push((await untilStatus(a, () => applied(a, key, generation, 'ProxyConfigured'), TIMEOUT_MS, `edit ${e} applied`)) - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  const reloadsDuringEdits = agent.reloads() - reloadsBefore;
  await agent.stop();
  return { allReady, started, edits: samples, reloadsDuringEdits };
}
