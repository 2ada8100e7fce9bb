/**
 * Footprint, the short-lived side: the installed `dockstack` CLI's wall time against `node -e 0`
 * (same run, rounds interleaved), and an installed agent's start → status API answering → initial
 * sync of the examples (manifests/, ports moved to free ones) complete.
 */
import { execFile, spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/harness/ports.ts';
import type { BenchEnv } from '../bench-env.ts';
import { now, percentile } from '../stats.ts';

const EXAMPLES = fileURLToPath(new URL('../../manifests/', import.meta.url));
const median = (xs: readonly number[]) => percentile([...xs].sort((a, b) => a - b), 50);

/** Wall time of one `node ARGS` to its exit, ms; throws unless it exits `expectCode`. */
function timed(args: readonly string[], expectCode = 0): Promise<number> {
  const t0 = now();
  return new Promise((resolve, reject) =>
    execFile(process.execPath, args, { maxBuffer: 1 << 24 }, (err, _out, stderr) => {
      const code = err ? ((err as { code?: number }).code ?? -1) : 0;
      if (code !== expectCode) reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr.slice(-500)}`));
      else resolve(now() - t0);
    }),
  );
}

/** The examples copied to `dir` with every fixed port (status 7070, listeners 1xxxx) moved to a free one. */
async function examples(dir: string, statusPort: number): Promise<void> {
  const ports = new Map<string, number>([['7070', statusPort]]);
  for (const f of await readdir(EXAMPLES)) {
    let text = await readFile(join(EXAMPLES, f), 'utf8');
    for (const p of new Set(text.match(/\b1\d{4}\b/g) ?? [])) if (!ports.has(p)) ports.set(p, await freePort());
    text = text.replace(/\b(7070|1\d{4})\b/g, (p) => String(ports.get(p) ?? p));
    await writeFile(join(dir, f), text);
  }
}

export interface StartTimes {
  readonly answeringMs: number[];
  readonly syncedMs: number[];
}

/** Start the installed agent `n` times on the examples (memory registry, HAProxy), each timed from spawn. */
export async function startTimes(env: BenchEnv, bin: string, n: number): Promise<StartTimes> {
  const out: StartTimes = { answeringMs: [], syncedMs: [] };
  for (let i = 0; i < n; i++) {
    const dir = await env.tempDir('footprint-start');
    const port = await freePort();
    await examples(dir, port);
    const t0 = now();
    const child = spawn(process.execPath, [bin, 'agent', '--manifests', dir, '--haproxy-dir', join(dir, '.haproxy'), '--registry', 'memory://', '--status-addr', `127.0.0.1:${port}`, '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let stderr = '';
    const synced = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no initial sync within 30 s: ${stderr.slice(-1000)}`)), 30_000);
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (stderr.includes('initial sync complete')) (clearTimeout(timer), resolve(now() - t0));
      });
    });
    try {
      const deadline = t0 + 30_000;
      for (;;) {
        if (await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)) break;
        if (now() > deadline || child.exitCode !== null) throw new Error(`status API never answered: ${stderr.slice(-1000)}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      out.answeringMs.push(now() - t0);
      out.syncedMs.push(await synced);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }
  return out;
}

/** Medians (ms) of `runs` interleaved rounds of each command, and of `node -e 0`, from the installed bin. */
export async function cliTimes(env: BenchEnv, bin: string, runs: number): Promise<{ label: string; ms: number }[]> {
  const dir = await env.tempDir('footprint-get');
  const port = await freePort();
  await examples(dir, port);
  const agent = spawn(process.execPath, [bin, 'agent', '--manifests', dir, '--haproxy-dir', join(dir, '.haproxy'), '--registry', 'memory://', '--status-addr', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: 'ignore' });
  const exited = new Promise<void>((r) => agent.once('exit', () => r()));
  env.defer(async () => (agent.kill('SIGTERM'), await exited));
  const deadline = now() + 30_000;
  while (!(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) {
    if (now() > deadline) throw new Error('the agent for `get` never answered');
    await new Promise((r) => setTimeout(r, 50));
  }
  const commands: [string, string[]][] = [
    ['node -e 0 (the baseline)', ['-e', '0']],
    ['dockstack --version', [bin, '--version']],
    ['dockstack validate manifests/', [bin, 'validate', EXAMPLES]],
    ['dockstack get services (running agent)', [bin, 'get', 'services', '--status-addr', `127.0.0.1:${port}`]],
  ];
  const samples = commands.map(() => [] as number[]);
  for (const [, args] of commands) await timed(args); // warm the page cache
  for (let r = 0; r < runs; r++) for (const [i, [, args]] of commands.entries()) samples[i]!.push(await timed(args));
  return commands.map(([label], i) => ({ label, ms: median(samples[i]!) }));
}
