/**
 * `apply --prune -l SELECTOR` through the real binary, against a running agent with a real HAProxy
 * watching the directory: --dry-run names what would be pruned and changes nothing; the real run
 * deletes exactly the labelled objects outside the applied set, and the agent removes the pruned
 * Subscription's listener from HAProxy.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { answering, startTcpBackend, type TestBackend } from './harness/backends.ts';
import { dockstack } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';

let dir: string;
let manifests: string;
let running: RunningAgent;
let backend: TestBackend;
let port: number;
const doc = (kind: string, name: string, labels: string, spec: string) =>
  `apiVersion: dockstack.io/v1alpha1\nkind: ${kind}\nmetadata:\n  name: ${name}\n  labels: {${labels}}\nspec:\n${spec.replace(/^/gm, '  ')}\n`;
const webService = () => doc('Service', 'web', 'app: web', 'path: /services/web\nport: 8080');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-prune-'));
  manifests = join(dir, 'manifests');
  await mkdir(manifests);
  backend = await startTcpBackend('old');
  port = await freePort();
  await writeFile(join(manifests, 'web.yaml'), webService());
  await writeFile(join(manifests, 'old.yaml'), doc('Subscription', 'old', 'app: web', `service: /services/old\nlisten: { port: ${port} }\ndefaultServers: ["127.0.0.1:${backend.port}"]\ncheck: { type: none }`));
  await writeFile(join(manifests, 'other.yaml'), doc('Service', 'other', 'app: other', 'path: /services/other\nport: 8081'));
  running = await startAgent({ manifestsDir: manifests, registry: new MemoryRegistry(), host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir, 'haproxy') });
  await eventually(async () => assert.deepEqual([...(await answering(port, 2))], ['old']), { timeoutMs: 30_000 });
  await writeFile(join(dir, 'app.yaml'), webService());
});
after(async () => {
  await running?.stop();
  await backend?.close();
  await rm(dir, { recursive: true, force: true });
});

test('--prune needs -l, and -l needs --prune', async () => {
  const r = await dockstack(['apply', '-f', join(dir, 'app.yaml'), '--manifests', manifests, '--prune']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^error: --prune needs -l SELECTOR/);
  assert.equal((await dockstack(['apply', '-f', join(dir, 'app.yaml'), '--manifests', manifests, '-l', 'app=web'])).code, 2);
});

test('--dry-run names what would be pruned and changes nothing', async () => {
  const r = await dockstack(['apply', '-f', join(dir, 'app.yaml'), '--manifests', manifests, '--prune', '-l', 'app=web', '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'service/web unchanged (dry run)\nsubscription/old pruned (dry run)\n');
  assert.deepEqual((await readdir(manifests)).sort(), ['old.yaml', 'other.yaml', 'web.yaml']);
});

test('prunes the labelled objects outside the applied set; the agent drops the listener', async () => {
  const r = await dockstack(['apply', '-f', join(dir, 'app.yaml'), '--manifests', manifests, '--prune', '-l', 'app=web,tier!=db']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'service/web unchanged\nsubscription/old pruned\n');
  assert.deepEqual((await readdir(manifests)).sort(), ['other.yaml', 'web.yaml']);
  const waited = await dockstack(['wait', '--for=delete', 'subscription/old', '--timeout', '30s', '--status-addr', running.statusAddr]);
  assert.equal(waited.code, 0, waited.stderr);
  await eventually(() => new Promise<void>((resolve, reject) => {
    const s = createConnection(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), reject(new Error('the listener still accepts'))));
    s.once('error', () => resolve());
  }), { timeoutMs: 20_000 });
  assert.ok(running.agent.viewOf('service/other'), 'the object with other labels stays');
});
