/**
 * Security hardening of files, rendering and the watch stream, each against the real thing:
 * `dockstack apply` on real directories (0600 for inline secrets, no writes through a symlinked
 * directory leading out of --manifests), the directory source ignoring links out of its root,
 * a `%` in an http check's Host header sent literally by a real HAProxy, and the watch stream
 * dropping clients that do not read (heap measured with 20 of them).
 */
import assert from 'node:assert/strict';
import { chmod, chown, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ObjectView } from '../src/agent.ts';
import { renderDescribe, renderTable } from '../src/cli/output.ts';
import { renderConfig } from '../src/haproxy/config-render.ts';
import { haproxyRunAs, lookupUser } from '../src/haproxy/run-as.ts';
import { DirectorySource } from '../src/manifest/directory-source.ts';
import type { FileResult } from '../src/manifest/load.ts';
import { SubscriptionSpec } from '../src/manifest/schema.ts';
import { listenerSpecOf } from '../src/reconcile/listener-spec.ts';
import { MAX_DELETED_WITH_EVENTS, StatusStore } from '../src/reconcile/status-store.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { StatusServer } from '../src/server/status-server.ts';
import { dockstack } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { spawnServer } from './harness/process.ts';
import { freePort } from './harness/ports.ts';
import { StaticSource, subscription } from './harness/static-source.ts';

const svc = (name: string, extra = '') => `apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n  path: /services/${name}\n  port: 8080\n${extra}`;

describe('apply and delete on real directories', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir('ds-hard-apply');
  });
  after(() => tmp?.cleanup());

  test('a manifest carrying an inline password is written 0600; one without, 0644', async () => {
    const m = join(tmp.path, 'm');
    await writeFile(join(tmp.path, 'secret.yaml'), svc('db', '  checks: [{type: redis, password: hunter2}]\n'));
    await writeFile(join(tmp.path, 'plain.yaml'), svc('web'));
    for (const f of ['secret.yaml', 'plain.yaml']) assert.equal((await dockstack(['apply', '-f', join(tmp.path, f), '--manifests', m])).code, 0);
    assert.equal((await stat(join(m, 'service-db.yaml'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(m, 'service-web.yaml'))).mode & 0o777 & ~0o022, 0o644 & ~0o022);
  });

  test('apply and delete refuse a file reached through a symlinked directory outside --manifests', async () => {
    const m = join(tmp.path, 'm2');
    const outside = join(tmp.path, 'outside');
    await mkdir(m);
    await mkdir(outside);
    const victim = join(outside, 'victim.yaml');
    await writeFile(victim, svc('victim'));
    await symlink(outside, join(m, 'linked'));
    await writeFile(join(tmp.path, 'new.yaml'), svc('victim', '  weight: 5\n'));
    const applied = await dockstack(['apply', '-f', join(tmp.path, 'new.yaml'), '--manifests', m]);
    assert.equal(await readFile(victim, 'utf8'), svc('victim'), 'the file outside --manifests was changed');
    // The link is not followed at all (not indexed), so apply creates the object inside --manifests.
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(await readFile(join(m, 'service-victim.yaml'), 'utf8'), /weight: 5/);
    const deleted = await dockstack(['delete', 'service', 'victim', '--manifests', m]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.equal((await dockstack(['delete', 'service', 'victim', '--manifests', m])).code, 1, 'only the copy inside was there to delete');
    assert.equal(await readFile(victim, 'utf8'), svc('victim'));
  });
});

