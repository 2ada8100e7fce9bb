/**
 * etcd over TLS against a real etcd serving only https, with client-certificate authentication
 * (certificates made by openssl in the harness): etcds:// and https:// endpoints are TLS, never
 * quietly plain http; the CA, client certificate and key come from flags or the environment; a
 * missing client certificate or a CA that did not sign etcd's certificate fails, and says why.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { RegistryError } from '../src/errors.ts';
import { createRegistry } from '../src/registry/create-registry.ts';
import { BIN, dockstack } from './harness/cli.ts';
import { startTcpBackend, type TestBackend } from './harness/backends.ts';
import { startTlsEtcd, type TlsEtcdServer } from './harness/etcd-tls.ts';
import { eventually } from './harness/eventually.ts';
import { service } from './harness/static-source.ts';

let etcd: TlsEtcdServer;
let raw: Etcd3;
let backend: TestBackend;
before(async () => {
  etcd = await startTlsEtcd({ clientCertAuth: true });
  const f = etcd.files;
  raw = new Etcd3({ hosts: `https://${etcd.endpoint}`, credentials: { rootCertificate: await readFile(f.ca), certChain: await readFile(f.cert), privateKey: await readFile(f.key) } });
  backend = await startTcpBackend('web');
});
after(async () => {
  raw?.close();
  await backend?.close();
  await etcd?.stop();
});

describe('the registry over TLS', () => {
  test('etcds:// with the CA and a client certificate registers and lists', async () => {
    const f = etcd.files;
    const reg = await createRegistry({ url: `etcds://${etcd.endpoint}`, opTimeoutMs: 10_000, etcdTls: { ca: await readFile(f.ca), cert: await readFile(f.cert), key: await readFile(f.key) } });
    try {
      await reg.register('/services/tls', { host: '127.0.0.1', port: 8080, name: 'a' });
      assert.deepEqual((await reg.list('/services/tls')).instances.map((i) => i.port), [8080]);
      assert.match((await raw.get('/dockstack/services/tls/a').string()) ?? '', /"port":8080/);
      await reg.deregister('/services/tls', 'a');
    } finally {
      await reg.close();
    }
  });

  for (const [what, why, files] of [
    ['no client certificate', /bad certificate/, async () => ({ ca: await readFile(etcd.files.ca) })],
    ['a client certificate of another CA', /bad certificate/, async () => ({ ca: await readFile(etcd.files.ca), cert: await readFile(etcd.files.otherCert), key: await readFile(etcd.files.otherKey) })],
    ['a CA that did not sign etcd\'s certificate', /unable to verify the first certificate/, async () => ({ ca: await readFile(etcd.files.otherCa), cert: await readFile(etcd.files.cert), key: await readFile(etcd.files.key) })],
  ] as const) {
    test(`${what}: refused, the key never written`, async () => {
      const reg = await createRegistry({ url: `etcds://${etcd.endpoint}`, opTimeoutMs: 3000, connectTimeoutMs: 3000, etcdTls: await files() });
      try {
        await assert.rejects(reg.register('/services/refused', { host: '127.0.0.1', port: 1, name: 'x' }), (err: unknown) => err instanceof RegistryError && why.test(err.message));
      } finally {
        await reg.close();
      }
      assert.equal(await raw.get('/dockstack/services/refused/x').string(), null);
    });
  }

  test('TLS files with a plain etcd:// URL are refused, not ignored', async () => {
    await assert.rejects(createRegistry({ url: `etcd://${etcd.endpoint}`, etcdTls: { ca: await readFile(etcd.files.ca) } }), /the registry URL is etcd:\/\/ \(plain\)/);
  });
});

describe('a real agent process', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ds-etcd-tls-'));
    await writeFile(join(dir, 'web.yaml'), service('web', `path: /services/web\nport: ${backend.port}\nhost: 127.0.0.1\nchecks: [{ type: tcp }]`));
  });
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  test('ETCD_ENDPOINTS=https://… and the DOCKSTACK_ETCD_*_FILE variables: registered over TLS (before: downgraded to http)', async () => {
    const f = etcd.files;
    let err = '';
    child = spawn(process.execPath, [BIN, 'agent', '--manifests', dir, '--proxy', 'none', '--status-addr', '127.0.0.1:0'], {
      env: { ...process.env, DOCKSTACK_STATUS_TOKEN: '', DOCKSTACK_REGISTRY: '', ETCD_ENDPOINTS: `https://${etcd.endpoint}`, DOCKSTACK_ETCD_CA_FILE: f.ca, DOCKSTACK_ETCD_CERT_FILE: f.cert, DOCKSTACK_ETCD_KEY_FILE: f.key },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    await eventually(async () => assert.match((await raw.getAll().prefix('/dockstack/services/web/').strings().then((m) => Object.values(m).join())) ?? '', new RegExp(`"port":${backend.port}`), err.slice(-1500)), { timeoutMs: 30_000 });
    const stopped = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await stopped, 0);
    await eventually(async () => assert.deepEqual(await raw.getAll().prefix('/dockstack/services/web/').keys(), []), { timeoutMs: 10_000 });
  });

  test('flags: a key without its certificate, an unreadable file, TLS files on etcd://: usage errors naming the flag, never a file\'s content', async () => {
    const f = etcd.files;
    const base = ['agent', '--manifests', dir, '--proxy', 'none', '--status-addr', '127.0.0.1:0'];
    const env = { DOCKSTACK_STATUS_TOKEN: '', DOCKSTACK_REGISTRY: '', ETCD_ENDPOINTS: '' };
    const lone = await dockstack([...base, '--registry', `etcds://${etcd.endpoint}`, '--etcd-key-file', f.key], { env });
    assert.equal(lone.code, 2);
    assert.match(lone.stderr, /--etcd-cert-file and --etcd-key-file go together/);
    const missing = await dockstack([...base, '--registry', `etcds://${etcd.endpoint}`, '--etcd-ca-file', join(dir, 'nope.pem')], { env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--etcd-ca-file: reading .*nope\.pem: ENOENT/);
    const plain = await dockstack([...base, '--registry', `etcd://${etcd.endpoint}`, '--etcd-ca-file', f.ca], { env });
    assert.equal(plain.code, 2);
    assert.match(plain.stderr, /etcd:\/\/ \(plain\)/);
    const key = await readFile(f.key, 'utf8');
    for (const r of [lone, missing, plain]) assert.ok(!r.stderr.includes(key.split('\n')[1]!), 'no key material in the error');
  });
});
