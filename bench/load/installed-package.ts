/**
 * The package as users install it (like scripts/check-package.sh): `npm pack`, then a global
 * install into a temporary prefix, production dependencies only. The footprint bench times the
 * installed `dockstack`, not the development clone's bin (which may fall back to tsx).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface InstalledPackage {
  /** The installed bin/dockstack.js (run with process.execPath, so no shell or npx sits between). */
  readonly bin: string;
  /** Seconds taken by pack + install. */
  readonly seconds: number;
}

export async function installPackage(dir: string): Promise<InstalledPackage> {
  const started = Date.now();
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: ROOT, maxBuffer: 1 << 24 });
  const tgz = stdout.trim().split('\n').at(-1) ?? '';
  const prefix = join(dir, 'prefix');
  await run('npm', ['install', '-g', '--silent', '--no-audit', '--no-fund', '--prefix', prefix, join(dir, tgz)], { cwd: dir, maxBuffer: 1 << 24 });
  return { bin: join(prefix, 'lib/node_modules/dockstack/bin/dockstack.js'), seconds: (Date.now() - started) / 1000 };
}