describe('the directory source and links out of its root', () => {
  test('a link to a file or directory outside is ignored with a located error; links inside still work', async () => {
    const tmp = await tempDir('ds-hard-links');
    const root = join(tmp.path, 'root');
    try {
      await mkdir(join(root, 'sub'), { recursive: true });
      await writeFile(join(tmp.path, 'private.yaml'), 'root-only: "TOP-SECRET-CONTENT\n');
      await symlink(join(tmp.path, 'private.yaml'), join(root, 'leak.yaml'));
      await symlink('/usr', join(root, 'usr'));
      await writeFile(join(root, 'sub', 'a.yaml'), svc('a'));
      await symlink('sub/a.yaml', join(root, 'inside.yaml'));
      let snap: ReadonlyMap<string, FileResult> = new Map();
      const source = new DirectorySource({ dir: root, debounceMs: 20, maxWaitMs: 100, rescanMs: 60_000 });
      const started = Date.now();
      await source.start((s) => (snap = s));
      const ms = Date.now() - started;
      await source.close();
      const messages = [...snap.values()].flatMap((r) => r.errors.map((e) => e.message));
      assert.deepEqual(messages.sort(), [
        `${join(root, 'leak.yaml')}: symlink to ${join(tmp.path, 'private.yaml')}, outside the manifests directory: ignored (--follow-external-links to allow)`,
        `${join(root, 'usr')}: symlink to /usr, outside the manifests directory: ignored (--follow-external-links to allow)`,
      ]);
      assert.ok(!JSON.stringify(messages).includes('TOP-SECRET'), "!JSON.stringify(messages).includes('TOP-SECRET')");
      assert.deepEqual([...snap.values()].flatMap((r) => r.manifests.map((x) => `${x.file}`)).sort(), [join(root, 'inside.yaml'), join(root, 'sub', 'a.yaml')]);
      console.log(`# first snapshot with a link to /usr in the root: ${ms} ms`);
      assert.ok(ms < 5000, `${ms} ms`);
      let opted: ReadonlyMap<string, FileResult> = new Map();
      const follow = new DirectorySource({ dir: root, watch: false, debounceMs: 20, maxWaitMs: 100, rescanMs: 60_000, followExternalLinks: true });
      await (await import('node:fs/promises')).unlink(join(root, 'usr'));
      await follow.start((s) => (opted = s));
      await follow.close();
      assert.equal(opted.get(join(root, 'leak.yaml'))?.fatal, true, 'opted in: the link is read (and is no manifest)');
    } finally {
      await tmp.cleanup();
    }
  });
});

describe('human output', () => {
  test('control characters in names, errors and events are escaped, so no fake rows or terminal escapes', async () => {
    const evil = 'x\u001b[2J\u001b]0;pwned\u0007\nfake   True   Ready\r';
    const view = {
      apiVersion: 'dockstack.io/v1alpha1',
      kind: 'Subscription',
      metadata: { name: evil, source: evil },
      spec: { service: evil },
      status: { conditions: [{ type: 'Ready', status: 'False', reason: evil, message: evil, lastTransitionTime: new Date().toISOString() }], retries: 0, details: { rejected: [evil] }, lastError: evil, validationErrors: [] },
    } as unknown as ObjectView;
    const out = renderTable([view], true) + (await renderDescribe(view, [{ time: new Date().toISOString(), object: 'service/x', type: 'Warning', reason: evil, message: evil }]));
    assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f]/); // eslint-disable-line no-control-regex
    assert.equal(renderTable([view], true).split('\n').length, 3, 'header, one row, trailing newline');
    assert.match(out, /x\\u001b\[2J\\u001b\]0;pwned\\u0007\\nfake/);
  });
});

describe('events of deleted objects', () => {
  test('are freed past a bound; live objects keep theirs', () => {
    const s = new StatusStore();
    s.setCondition('service/live', 'Ready', 'True', 'Ready');
    s.event('service/live', 'Normal', 'Registered', 'ok');
    for (let i = 0; i < 5000; i++) {
      s.setCondition(`service/s${i}`, 'Ready', 'True', 'Ready');
      s.event(`service/s${i}`, 'Normal', 'Registered', 'x'.repeat(200));
      s.delete(`service/s${i}`);
    }
    assert.equal(s.events().length, MAX_DELETED_WITH_EVENTS + 1);
    assert.equal(s.events('service/live').length, 1);
    assert.equal(s.events('service/s4999').length, 1, 'the latest deleted keep their events for describe');
    assert.equal(s.events('service/s0').length, 0);
  });
});

