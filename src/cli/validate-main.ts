/**
 * The entry bin/dockstack.js runs for `dockstack validate …`. The plain form, `validate PATH… [-R]`,
 * runs here without commander or the other commands; anything else (another flag, --help, no path,
 * `--`) goes on to the full CLI, main.ts. Both print the same bytes and exit with the same codes for
 * the plain form (test/validate-fast.test.ts). Measured: commander and main.ts's imports (node:http,
 * child_process and with it net, dgram, streams) were ~0.4× `node -e 0` of validate's 2.28×; this
 * entry saves ~35 ms of CPU of ~370 (BENCHMARKS.md, Footprint).
 */
import { loadCachedCommonJs } from './cached-commonjs.ts';

/** The paths of a plain `validate PATH… [-R|--recursive]` (`args` after `validate`), else undefined. */
function plainPaths(args: readonly string[]): string[] | undefined {
  // -R is validate's default (recursive), so it changes nothing. "-" alone is stdin, a path to commander too.
  const paths = args.filter((a) => a !== '-R' && a !== '--recursive');
  return paths.length > 0 && paths.every((p) => p === '-' || !p.startsWith('-')) ? paths : undefined;
}

const paths = process.argv[2] === 'validate' ? plainPaths(process.argv.slice(3)) : undefined;
if (paths === undefined) {
  await import('./main.ts');
} else {
  // Built, the validate code is one CommonJS file with a V8 code cache (cached-commonjs.ts); from the
  // sources, the module. Its reportError, not another copy: errors are told apart by their classes.
  const built = loadCachedCommonJs(new URL('./validate-code.cjs', import.meta.url)) as typeof import('./validate-code.ts') | undefined;
  const { runValidate, reportError } = built ?? (await import('./validate-code.ts'));
  process.exitCode = await runValidate(paths, { recursive: true }).then(() => 0, reportError);
}
