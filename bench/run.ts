/**
 * `npm run bench [-- NAME...] [--size smoke|full] [--write|--no-write]`: run scenarios against real
 * ZooKeeper, etcd and HAProxy, print markdown, and (full size by default) refresh each scenario's
 * section of BENCHMARKS.md. BENCH_SIZE sets the default size.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchEnv } from './bench-env.ts';
import { describeMachine } from './machine.ts';
import { renderResult, writeSection } from './report.ts';
import type { Size } from './scenario.ts';
import { SCENARIOS } from './scenarios/index.ts';

const BENCHMARKS = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { size: { type: 'string' }, write: { type: 'boolean' }, 'no-write': { type: 'boolean' } },
  });
  const size = values.size ?? process.env.BENCH_SIZE ?? 'full';
  if (size !== 'smoke' && size !== 'full') throw new Error(`--size: expected smoke or full, got ${size}`);
  const unknown = positionals.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const chosen = positionals.length ? SCENARIOS.filter((s) => positionals.includes(s.name)) : SCENARIOS;
  const write = values['no-write'] ? false : (values.write ?? size === 'full');
  const machine = await describeMachine();
  let failed = 0;
  for (const s of chosen) {
    const env = new BenchEnv();
    const started = Date.now();
    try {
      console.error(`bench: ${s.name} (${size})…`);
      const result = await s.run(env, size as Size);
      const body = renderResult(result);
      const command = `npm run bench -- ${s.name}${size === 'full' ? '' : ` --size ${size}`}`;
      const header = `## ${s.title}\n\n${new Date().toISOString().slice(0, 10)}, \`${command}\` (${Math.round((Date.now() - started) / 1000)} s), on ${machine}.`;
      console.log(`${header}\n\n${body}\n`);
      if (write) await writeSection(BENCHMARKS, s.name, `${header}\n\n${body}`);
    } catch (err) {
      failed++;
      console.error(`bench: ${s.name} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    } finally {
      await env.close();
    }
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  },
);
