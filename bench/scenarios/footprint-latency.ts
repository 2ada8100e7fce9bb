/**
 * Footprint, latency: what HAProxy with our generated config adds over a hand-written minimal one
 * (same backend, same client, rounds interleaved).
 */
import { startHttpBackend } from '../../test/harness/backends.ts';
import { freePort } from '../../test/harness/ports.ts';
import { StaticSource, service, subscription } from '../../test/harness/static-source.ts';
import type { BenchEnv } from '../bench-env.ts';
import { startPlainHaproxy } from '../load/plain-haproxy.ts';
import { startLoad } from '../load/threaded-load.ts';
import { latencyCells } from '../report.ts';
import type { Size } from '../scenario.ts';
import { summarize } from '../stats.ts';

export const LATENCY_SIZES = { smoke: { rounds: 2, requests: 300 }, full: { rounds: 6, requests: 5000 } } as const;

/** Rows: mode, measure, config, n/p50/p90/p99/max, ours vs minimal. */
export async function latency(env: BenchEnv, size: Size): Promise<string[][]> {
  const sz = LATENCY_SIZES[size];
  const backend = await startHttpBackend('footprint');
  env.defer(() => backend.close());
  const rows: string[][] = [];
  for (const mode of ['tcp', 'http'] as const) {
    const ours = await freePort();
    const plain = await freePort();
    const control = await freePort();
    const source = new StaticSource();
    source.set('svc.yaml', service('backend', `path: /bench/footprint/${mode}\nport: ${backend.port}`));
    source.set('sub.yaml', subscription('backend', `service: /bench/footprint/${mode}\nlisten: { port: ${ours} }\nmode: ${mode}\ncheck: { type: none }`));
    const agent = await env.agent('memory', 'runtime', source);
    const hp = await startPlainHaproxy(await env.tempDir('plain'), mode, plain, backend.port);
    env.defer(() => hp.stop());
    // The minimal config again: what it differs from its twin by is this run's noise floor.
    const twin = await startPlainHaproxy(await env.tempDir('control'), mode, control, backend.port);
    env.defer(() => twin.stop());
    await untilHttp(ours, 20_000);
    await env.settle(agent);
    const ports = { ours, plain, control } as const;
    const names = ['ours', 'plain', 'control'] as const;
    const samples = Object.fromEntries(names.map((n) => [n, { short: [] as number[], keep: [] as number[] }])) as Record<(typeof names)[number], { short: number[]; keep: number[] }>;
    for (let r = 0; r < sz.rounds; r++) {
      // Rotate which goes first, so drift on this shared machine falls on all alike.
      const order = names.map((_, i) => names[(i + r) % names.length]!);
      for (const which of order) {
        const port = ports[which];
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
      const c = summarize(samples.control[kind]);
      const what = kind === 'short' ? 'new connection + request' : 'request on a kept-alive connection';
      const diff = (a: { p50: number; p99: number }) => `${pct(a.p50, p.p50)} p50, ${pct(a.p99, p.p99)} p99`;
      rows.push([mode, what, 'hand-written minimal', ...latencyCells(p), '']);
      rows.push([mode, what, 'hand-written minimal again (control)', ...latencyCells(c), diff(c)]);
      rows.push([mode, what, 'generated (ours)', ...latencyCells(o), diff(o)]);
    }
    await twin.stop();
    await hp.stop();
    await agent.stop();
  }
  return rows;
}

const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)} %`;

/** Poll (bounded) until an HTTP GET through `port` answers 200. */
async function untilHttp(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await fetch(`http://127.0.0.1:${port}/`).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no HTTP answer through port ${port} within ${timeoutMs} ms`);
}