describe('check.hostHeader through a real HAProxy', () => {
  test('the schema refuses a "%"; a bypassed "%H" is sent literally, not as the machine name', async () => {
    const base = { service: '/services/x', listen: { port: 8080 } };
    assert.equal(SubscriptionSpec.safeParse({ ...base, check: { type: 'http', hostHeader: 'fe80::1%H' } }).success, false);
    const tmp = await tempDir('ds-hard-hdr');
    const hosts: string[] = [];
    const backend = createServer((req, res) => {
      hosts.push(req.headers.host ?? '');
      res.end('ok');
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const port = (backend.address() as { port: number }).port;
    const spec = listenerSpecOf(SubscriptionSpec.parse({ ...base, listen: { port: await freePort() }, mode: 'http', check: { type: 'http', path: '/h', interMs: 100 } }));
    const cfg = renderConfig({ dir: tmp.path }, [{ name: 'x', spec: { ...spec, check: { ...spec.check, hostHeader: 'fe80::1%H' } } as typeof spec, slots: [{ ip: '127.0.0.1', port, weight: 1, admin: 'ready' }] }]);
    await writeFile(join(tmp.path, 'h.cfg'), cfg);
    const hp = spawnServer('haproxy', ['-db', '-f', join(tmp.path, 'h.cfg')]);
    try {
      await eventually(() => assert.ok(hosts.length > 0, 'hosts.length > 0'), { timeoutMs: 10_000 });
      assert.equal(hosts[0], 'fe80::1%H');
    } finally {
      hp.kill('SIGKILL');
      backend.close();
      await tmp.cleanup();
    }
  });
});

describe('the watch stream and clients that do not read', () => {
  let running: RunningAgent;
  let server: StatusServer;
  let addr: string;
  const tmp = { path: '', cleanup: async () => undefined as void };
  before(async () => {
    Object.assign(tmp, await tempDir('ds-hard-watch'));
    running = await startAgent({ manifestsDir: tmp.path, registry: { url: 'memory://' }, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'none', haproxyDir: tmp.path });
    server = new StatusServer(running.agent, { port: 0, maxWatchStreams: 24 });
    addr = await server.start();
  });
  after(async () => {
    await server?.close();
    await running?.stop();
    await tmp.cleanup();
  });

  const openStream = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const [h, p] = addr.split(':');
      const s = connect(Number(p), h, () => s.write(`GET /api/v1/watch HTTP/1.1\r\nHost: ${addr}\r\n\r\n`));
      s.once('data', () => {
        s.pause(); // subscribed; from now on never read: the kernel buffers fill, then the agent's
        resolve(s);
      });
      s.on('error', reject);
    });

  test('20 non-reading clients are dropped and the heap stays bounded; stream count is capped (503)', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, openStream));
    const closed = new Set<Socket>();
    for (const c of clients) c.on('close', () => closed.add(c));
    global.gc?.();
    const before = process.memoryUsage();
    let peakHeap = before.heapUsed;
    // 1,500 changes of a ~20 KB object: 30 MB for each client that never reads.
    const blob = 'x'.repeat(20_000);
    for (let i = 0; i < 1500; i++) {
      running.agent.status.patch('service/churn', { details: { path: blob, port: i } });
      if (i % 100 === 0) {
        peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
        await new Promise((r) => setImmediate(r));
      }
    }
    // A paused socket does not see its end: read what was buffered, then a dropped stream closes.
    for (const c of clients) c.resume();
    await eventually(() => assert.equal(closed.size, clients.length, `${closed.size} of 20 dropped`), { timeoutMs: 20_000 });
    global.gc?.();
    const afterMem = process.memoryUsage();
    const grewMb = (peakHeap - before.heapUsed) / 1048576;
    console.log(`# 20 non-reading watch clients: all dropped; heap ${Math.round(before.heapUsed / 1048576)} MB before, peak +${grewMb.toFixed(0)} MB, after ${Math.round(afterMem.heapUsed / 1048576)} MB; rss ${Math.round(before.rss / 1048576)} → ${Math.round(afterMem.rss / 1048576)} MB`);
    assert.ok(grewMb < 150, `heap grew ${grewMb.toFixed(0)} MB`);
    const held = await Promise.all(Array.from({ length: 24 }, openStream));
    const res = await fetch(`http://${addr}/api/v1/watch`);
    assert.equal(res.status, 503);
    assert.match(((await res.json()) as { error: string }).error, /too many watch streams open \(24\)/);
    for (const c of held) c.destroy();
  });
});

