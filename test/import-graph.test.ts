/**
 * What each command loads. Short-lived commands (--version, validate, get…) must not pay for the
 * agent's dependencies, and the agent loads only the registry client and providers it uses. A
 * resolve hook (test/fixtures/record-imports.mjs) records every module the real binary resolves,
 * so a new top-level import of a heavy module anywhere on these paths fails here. When the binary
 * runs the bundle (dist/cli/, scripts/build.mjs), each output file it loads stands for the sources
 * esbuild put in it (dist/bundle-modules.json), so the same checks hold for both layouts.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BIN, dockstack } from './harness/cli.ts';

const HOOK = fileURLToPath(new URL('./fixtures/record-imports.mjs', import.meta.url));
const ROOT = new URL('../', import.meta.url);
const BUNDLE = new URL('dist/cli/', ROOT).href;
/** Modules only the agent may load, each named by a fragment of its resolved URL. */
const AGENT_ONLY = ['/node_modules/pino/', '/node_modules/prom-client/', '/server/prom.', '/node_modules/etcd3/', '/node_modules/node-zookeeper-client/', '/node_modules/chokidar/', '/node_modules/mysql2/', '/node_modules/ioredis/', '/haproxy/', '/registry/zookeeper', '/registry/etcd', '/providers/docker/'];

let root: string;
let n = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dockstack-imports-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The module URLs recorded in `log`, each bundle output file replaced by the URLs of its sources. */
async function recorded(log: string): Promise<string[]> {
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

async function loaded(args: string[]): Promise<string[]> {
  const log = join(root, `imports-${n++}.log`);
  await dockstack(args, { env: { NODE_OPTIONS: `--import ${HOOK}`, DOCKSTACK_IMPORT_LOG: log } });
  return recorded(log);
}

describe('import graph', () => {
  for (const args of [['--version'], ['--help'], ['validate', 'manifests/'], ['schema', 'service'], ['get', 'services', '--status-addr', '127.0.0.1:9'], ['describe', 'service', 'x', '--status-addr', '127.0.0.1:9'], ['create', 'service', 'x', '--path', '/a', '--port', '1', '--dry-run', '-o', 'yaml']]) {
    test(`dockstack ${args.join(' ')} loads none of the agent's modules`, async () => {
      const urls = await loaded(args);
      assert.ok(urls.some((u) => u.includes('/node_modules/commander/')), 'the hook recorded the CLI itself');
      assert.deepEqual(urls.filter((u) => AGENT_ONLY.some((m) => u.includes(m))), []);
    });
  }

  // Measured: --version resolved 323 modules (226 of them zod, 6 yaml) while the command files imported
  // their implementations at the top; with actions importing them, 20. Only commands that parse manifests
  // pay for zod; yaml is for those and for the output formats of get/describe.
  const light: [string[], boolean][] = [[['--version'], false], [['--help'], false], [['drain', 'service', 'x', '--status-addr', '127.0.0.1:9'], false], [['get', 'services', '--status-addr', '127.0.0.1:9'], true], [['describe', 'service', 'x', '--status-addr', '127.0.0.1:9'], true]];
  for (const [args, formats] of light) {
    test(`dockstack ${args.join(' ')} loads no zod or manifest code${formats ? '' : ', nor yaml'}`, async () => {
      const urls = await loaded(args);
      assert.ok(urls.some((u) => u.includes('/node_modules/commander/')), 'the hook recorded the CLI itself');
      assert.deepEqual(urls.filter((u) => u.includes('/node_modules/zod/') || u.includes('/manifest/') || (!formats && u.includes('/node_modules/yaml/'))), []);
    });
  }

  test('the recorder sees what validate loads: zod, yaml and the manifest code (so the checks above can fail)', async () => {
    const urls = await loaded(['validate', 'manifests/']);
    for (const m of ['/node_modules/zod/', '/node_modules/yaml/', '/src/manifest/schema.ts']) assert.ok(urls.some((u) => u.includes(m)), `${m} not recorded`);
  });

  test('an agent on memory:// loads neither registry client, nor the Docker provider, nor mysql2/ioredis', async () => {
    const log = join(root, 'agent.log');
    const child = spawn(process.execPath, [BIN, 'agent', '--manifests', join(root, 'none'), '--registry', 'memory://', '--proxy', 'none', '--status-addr', '127.0.0.1:0', '--log-level', 'info'], {
      env: { ...process.env, NODE_OPTIONS: `--import ${HOOK}`, DOCKSTACK_IMPORT_LOG: log },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const synced = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no initial sync within 30 s:\n${stderr}`)), 30_000);
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        if (stderr.includes('initial sync complete')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const exited = new Promise((resolve) => child.on('close', resolve));
    try {
      await synced;
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    const urls = await recorded(log);
    assert.ok(urls.some((u) => u.includes('/node_modules/pino/')), 'the agent itself was recorded');
    const heavy = ['/node_modules/etcd3/', '/node_modules/node-zookeeper-client/', '/node_modules/mysql2/', '/node_modules/ioredis/', '/providers/docker/'];
    assert.deepEqual(urls.filter((u) => heavy.some((m) => u.includes(m))), []);
  });
});
