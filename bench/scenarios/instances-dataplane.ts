/**
 * The data plane alone, A/B in one run: two HaproxyProxy instances holding the same N servers,
 * one editing config slots with the Lua slot command ('runtime'), one with HAProxy's own commands
 * ('native'); each takes the same kind of 1 % change (K servers out from anywhere in the list, K
 * new in) through update(), interleaved, timed from the call until HAProxy took every command.
 */
import { HaproxyProxy } from '../../src/haproxy/haproxy-proxy.ts';
import { SubscriptionSpec } from '../../src/manifest/schema.ts';
import { listenerSpecOf } from '../../src/reconcile/listener-spec.ts';
import { freePort } from '../../test/harness/ports.ts';
import type { BenchEnv } from '../bench-env.ts';
import { now } from '../stats.ts';

const MODES = ['runtime', 'native'] as const;
const ep = (i: number) => ({ host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 8000 });

/** update() times per mode, ms. */
export async function dataplaneAB(env: BenchEnv, n: number, reps: number): Promise<Record<(typeof MODES)[number], number[]>> {
  const k = Math.max(1, Math.round(n / 100));
  const spec = listenerSpecOf(SubscriptionSpec.parse({ service: '/bench/dp', listen: { port: await freePort() }, check: { type: 'none' } }));
  const sides = [];
  for (const mode of MODES) {
    const p = new HaproxyProxy({ dir: await env.tempDir(`dp-${mode}`), updates: mode, drainTimeoutMs: 1 });
    env.defer(() => p.close());
    await p.start();
    await p.apply('dp', { ...spec, listen: { ...spec.listen, port: await freePort() } }, Array.from({ length: n }, (_, i) => ep(i)));
    sides.push({ mode, p, live: Array.from({ length: n }, (_, i) => i), next: n });
  }
  const out = { runtime: [] as number[], native: [] as number[] };
  for (let r = 0; r < reps; r++) {
    for (const s of r % 2 ? [...sides].reverse() : sides) {
      const gone = Array.from({ length: k }, () => s.live.splice(Math.floor(Math.random() * s.live.length), 1)[0]!);
      const fresh = Array.from({ length: k }, () => s.next++);
      s.live.push(...fresh);
      const t0 = now();
      await s.p.update('dp', { set: fresh.map(ep), removed: gone.map(ep) });
      out[s.mode].push(now() - t0);
      // The drain tick (500 ms) frees the removed servers' slots before the next change.
      await new Promise((res) => setTimeout(res, 1200));
    }
  }
  return out;
}
