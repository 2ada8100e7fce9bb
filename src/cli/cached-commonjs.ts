/**
 * Run validate's code with the V8 code cache the build made for it, so its functions are not
 * compiled again on every run. Node 20 has no compile cache for ES modules (`module.enableCompileCache`
 * is Node 22), hence CommonJS through `vm.Script`. The file is the build's function expression
 * `(function (exports, require, module, __filename, __dirname) {…})` (scripts/build.mjs), so the
 * build compiles the very bytes compiled here: V8 takes a cache only for the same source. A cache
 * V8 rejects (another Node, other flags) or one that is missing only costs the compile it saves.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/** The exports of the wrapped CommonJS file at `url` (and FILE.cache), or undefined if there is no file. */
export function loadCachedCommonJs(url: URL): unknown {
  const file = fileURLToPath(url);
  const read = (f: string) => {
    try {
      return readFileSync(f);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  };
  const source = read(file);
  if (source === undefined) return undefined;
  const script = new Script(source.toString('utf8'), { filename: file, cachedData: read(`${file}.cache`) });
  const module = { exports: {} };
  (script.runInThisContext() as (...a: unknown[]) => void)(module.exports, createRequire(file), module, file, dirname(file));
  return module.exports;
}
