/**
 * The image and the Docker provider against a private dockerd (test/harness/docker.ts): the image
 * builds from a locally imported base, the seed scenario runs through it (nerve --mysql and
 * synapse --mysql containers on host networking, a mysql2 query through synapse), and the provider
 * follows labelled containers: started → registered, HEALTHCHECK unhealthy → deregistered,
 * removed → deregistered, agent killed and restarted → no orphans, no duplicates.
 * Needs root and Debian docker.io; it fails (never skips) without them.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import mysql from 'mysql2/promise';
import zookeeper from 'node-zookeeper-client';
import type { ObjectView } from '../src/agent.ts';
import { createRegistry } from '../src/registry/create-registry.ts';
import { BIN } from './harness/cli.ts';
import { buildImage, startDocker, type DockerEngine } from './harness/docker.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { startMariaDB, type MariaDBServer } from './harness/mariadb.ts';
import { freePort } from './harness/ports.ts';
import { killProcess } from './harness/process.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';
import { instanceIdFor } from '../src/reconcile/instance-id.ts';

const IMAGE = 'dockstack:test';
const PROBE = 'dockstack-probe:test';
// A labelled workload: a TCP server whose HEALTHCHECK fails while /tmp/unhealthy exists.
const PROBE_DOCKERFILE = `FROM ${IMAGE}
HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD ["/usr/bin/node", "-e", "process.exit(require('node:fs').existsSync('/tmp/unhealthy') ? 1 : 0)"]
ENTRYPOINT ["/usr/bin/node", "-e", "require('node:net').createServer((s) => s.on('error', () => {}).end('up')).listen(Number(process.env.PORT), '127.0.0.1')"]
`;

let engine: DockerEngine;
let zk: ZooKeeperServer;
let db: MariaDBServer;

before(async () => {
  [engine, zk, db] = await Promise.all([startDocker(), startZooKeeper(), startMariaDB()]);
  const took = await buildImage(engine, IMAGE);
  await engine.docker(['build', '-q', '-t', PROBE, '-'], { stdin: PROBE_DOCKERFILE });
  const size = (await engine.docker(['image', 'inspect', '-f', '{{.Size}}', IMAGE])).stdout.trim();
  process.stderr.write(`# base imported in ${took.baseSeconds}s, image built in ${took.buildSeconds}s, ${Math.round(Number(size) / 1e6)} MB\n`);
});
after(async () => {
  await Promise.allSettled([engine?.stop(), zk?.stop(), db?.stop()]);
});

const state = async (name: string, field: string) => (await engine.docker(['inspect', '-f', `{{${field}}}`, name])).stdout.trim();

describe('the image', () => {
  const run = (args: string[]) => engine.docker(['run', '--rm', '--entrypoint', args[0] ?? '', IMAGE, ...args.slice(1)]);
  test('runs the compiled build: dockstack on PATH, no sources, no tsx, no TypeScript', async () => {
    const version = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')).version as string;
    assert.equal((await run(['dockstack', '--version'])).stdout.trim(), version);
    const present = (await run(['/usr/bin/node', '-p', "['/app/src', '/app/dist/cli/main.js', '/app/node_modules/tsx', '/app/node_modules/typescript'].map((p) => require('node:fs').existsSync(p)).join(' ')"])).stdout.trim();
    assert.equal(present, 'false true false false');
  });

  test('carries no npm, npx or corepack: not on PATH, not in node_modules of the base', async () => {
    const found = (await run(['/usr/bin/node', '-p', "const fs = require('node:fs'); const dirs = [...process.env.PATH.split(':'), '/usr/lib/node_modules', '/usr/local/lib/node_modules', '/app/node_modules']; dirs.flatMap((d) => ['npm', 'npx', 'corepack'].map((n) => `${d}/${n}`)).filter((p) => fs.existsSync(p)).join(' ') || 'none'"])).stdout.trim();
    assert.equal(found, 'none');
  });

  test('the seed scenario: nerve --mysql --zk and synapse --mysql containers, a query through synapse', async (t) => {
    const [nerveStatus, synapseStatus, listen] = await Promise.all([freePort(), freePort(), freePort()]);
    const zkEnv = ['-e', `ZK_HOSTS=${zk.connectString}`];
    await engine.docker(['run', '-d', '--name', 'nerve', '--network', 'host', '--health-interval', '1s', ...zkEnv,
      '-e', 'SERVICE=path/test', '-e', `SERVICE_PORT=${db.port}`, '-e', 'SERVICE_HOST=127.0.0.1', '-e', `DOCKSTACK_STATUS_ADDR=127.0.0.1:${nerveStatus}`,
      IMAGE, 'nerve', '--mysql', 'haproxy_check', '--zk']);
    await engine.docker(['run', '-d', '--name', 'synapse', '--network', 'host', '--health-interval', '1s', ...zkEnv, '-e', `DOCKSTACK_STATUS_ADDR=127.0.0.1:${synapseStatus}`,
      IMAGE, 'synapse', '--mysql', `service1:path/test:${listen}:haproxy_check`, '--listen-address', '127.0.0.1']);
    let ok = false;
    t.after(async () => {
      if (!ok) for (const c of ['nerve', 'synapse']) process.stderr.write((await engine.docker(['logs', '--tail', '30', c], { allowFail: true })).stderr);
    });
    const rows = await eventually(async () => {
      const conn = await mysql.createConnection({ host: '127.0.0.1', port: listen, user: 'root', connectTimeout: 2000 });
      try {
        return (await conn.query('SELECT 1 + 1 AS two'))[0];
      } finally {
        await conn.end();
      }
    }, { timeoutMs: 30_000, intervalMs: 250 });
    assert.deepEqual(rows, [{ two: 2 }]);
    await eventually(async () => assert.deepEqual([await state('nerve', '.State.Health.Status'), await state('synapse', '.State.Health.Status')], ['healthy', 'healthy']), { timeoutMs: 20_000, intervalMs: 250 });
    assert.equal(await state('synapse', '.Config.User'), '10001:10001');

    // SIGTERM reaches the agent (node is PID 1's program, not npx): it deregisters and exits 0.
    const registry = await createRegistry({ url: `zk://${zk.connectString}` });
    t.after(() => registry.close());
    assert.equal((await registry.list('/path/test')).instances.length, 1);
    await engine.docker(['stop', '-t', '20', 'nerve']);
    assert.equal(await state('nerve', '.State.ExitCode'), '0');
    assert.deepEqual((await registry.list('/path/test')).instances, []);
    await engine.docker(['rm', '-f', 'nerve', 'synapse']);
    ok = true;
  });
});

describe('dockstack agent --docker', () => {
  let agent: ChildProcess | undefined;
  let statusPort: number;
  let manifests: Awaited<ReturnType<typeof tempDir>>;
  let zkc: zookeeper.Client;

  const startAgentProcess = () => {
    agent = spawn(process.execPath, [BIN, 'agent', '--docker', '--docker-socket', engine.socket, '--registry', `zk://${zk.connectString}`, '--session-timeout', '2000',
      '--proxy', 'none', '--manifests', manifests.path, '--status-addr', `127.0.0.1:${statusPort}`, '--log-level', process.env.DOCKSTACK_TEST_LOG ?? 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
  };
  // Raw znode names (<instanceId>_<seq>): a duplicate would hide behind the listing's host:port dedup.
  const znodes = () =>
    new Promise<string[]>((resolve, reject) =>
      zkc.getChildren('/services/api', (err, children) => (err ? (err instanceof zookeeper.Exception && err.getCode() === zookeeper.Exception.NO_NODE ? resolve([]) : reject(err)) : resolve(children.map((c) => c.replace(/_\d+$/, '')).sort()))),
    );
  const services = async (): Promise<ObjectView[]> => (await (await fetch(`http://127.0.0.1:${statusPort}/api/v1/services`)).json()) as ObjectView[];
  const runProbe = async (name: string, port: number) =>
    engine.docker(['run', '-d', '--name', name, '--network', 'host', '-e', `PORT=${port}`, '--label', 'dockstack.service.path=/services/api', '--label', `dockstack.service.port=${port}`, '--label', 'dockstack.check.type=tcp', PROBE]);

  before(async () => {
    statusPort = await freePort();
    manifests = await tempDir('dockstack-docker-manifests');
    zkc = zookeeper.createClient(zk.connectString);
    await new Promise<void>((resolve) => zkc.once('connected', () => resolve()).connect());
    startAgentProcess();
  });
  after(async () => {
    if (agent) await killProcess(agent);
    zkc?.close();
    await manifests?.cleanup();
  });

  test('started → registered (source docker://name); HEALTHCHECK unhealthy → deregistered; removed → deregistered', async () => {
    const port = await freePort();
    await runProbe('api-a', port);
    await eventually(async () => assert.deepEqual(await znodes(), [instanceIdFor('127.0.0.1', 'api-a')]), { timeoutMs: 20_000, intervalMs: 100 });
    const view = (await services()).find((s) => s.metadata.name === 'api-a');
    assert.match(view?.metadata.source ?? '', /^docker:\/\/api-a:1:1$/);

    await engine.docker(['exec', 'api-a', '/usr/bin/node', '-e', "require('node:fs').writeFileSync('/tmp/unhealthy', '')"]);
    await eventually(async () => assert.deepEqual(await znodes(), []), { timeoutMs: 10_000, intervalMs: 100 });
    assert.equal(await state('api-a', '.State.Health.Status'), 'unhealthy');
    await engine.docker(['exec', 'api-a', '/usr/bin/node', '-e', "require('node:fs').rmSync('/tmp/unhealthy')"]);
    await eventually(async () => assert.deepEqual(await znodes(), [instanceIdFor('127.0.0.1', 'api-a')]), { timeoutMs: 10_000, intervalMs: 100 });

    await engine.docker(['rm', '-f', 'api-a']);
    await eventually(async () => assert.deepEqual(await znodes(), []), { timeoutMs: 10_000, intervalMs: 100 });
    await eventually(async () => assert.equal((await services()).find((s) => s.metadata.name === 'api-a'), undefined));
  });

  test('agent killed, containers changed while it was down, restarted → no orphans, no duplicates', async () => {
    const [pb, pc] = await Promise.all([freePort(), freePort()]);
    await runProbe('api-b', pb);
    await eventually(async () => assert.deepEqual(await znodes(), [instanceIdFor('127.0.0.1', 'api-b')]), { timeoutMs: 20_000, intervalMs: 100 }).catch(async (err: unknown) => {
      process.stderr.write(`${JSON.stringify(await services(), null, 1)}\n`);
      throw err;
    });
    agent!.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
    await runProbe('api-c', pc);
    await engine.docker(['rm', '-f', 'api-b']);
    startAgentProcess();
    await eventually(async () => assert.deepEqual(await znodes(), [instanceIdFor('127.0.0.1', 'api-c')]), { timeoutMs: 20_000, intervalMs: 100 });
    // Converged is not enough: the old session's nodes must not come back, nor a second api-c.
    await eventually(async () => assert.deepEqual((await services()).map((s) => s.metadata.name), ['api-c']));
    assert.deepEqual(await znodes(), [instanceIdFor('127.0.0.1', 'api-c')]);
  });
});
