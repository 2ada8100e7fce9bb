/**
 * The seed-compatible CLI: nerve/synapse flag and env parsing (bad input: one clear line), --print
 * output that round-trips through `dockstack validate`, `create --dry-run`, and the seed scenario
 * run as host processes against a real ZooKeeper (nerve registers, synapse proxies).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { nerveService, seedRegistryUrl, synapseSubscriptions } from '../src/cli/seed-flags.ts';
import { UsageError } from '../src/errors.ts';
import { createRegistry } from '../src/registry/create-registry.ts';
import { startTcpBackend, whoAnswers, type TestBackend } from './harness/backends.ts';
import { BIN, dockstack } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';
import { killProcess } from './harness/process.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';

const usage = (fn: () => unknown, line: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof UsageError && line.test(e.message) && !e.message.includes('\n'));

describe('nerve flags and env', () => {
  const env = { SERVICE: 'path/test', SERVICE_PORT: '3306', SERVICE_HOST: '10.0.0.5' };
  test('SERVICE path/test → /path/test, check from the flag', () => {
    assert.deepEqual(nerveService({ mysql: 'haproxy_check' }, env), {
      apiVersion: 'dockstack.io/v1alpha1',
      kind: 'Service',
      metadata: { name: 'test' },
      spec: { path: '/path/test', host: '10.0.0.5', port: 3306, checks: [{ type: 'mysql', user: 'haproxy_check' }] },
    });
    assert.deepEqual(nerveService({}, { ...env, SERVICE_HOST: '' }).spec, { path: '/path/test', port: 3306, checks: [{ type: 'tcp' }] });
    assert.deepEqual(nerveService({ http: '/health' }, env).spec.checks, [{ type: 'http', path: '/health' }]);
    assert.equal(nerveService({ redis: true }, { ...env, SERVICE_NAME: 'cache' }).metadata.name, 'cache');
  });
  test('bad env and flags name the value and the expected form', () => {
    usage(() => nerveService({}, { SERVICE_PORT: '1' }), /^SERVICE is not set: expected SERVICE=path\/test/);
    usage(() => nerveService({}, { SERVICE: 'a' }), /^SERVICE_PORT is not set/);
    usage(() => nerveService({}, { ...env, SERVICE_PORT: '70000' }), /^SERVICE_PORT: expected a port 1–65535, got "70000"$/);
    usage(() => nerveService({}, { ...env, SERVICE: 'path//x' }), /^SERVICE: expected a registry path like path\/test .*got "path\/\/x"$/);
    usage(() => nerveService({}, { ...env, SERVICE_HOST: 'bad host' }), /^SERVICE_HOST: expected an IP address or hostname, got "bad host"$/);
    usage(() => nerveService({ tcp: true, mysql: 'u' }, env), /^--tcp, --mysql: choose one health check$/);
    usage(() => nerveService({ http: 'health' }, env), /^--http: expected an absolute URL path like \/health, got "health"$/);
    usage(() => nerveService({ mysql: "x'y" }, env), /^--mysql: expected a check user name/);
  });
  test('--zk/--etcd read ZK_HOSTS/ETCD_ENDPOINTS', () => {
    assert.equal(seedRegistryUrl({ zk: true }, { ZK_HOSTS: 'zk1:2181,zk2:2181' }), 'zk://zk1:2181,zk2:2181');
    assert.equal(seedRegistryUrl({ etcd: true }, { ETCD_ENDPOINTS: 'http://e1:2379,http://e2:2379/' }), 'etcd://e1:2379,e2:2379');
    assert.equal(seedRegistryUrl({}, { ZK_HOSTS: 'zk1:2181' }), undefined);
    usage(() => seedRegistryUrl({ zk: true }, {}), /^ZK_HOSTS: expected host:port\[,host:port\.\.\.\]\[\/chroot\], got ""$/);
    usage(() => seedRegistryUrl({ zk: true }, { ZK_HOSTS: 'zk1' }), /got "zk1"$/);
    usage(() => seedRegistryUrl({ zk: true, etcd: true }, {}), /^--zk and --etcd: choose one registry$/);
  });
});

describe('synapse flags', () => {
  test('the seed\'s --mysql NAME:PATH:PORT:CHECKUSER and friends', () => {
    const subs = synapseSubscriptions({ mysql: ['service1:path/test:3306:haproxy_check'], tcp: ['c:services/c:6380'], http: ['web:web:8080:/hc', 'w2:web:8081'] }, '0.0.0.0');
    assert.deepEqual(subs[0]!.spec, { service: '/path/test', listen: { address: '0.0.0.0', port: 3306 }, check: { type: 'mysql', user: 'haproxy_check' } });
    assert.deepEqual(subs.map((s) => [s.metadata.name, s.spec.mode, s.spec.check]), [
      ['service1', undefined, { type: 'mysql', user: 'haproxy_check' }],
      ['c', undefined, { type: 'tcp' }],
      ['web', 'http', { type: 'http', path: '/hc' }],
      ['w2', 'http', { type: 'http', path: '/' }],
    ]);
  });
  test('bad specs: one line with the wrong value and the form', () => {
    usage(() => synapseSubscriptions({ mysql: ['service1:path/test:3306'] }, '0.0.0.0'), /^--mysql: expected NAME:PATH:PORT:CHECKUSER, got "service1:path\/test:3306"$/);
    usage(() => synapseSubscriptions({ tcp: ['a:b:0'] }, '0.0.0.0'), /^--tcp a:b:0: PORT: expected a port 1–65535, got "0"$/);
    usage(() => synapseSubscriptions({ tcp: ['A:b:1'] }, '0.0.0.0'), /^--tcp A:b:1: NAME: expected a name/);
    usage(() => synapseSubscriptions({ http: ['a:b:1:nope'] }, '0.0.0.0'), /CHECKPATH: expected an absolute URL path/);
    usage(() => synapseSubscriptions({ tcp: ['a:b:1', 'c:d:1'] }, '0.0.0.0'), /^--tcp c:d:1: port 1 is already used by another subscription$/);
    usage(() => synapseSubscriptions({}, '0.0.0.0'), /^expected at least one --mysql, --tcp or --http subscription$/);
    usage(() => synapseSubscriptions({ tcp: ['a:b:1'] }, 'not an ip'), /^--listen-address: expected an IP address or hostname, got "not an ip"$/);
  });
});

describe('--print and create round-trip through validate', () => {
  const roundTrip = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const printed = await dockstack(args, { env });
    assert.equal(printed.code, 0, printed.stderr);
    const v = await dockstack(['validate', '-'], { stdin: printed.stdout });
    assert.equal(v.code, 0, v.stderr);
    return { yaml: printed.stdout, summary: v.stdout };
  };
  test('nerve --print', async () => {
    const r = await roundTrip(['nerve', '--mysql', 'haproxy_check', '--zk', '--print'], { SERVICE: 'path/test', SERVICE_PORT: '3306', ZK_HOSTS: '' });
    assert.match(r.yaml, /^kind: Service$/m);
    assert.match(r.yaml, /path: \/path\/test/);
    assert.match(r.summary, /^1 manifest\(s\) in 1 file\(s\) valid/);
  });
  test('synapse --print', async () => {
    const r = await roundTrip(['synapse', '--mysql', 'service1:path/test:3306:haproxy_check', '--tcp', 'cache:services/cache:6380', '--print']);
    assert.match(r.yaml, /address: 0\.0\.0\.0\n {4}port: 3306/);
    assert.match(r.summary, /^2 manifest\(s\)/);
  });
  test('create --dry-run -o yaml', async () => {
    const r = await roundTrip(['create', 'subscription', 'db', '--path', '/path/test', '--port', '13306', '--check', 'mysql:haproxy_check', '--dry-run', '-o', 'yaml']);
    assert.match(r.yaml, /service: \/path\/test\n {2}listen:\n {4}port: 13306/);
    const bad = await dockstack(['create', 'service', 'db', '--path', '/p', '--port', '1', '--check', 'mysql']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'error: --check: expected tcp | http[:/PATH] | mysql:USER | redis, got "mysql"\n');
  });
  test('a bad flag exits 2 (a usage error) with one line', async () => {
    const r = await dockstack(['synapse', '--tcp', 'db:path/test:port', '--print']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.split('\n')[0], 'error: --tcp db:path/test:port: PORT: expected a port 1–65535, got "port"');
  });
});

describe('the seed scenario as host processes', () => {
  let zk: ZooKeeperServer;
  let backend: TestBackend;
  before(async () => {
    [zk, backend] = await Promise.all([startZooKeeper(), startTcpBackend('db-1')]);
  });
  after(async () => {
    await Promise.all([zk?.stop(), backend?.close()]);
  });

  test('nerve --tcp --zk registers, synapse --tcp proxies, SIGTERM deregisters', async (t) => {
    const [listen, s1, s2] = await Promise.all([freePort(), freePort(), freePort()]);
    const state = await tempDir('dockstack-seed-');
    t.after(() => state.cleanup());
    const common = { ZK_HOSTS: zk.connectString, DOCKSTACK_LOG_LEVEL: 'warn' };
    const nerve = spawn(process.execPath, [BIN, 'nerve', '--tcp', '--zk', '--status-addr', `127.0.0.1:${s1}`], {
      env: { ...process.env, ...common, SERVICE: 'path/test', SERVICE_PORT: String(backend.port), SERVICE_HOST: '127.0.0.1' },
      stdio: 'ignore',
    });
    const synapse = spawn(process.execPath, [BIN, 'synapse', '--tcp', `db:path/test:${listen}`, '--listen-address', '127.0.0.1', '--status-addr', `127.0.0.1:${s2}`, '--haproxy-dir', state.path], {
      env: { ...process.env, ...common },
      stdio: 'ignore',
    });
    t.after(() => Promise.all([killProcess(nerve), killProcess(synapse)]));
    const registry = await createRegistry({ url: `zk://${zk.connectString}` });
    t.after(() => registry.close());
    await eventually(async () => assert.deepEqual((await registry.list('/path/test')).instances.map((i) => i.port), [backend.port]), { timeoutMs: 15_000 });
    await eventually(async () => assert.equal(await whoAnswers(listen), 'db-1'), { timeoutMs: 15_000 });
    nerve.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => nerve.once('exit', (c) => r(c)));
    assert.equal(code, 0);
    assert.deepEqual((await registry.list('/path/test')).instances, []);
  });
});
