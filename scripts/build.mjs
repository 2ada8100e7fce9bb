// `npm run build`: bundles the CLI (src/cli/main.ts, and validate-main.ts, the entry of `validate`,
// with everything they import, dependencies included) with esbuild into dist/cli/: main.js and
// validate-main.js plus split chunks, one per lazily imported module
// set, so each command still loads only what it runs (test/import-graph.test.ts). Measured: the
// tsc output loaded hundreds of module files per command (zod alone ~220); `validate manifests/`
// took 3.3× `node -e 0` from the installed package. Type checks stay with tsc (npm run typecheck).
//
// External, so they stay separate packages loaded only by the agent that uses them: the registry
// clients (etcd3 and its gRPC, node-zookeeper-client) and the check libraries (mysql2, ioredis).
// prom-client is required at run time (src/server/prom.ts) and resolves from node_modules too.
// dist/bundle-modules.json names the sources in each output file, for the import-graph test.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const EXTERNAL = ['etcd3', '@grpc/grpc-js', 'node-zookeeper-client', 'mysql2', 'ioredis'];
const OUT = 'dist/cli';
// Run in a node of its own (argv: the file, a manifest directory), as cached-commonjs.ts runs it.
const MAKE_CODE_CACHE = `
const fs = require('node:fs'), path = require('node:path'), { Script } = require('node:vm');
const [file, dir] = process.argv.slice(1);
const script = new Script(fs.readFileSync(file, 'utf8'), { filename: file });
const module = { exports: {} };
script.runInThisContext()(module.exports, require('node:module').createRequire(file), module, file, path.dirname(file));
module.exports.runValidate([dir], { recursive: true }).then(() => fs.writeFileSync(file + '.cache', script.createCachedData()));
`;
const WARM_UP_MANIFESTS = `apiVersion: dockstack.io/v1alpha1
kind: Service
metadata: { name: web }
spec: { path: /services/web, port: 8080, checks: [{ type: http, path: /healthz }] }
---
apiVersion: dockstack.io/v1alpha1
kind: Subscription
metadata: { name: web }
spec: { service: /services/web, listen: { port: 18080 }, mode: http, check: { type: http, path: /healthz } }
`;

rmSync('dist', { recursive: true, force: true });
const { metafile } = await build({
  entryPoints: ['src/cli/main.ts', 'src/cli/validate-main.ts'],
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // Whitespace and syntax only: smaller files parse faster; names stay readable in stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  logLevel: 'warning',
  // Bundled CommonJS packages call require() for Node's builtins; an ES module has none of its own.
  banner: { js: "import { createRequire as __dockstackRequire } from 'node:module'; const require = __dockstackRequire(import.meta.url);" },
});

// validate's code once more as one CommonJS file, which validate-main.js runs with a V8 code cache
// (src/cli/cached-commonjs.ts: Node 20 caches no ES module code). The file is a function
// expression, as Node wraps a CommonJS module, so this build and every run compile the same bytes.
// The cache is made after a validation has run, so it holds the functions that run compiled, not
// only the top level. Measured: `validate manifests/` 188 → 150 ms (`node -e 0` 92 ms).
const VALIDATE_CODE = join(OUT, 'validate-code.cjs');
const cjs = await build({
  entryPoints: ['src/cli/validate-code.ts'],
  outfile: VALIDATE_CODE,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  logLevel: 'warning',
  banner: { js: '(function (exports, require, module, __filename, __dirname) {' },
  footer: { js: '})' },
});
// Inside dist/, not the temp directory: the image's build stage has none.
const warmUp = mkdtempSync(join('dist', 'warm-up-'));
try {
  writeFileSync(join(warmUp, 'web.yaml'), WARM_UP_MANIFESTS);
  const made = spawnSync(process.execPath, ['-e', MAKE_CODE_CACHE, resolve(VALIDATE_CODE), warmUp], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (made.status !== 0) throw new Error(`build: making the code cache of ${VALIDATE_CODE} failed`);
} finally {
  rmSync(warmUp, { recursive: true, force: true });
}

const modules = {};
for (const [out, o] of Object.entries(metafile.outputs)) modules[relative(OUT, out)] = Object.keys(o.inputs).sort();
// The import-graph test sees what the ES module loader resolves; validate-main.js runs
// validate-code.cjs through vm.Script, which no loader sees, so it is listed with what it holds.
modules['validate-main.js'] = [...new Set([...modules['validate-main.js'], ...Object.keys(cjs.metafile.inputs)])].sort();
writeFileSync('dist/bundle-modules.json', `${JSON.stringify(modules, null, 1)}\n`);

// Files read at run time relative to the module that reads them (`new URL('./x', import.meta.url)`):
// the dashboard's HTML, CSS and JS, dockstack.lua. That module is now a chunk in dist/cli/, so each
// file goes there at its path from the nearest directory above it that holds TypeScript:
// src/server/dashboard/index.html → dist/cli/dashboard/index.html, src/haproxy/dockstack.lua →
// dist/cli/dockstack.lua.
const hasTs = (dir) => readdirSync(dir).some((f) => f.endsWith('.ts'));
const placed = new Map();
for (const e of readdirSync('src', { withFileTypes: true, recursive: true })) {
  if (!e.isFile() || e.name.endsWith('.ts')) continue;
  const from = join(e.parentPath ?? e.path, e.name);
  let base = dirname(from);
  while (!hasTs(base)) base = dirname(base);
  const to = join(OUT, relative(base, from));
  if (placed.has(to)) throw new Error(`build: ${from} and ${placed.get(to)} would both be ${to}`);
  placed.set(to, from);
  cpSync(from, to);
}
