// `npm run build`: bundles the CLI (src/cli/main.ts and everything it imports, dependencies
// included) with esbuild into dist/cli/: main.js plus split chunks, one per lazily imported module
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
import { join, relative } from 'node:path';

const EXTERNAL = ['etcd3', '@grpc/grpc-js', 'node-zookeeper-client', 'mysql2', 'ioredis'];
const OUT = 'dist/cli';

rmSync('dist', { recursive: true, force: true });
const { metafile } = await build({
  entryPoints: ['src/cli/main.ts'],
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

// Files read at run time beside the module that reads them: the dashboard's HTML, CSS and JS
// (src/server/dashboard/) and HAProxy's slot command (src/haproxy/dockstack.lua), read by chunks in dist/cli/.
const assets = 'src/server/dashboard';
for (const f of readdirSync(assets)) cpSync(join(assets, f), join(OUT, 'dashboard', f));
cpSync('src/haproxy/dockstack.lua', join(OUT, 'dockstack.lua'));