describe('the HAProxy state dir', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    tmp = await tempDir('ds-hard-state');
  });
  after(() => tmp?.cleanup());
  const start = (haproxyDir: string) =>
    startAgent({ manifestsDir: join(tmp.path, 'none'), registry: { url: 'memory://' }, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir });

  test('is created 0700; one writable by others or owned by another user is refused with a clear error', async () => {
    const fresh = join(tmp.path, 'fresh', 'haproxy');
    const agent = await start(fresh);
    await agent.stop();
    assert.equal((await stat(fresh)).mode & 0o777, 0o700);
    const loose = join(tmp.path, 'loose');
    await mkdir(loose, { mode: 0o777 });
    await chmod(loose, 0o777);
    await assert.rejects(start(loose), /using .*loose as the HAProxy state dir: writable by others \(mode 777\)/);
    const foreign = join(tmp.path, 'foreign');
    await mkdir(foreign, { mode: 0o700 });
    await chown(foreign, 65534, 65534);
    await assert.rejects(start(foreign), /owned by uid 65534, not by this agent \(uid 0\)/);
  });

  test("HAProxy's output is never appended through a planted symlink", async () => {
    const dir = join(tmp.path, 'planted');
    await mkdir(dir, { mode: 0o700 });
    const victim = join(tmp.path, 'root-only.txt');
    await writeFile(victim, 'untouched\n', { mode: 0o600 });
    await symlink(victim, join(dir, 'haproxy.log'));
    // Before O_NOFOLLOW the start succeeded, with HAProxy's stdout/stderr appended to the victim.
    await assert.rejects(start(dir), (err: Error) => /ELOOP/.test(`${err.message} ${String(err.cause)}`));
    assert.equal(await readFile(victim, 'utf8'), 'untouched\n');
  });
});

describe('HAProxy privileges when the agent is root', () => {
  const uidOf = async (pid: number) => Number(/^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))![1]);
  const workersOf = async (master: number) => {
    const out: number[] = [];
    for (const p of await readdir('/proc')) {
      if (!/^\d+$/.test(p)) continue;
      const st = await readFile(`/proc/${p}/status`, 'utf8').catch(() => '');
      if (new RegExp(`^PPid:\\s+${master}$`, 'm').test(st) && /^Name:\s+haproxy/m.test(st)) out.push(Number(p));
    }
    return out;
  };

  test('the workers run as the haproxy user once bound (a port < 1024 still works); --haproxy-user root keeps root', async () => {
    assert.equal(process.getuid?.(), 0, 'this test needs root, as CI runs it');
    const haproxyUid = lookupUser('haproxy')?.uid;
    assert.ok(haproxyUid !== undefined && haproxyUid !== 0, 'Debian haproxy user missing');
    const tmp = await tempDir('ds-hard-priv');
    const source = new StaticSource();
    source.set('low.yaml', subscription('low', 'service: /services/low\nlisten: {address: 127.0.0.1, port: 1011}\ndefaultServers: ["127.0.0.1:1"]'));
    const running = await startAgent({ manifestsDir: tmp.path, source, registry: { url: 'memory://' }, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(tmp.path, 'hp') });
    try {
      const master = Number((await readFile(join(tmp.path, 'hp', 'haproxy.pid'), 'utf8')).trim());
      await eventually(async () => assert.match(await readFile(join(tmp.path, 'hp', 'haproxy.cfg'), 'utf8'), /backend low/), { timeoutMs: 10_000 });
      assert.equal(await uidOf(master), 0, 'the master keeps root to bind on reload');
      // A reload can replace a worker between the listing and the read of its status: retry then.
      await eventually(async () => {
        const workers = await workersOf(master);
        assert.ok(workers.length > 0, 'workers.length > 0');
        for (const w of workers) assert.equal(await uidOf(w), haproxyUid);
      });
      await eventually(() => new Promise<void>((resolve, reject) => {
        const s = connect(1011, '127.0.0.1', () => (s.destroy(), resolve()));
        s.on('error', reject);
      }));
    } finally {
      await running.stop();
      await tmp.cleanup();
    }
    assert.equal(haproxyRunAs('root'), undefined);
    assert.throws(() => haproxyRunAs('no-such-user-x'), /--haproxy-user: no user "no-such-user-x"/);
  });
});
