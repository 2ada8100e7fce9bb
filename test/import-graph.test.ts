/**
 * What each command loads. Short-lived commands (--version, validate, get…) must not pay for the
 * agent's dependencies, and the agent loads only the registry client and providers it uses. A
 * resolve hook (test/fixtures/record-imports.mjs) records every module the real binary resolves,
 * so a new top-level import of a heavy module anywhere on these paths fails here, in the sources
 * and in the bundle alike (test/harness/imports.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN } from './harness/cli.ts';
import { dockstackLoading, IMPORT_HOOK as HOOK, recorded } from './harness/imports.ts';

/** Modules only the agent may load, each named by a fragment of its resolved URL. */
const AGENT_ONLY = ['/node_modules/pino/', '/node_modules/prom-client/', '/server/prom.', '/node_modules/etcd3/', '/node_modules/node-zookeeper-client/', '/node_modules/chokidar/', '/node_modules/mysql2/', '/node_modules/ioredis/', '/haproxy/', '/registry/zookeeper', '/registry/etcd', '/providers/docker/'];
const COMMANDER = '/node_modules/commander/';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dockstack-imports-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const loaded = async (args: string[]): Promise<string[]> => (await dockstackLoading(args)).urls;

describe('import graph', () => {
  for (const args of [['--version'], ['--help'], ['validate', 'manifests/'], ['schema', 'service'], ['get', 'services', '--status-addr', '127.0.0.1:9'], ['describe', 'service', 'x', '--status-addr', '127.0.0.1:9'], ['create', 'service', 'x', '--path', '/a', '--port', '1', '--dry-run', '-o', 'yaml']]) {
    test(`dockstack ${args.join(' ')} loads none of the agent's modules`, async () => {
      const urls = await loaded(args);
      assert.ok(urls.some((u) => u.includes('/src/cli/')), 'the hook recorded the CLI itself');
      assert.deepEqual(urls.filter((u) => AGENT_ONLY.some((m) => u.includes(m))), []);
    });
  }

  // Measured: --version resolved 323 modules (226 of them zod, 6 yaml) while the command files imported
  // their implementations at the top; with actions importing them, 20. Only commands that parse manifests
  // pay for zod; yaml and jsonpath-plus are for those and for the output formats that print with them
  // (a table `get` loading both was ~200 KB of code, 2.11× `node -e 0` against the ≤ 2× goal).
  const FORMATS = ['/node_modules/yaml/', '/node_modules/jsonpath-plus/'];
  const light: string[][] = [['--version'], ['--help'], ['drain', 'service', 'x', '--status-addr', '127.0.0.1:9'], ['get', 'services', '--status-addr', '127.0.0.1:9'], ['get', 'services', '-o', 'wide', '--status-addr', '127.0.0.1:9'], ['describe', 'service', 'x', '--status-addr', '127.0.0.1:9']];
  for (const args of light) {
    test(`dockstack ${args.join(' ')} loads no zod, manifest code, yaml or jsonpath-plus`, async () => {
      const urls = await loaded(args);
      assert.ok(urls.some((u) => u.includes(COMMANDER)), 'the hook recorded the CLI itself');
      assert.deepEqual(urls.filter((u) => u.includes('/node_modules/zod/') || u.includes('/manifest/') || FORMATS.some((m) => u.includes(m))), []);
    });
  }

  // So the check above can fail: the formats that print with them load them.
  for (const [format, module] of [['yaml', '/node_modules/yaml/'], ['jsonpath={.items[*].metadata.name}', '/node_modules/jsonpath-plus/']]) {
    test(`dockstack get services -o ${format} loads ${module} (and no zod or manifest code)`, async () => {
      const urls = await loaded(['get', 'services', '-o', format!, '--status-addr', '127.0.0.1:9']);
      assert.ok(urls.some((u) => u.includes(module!)), `${module} not recorded`);
      assert.deepEqual(urls.filter((u) => u.includes('/node_modules/zod/') || u.includes('/manifest/')), []);
    });
  }

  test('the recorder sees what validate loads: zod, yaml and the manifest code (so the checks above can fail)', async () => {
    const urls = await loaded(['validate', 'manifests/']);
    for (const m of ['/node_modules/zod/', '/node_modules/yaml/', '/src/manifest/schema.ts']) assert.ok(urls.some((u) => u.includes(m)), `${m} not recorded`);
  });

  // The plain form runs without commander (src/cli/validate-main.ts; test/validate-fast.test.ts checks
  // its output against the full CLI). commander once reached it through a helper (flagOf) in shared-options.ts.
  test('dockstack validate manifests/ loads no commander', async () => {
    assert.deepEqual((await loaded(['validate', 'manifests/'])).filter((u) => u.includes(COMMANDER)), []);
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
