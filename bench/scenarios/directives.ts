/**
 * What each directive of the generated HAProxy config costs on kept-alive HTTP requests: the
 * hand-written minimal config, the same with one directive (or one group) added, and the whole
 * generated config, each as a plain `haproxy -db` side by side, same backend and client, rounds
 * interleaved. The footprint scenario found the generated config 17–21 % slower; this finds why.
 */
import { mkdir } from 'node:fs/promises';
import { renderConfig, type ListenerRender } from '../../src/haproxy/config-render.ts';
import { startHttpBackend } from '../../test/harness/backends.ts';
import { freePort } from '../../test/harness/ports.ts';
import type { BenchEnv } from '../bench-env.ts';
import { minimalConfig, startHaproxyConfig } from '../load/plain-haproxy.ts';
import { startLoad } from '../load/threaded-load.ts';
import { LATENCY_COLUMNS, latencyCells } from '../report.ts';
import type { Scenario, ScenarioResult, Size } from '../scenario.ts';
import { summarize } from '../stats.ts';

const SIZES = { smoke: { rounds: 2, requests: 300 }, full: { rounds: 20, requests: 1200 } } as const;

type Variant = { readonly name: string; readonly config: (port: number, backend: number, dir: string) => string; readonly masterWorker?: boolean };
const plus = (name: string, extra: { defaults?: string[]; listen?: string[] }): Variant => ({ name, config: (p, b) => minimalConfig('http', p, b, extra) });

/** The generated config of one http listener (check none, one server in 8 slots), optionally without some lines. */
function generated(name: string, drop: readonly RegExp[] = [], masterWorker = false): Variant {
  return {
    name,
    masterWorker,
    config: (port, backend, dir) => {
      const l: ListenerRender = {
        name: 'bench',
        spec: { listen: { host: '127.0.0.1', port }, protocol: 'http', balance: 'round-robin', check: { kind: 'none' }, timeouts: { connectMs: 5000, clientMs: 3_600_000, serverMs: 3_600_000 } },
        slots: [{ ip: '127.0.0.1', port: backend, weight: 1, admin: 'ready' }, ...Array<undefined>(7).fill(undefined)],
      };
      return renderConfig({ dir }, [l]).split('\n').filter((line) => !drop.some((re) => re.test(line))).join('\n');
    },
  };
}

const VARIANTS: readonly Variant[] = [
  plus('hand-written minimal', {}),
  // A control: the same config again. What it differs by is this run's noise floor.
  plus('hand-written minimal again (control)', {}),
  plus('+ option redispatch 1, retries 3', { defaults: ['option redispatch 1', 'retries 3'] }),
  plus('+ retries 3, retry-on conn-failure', { defaults: ['retries 3'], listen: ['retry-on conn-failure'] }),
  plus('+ retries 3, retry-on conn-failure empty-response', { defaults: ['retries 3'], listen: ['retry-on conn-failure empty-response'] }),
  plus('+ http-request disable-l7-retry unless METH_GET', { listen: ['http-request disable-l7-retry unless METH_GET'] }),
  plus('+ option idle-close-on-response', { listen: ['option idle-close-on-response'] }),
  plus('+ timeout http-request 30s, http-keep-alive 10s', { defaults: ['timeout http-request 30s', 'timeout http-keep-alive 10s'] }),
  plus('+ balance roundrobin, 7 disabled slots', { listen: ['balance roundrobin', ...Array.from({ length: 7 }, (_, i) => `server s${i + 2} 127.0.0.1:1 disabled`)] }),
  generated('generated (whole)'),
  generated('generated without retry-on empty-response and its rule', [/retry-on/, /disable-l7-retry/]),
  generated('generated (whole), master-worker (-W -S, as the agent runs it)', [], true),
];

async function run(env: BenchEnv, size: Size): Promise<ScenarioResult> {
  const sz = SIZES[size];
  const backend = await startHttpBackend('directives');
  env.defer(() => backend.close());
  const dir = await env.tempDir('directives');
  const ports: number[] = [];
  for (const [i, v] of VARIANTS.entries()) {
    const port = await freePort();
    await mkdir(`${dir}/v${i}`);
    const hp = await startHaproxyConfig(dir, `v${i}`, v.config(port, backend.port, `${dir}/v${i}`), port, { masterWorker: v.masterWorker });
    env.defer(() => hp.stop());
    ports.push(port);
  }
  const samples = VARIANTS.map(() => [] as number[]);
  for (let r = 0; r < sz.rounds; r++) {
    // A different variant goes first each round, so drift on this shared machine falls on all alike.
    for (let k = 0; k < VARIANTS.length; k++) {
      const i = (k + r) % VARIANTS.length;
      const stats = await startLoad({ kind: 'keep-alive', port: ports[i]!, workers: 1, maxMs: 60_000, count: sz.requests }).finished;
      if (stats.failed) throw new Error(`${VARIANTS[i]!.name}: ${stats.failed} failed requests`);
      samples[i]!.push(...stats.latencies);
    }
  }
  const base = summarize(samples[0]!);
  const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)} %`;
  const rows = VARIANTS.map((v, i) => {
    const s = summarize(samples[i]!);
    return [v.name, ...latencyCells(s), i === 0 ? '' : `${pct(s.p50, base.p50)} p50, ${pct(s.p99, base.p99)} p99`];
  });
  return {
    tables: [{ title: 'http, one kept-alive connection: each directive alone on the minimal config', columns: ['config', ...LATENCY_COLUMNS, 'vs minimal'], rows }],
    notes: [
      `Every config runs as its own \`haproxy -db\` (no master-worker), all at once; ${sz.rounds} rounds of ${sz.requests} requests each on one kept-alive connection from a worker thread, the variants in a rotating order. "generated" is renderConfig's output for one http listener (check none, one server in 8 slots, the global and the _promex frontend included).`,
    ],
  };
}

export const directives: Scenario = { name: 'directives', title: '5b. What the generated HAProxy config costs, directive by directive', run };
