/**
 * What a run of the real binary loads: a resolve hook (test/fixtures/record-imports.mjs) records
 * every module URL it resolves. When the binary runs the bundle (dist/cli/, scripts/build.mjs),
 * each output file stands for the sources esbuild put in it (dist/bundle-modules.json), so checks
 * on source paths hold for both layouts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockstack, type CliResult } from './cli.ts';

export const IMPORT_HOOK = fileURLToPath(new URL('../fixtures/record-imports.mjs', import.meta.url));
const ROOT = new URL('../../', import.meta.url);
const BUNDLE = new URL('dist/cli/', ROOT).href;

/** The module URLs recorded in `log`, each bundle output file followed by the URLs of its sources. */
export async function recorded(log: string): Promise<string[]> {
  const urls = (await readFile(log, 'utf8')).split('\n').filter(Boolean);
  if (!urls.some((u) => u.startsWith(BUNDLE))) return urls;
  const modules = JSON.parse(await readFile(new URL('dist/bundle-modules.json', ROOT), 'utf8')) as Record<string, string[]>;
  return urls.flatMap((u) => {
    if (!u.startsWith(BUNDLE)) return [u];
    const inputs = modules[u.slice(BUNDLE.length)];
    assert.ok(inputs, `${u} is not in dist/bundle-modules.json (run npm run build)`);
    return [u, ...inputs.map((i) => new URL(i, ROOT).href)];
  });
}

/** Run `dockstack args` recording what it loads: its result and the module URLs (`recorded`). */
export async function dockstackLoading(args: string[], opts: Parameters<typeof dockstack>[1] = {}): Promise<CliResult & { urls: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'dockstack-imports-'));
  try {
    const log = join(dir, 'imports.log');
    const r = await dockstack(args, { ...opts, env: { ...opts.env, NODE_OPTIONS: `--import ${IMPORT_HOOK}`, DOCKSTACK_IMPORT_LOG: log } });
    return { ...r, urls: await recorded(log) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
