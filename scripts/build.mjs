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
import { cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const EXTERNAL = ['etcd3', '@grpc/grpc-js', 'node-zookeeper-client', 'mysql2', 'ioredis'];
const OUT = 'dist/cli';

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

const modules = {};
for (const [out, o] of Object.entries(metafile.outputs)) modules[relative(OUT, out)] = Object.keys(o.inputs).sort();
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
