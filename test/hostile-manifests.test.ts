/**
 * Hostile manifests against the whole agent: the bad corpus dropped into a watched directory next to
 * good manifests (the good ones keep working, memory stays bounded), and manifest values that reach
 * HAProxy cannot inject directives — refused by the schema, and again by the renderer if bypassed.
 */
import assert from 'node:assert/strict';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HaproxyError } from '../src/errors.ts';
import { renderConfig } from '../src/haproxy/config-render.ts';
import { parseManifestBytes } from '../src/manifest/load.ts';
import { SubscriptionSpec } from '../src/manifest/schema.ts';
import { listenerSpecOf } from '../src/reconcile/listener-spec.ts';
import type { ObjectKey } from '../src/object-key.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { startTcpBackend, whoAnswers, type TestBackend } from './harness/backends.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';
import { service, subscription } from './harness/static-source.ts';

const BAD = 'test/fixtures/bad';

describe('the bad corpus', () => {
  test('has at least 200 cases, every one a located error and none accepted', async () => {
    const files = (await readdir(BAD)).filter((f) => f !== 'expected.json');
    assert.ok(files.length >= 200, `only ${files.length} cases`);
    for (const f of files) {
      const r = parseManifestBytes(await readFile(join(BAD, f)), f);
      assert.ok(r.errors.length > 0, `${f} produced no error`);
      for (const e of r.errors) assert.match(e.message, /^[^:]+:\d+:\d+[ :]/, `${f}: unlocated error ${e.message}`);
    }
  });

  test('parsing the whole corpus 20 times keeps memory bounded and is fast', async () => {
    const texts = await Promise.all((await readdir(BAD)).filter((f) => f !== 'expected.json').map(async (f) => [f, await readFile(join(BAD, f))] as const));
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    const started = Date.now();
    let peak = before;
    for (let round = 0; round < 20; round++) {
      for (const [f, b] of texts) parseManifestBytes(b, f);
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    const ms = Date.now() - started;
    assert.ok(peak - before < 200 * 1024 * 1024, `heap grew ${Math.round((peak - before) / 1048576)} MB`);
    assert.ok(ms < 30_000, `${ms} ms for ${texts.length * 20} parses`);
  });
});

describe('the corpus in a watched directory beside good manifests', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  let agent: RunningAgent;
  let backend: TestBackend;
  let listenPort: number;
  let copied = 0;
  const failedKeys = new Set<ObjectKey>();

  before(async () => {
    dir = await tempDir('ds-hostile-dir');
    backend = await startTcpBackend('good-backend');
    listenPort = await freePort();
    // Files that also hold valid documents are left out: those would be applied (and bind their ports).
    for (const f of await readdir(BAD)) {
      if (f === 'expected.json') continue;
      const r = parseManifestBytes(await readFile(join(BAD, f)), f);
      if (r.manifests.length > 0) continue;
      await copyFile(join(BAD, f), join(dir.path, f));
      for (const k of r.errorKeys.values()) failedKeys.add(k);
      copied++;
    }
    // Names the corpus does not use, so no duplicate can shadow them.
    await writeFile(join(dir.path, 'zz-good-service.yaml'), service('zz-good', `path: /services/zz-good\nport: ${backend.port}`));
    await writeFile(join(dir.path, 'zz-good-subscription.yaml'), subscription('zz-good', `service: /services/zz-good\nlisten: { port: ${listenPort} }\ncheck: { type: none }`));
    agent = await startAgent({ manifestsDir: dir.path, registry: { url: 'memory://' }, host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir.path, '.state'), resyncMs: 1000 });
  });

  after(async () => {
    await agent?.stop();
    await backend?.close();
    await dir?.cleanup();
  });

  test('the good Service registers and its Subscription routes through HAProxy', async () => {
    await eventually(() => assert.equal(agent.agent.status.condition('service/zz-good', 'Registered')?.status, 'True'), { timeoutMs: 20_000 });
    await eventually(async () => assert.equal(await whoAnswers(listenPort), 'good-backend'), { timeoutMs: 20_000 });
  });

  test('every corpus object with a readable name is reported Invalid with located messages', async () => {
    assert.ok(copied >= 190, `${copied} files copied`);
    assert.ok(failedKeys.size >= 5, [...failedKeys].join());
    for (const key of failedKeys) {
      const errors = agent.agent.viewOf(key)?.status.validationErrors ?? [];
      assert.ok(errors.length > 0, `${key} shows no validation error`);
      for (const e of errors) assert.match(e, /:\d+:\d+[ :]/);
      assert.equal(agent.agent.status.condition(key, 'Valid')?.status, 'False', key);
    }
    assert.equal(agent.agent.status.condition('service/zz-good', 'Valid')?.status, 'True');
  });

  test('HAProxy holds only the good listener: no corpus value reached its config', async () => {
    const cfg = await readFile(join(dir.path, '.state', 'haproxy.cfg'), 'utf8');
    assert.deepEqual(cfg.match(/^backend .*$/gm), ['backend zz-good']);
    assert.doesNotMatch(cfg, /evil|stats enable|transparent|backup|httpchk/);
  });
});

describe('manifest values that reach HAProxy', () => {
  const base = { service: '/services/x', listen: { port: 8080 } };
  const hostile: Array<[string, unknown]> = [
    ['listen.address', { ...base, listen: { address: '127.0.0.1\n  server evil 1.2.3.4:80', port: 8080 } }],
    ['check.user', { ...base, check: { type: 'mysql', user: 'x\n  stats enable' } }],
    ['check.path', { ...base, check: { type: 'http', path: "/x'\n  server evil 1.2.3.4:80" } }],
    ['check.hostHeader', { ...base, check: { type: 'http', hostHeader: 'a\r\nX-Evil: 1' } }],
    ['defaultServers', { ...base, defaultServers: ['1.2.3.4:80 backup'] }],
    ['balance', { ...base, balance: 'roundrobin\n  option transparent' }],
    ['maintenance', { ...base, maintenance: ['10.0.0.1:80#'] }],
  ];
  for (const [field, spec] of hostile)
    test(`the schema refuses a hostile ${field}`, () => assert.equal(SubscriptionSpec.safeParse(spec).success, false));

  test('the renderer refuses the same values even when the schema is bypassed', () => {
    const good = listenerSpecOf(SubscriptionSpec.parse(base));
    const render = (spec: object, name = 'x', slots = [] as never[]) => () => renderConfig({ dir: '/tmp/ds' }, [{ name, spec: { ...good, ...spec } as typeof good, slots }]);
    assert.throws(render({}, 'x\nlisten evil'), HaproxyError);
    assert.throws(render({}, "x'"), HaproxyError);
    assert.throws(render({ listen: { host: '127.0.0.1 transparent', port: 80 } }), HaproxyError);
    assert.throws(render({ balance: 'round-robin\n  stats enable' }), HaproxyError);
    assert.throws(render({ check: { kind: 'mysql', user: 'a b', intervalMs: 1000, rise: 1, fall: 1 } }), HaproxyError);
    assert.throws(render({ check: { kind: 'http', path: "/a'b", intervalMs: 1000, rise: 1, fall: 1 } }), HaproxyError);
    assert.throws(render({ check: { kind: 'http', path: '/a', hostHeader: 'a\nb', intervalMs: 1000, rise: 1, fall: 1 } }), HaproxyError);
    assert.throws(render({ timeouts: { connectMs: 1.5, clientMs: 1, serverMs: 1 } }), HaproxyError);
    const slot = (ip: string, port = 80) => [{ ip, port, weight: 1, admin: 'ready' as const }] as never[];
    assert.throws(render({}, 'x', slot('10.0.0.1 backup')), HaproxyError);
    assert.throws(render({}, 'x', slot('example.com')), HaproxyError, 'only IP literals reach a server line');
    assert.throws(render({}, 'x', slot('10.0.0.1', 0)), HaproxyError);
    assert.throws(() => renderConfig({ dir: '/tmp/a b' }, []), HaproxyError);
  });

  test('the widest legal values render into a config haproxy -c accepts, each on its own line', async () => {
    const d = await tempDir('ds-hostile-render');
    try {
      const spec = listenerSpecOf(SubscriptionSpec.parse({
        ...base,
        check: { type: 'http', path: '/a?b=c&d="e"#f%20{}[]|\\^`~!$()*+,;<>', hostHeader: 'x-1.example.org', interMs: 1000 },
      }));
      const text = renderConfig({ dir: d.path }, [{ name: 'a.b_c-d', spec, slots: [{ ip: '::1', port: 65535, weight: 256, admin: 'maint' }] }]);
      const line = text.split('\n').find((l) => l.includes('http-check send'));
      assert.equal(line, `  http-check send meth GET uri '/a?b=c&d="e"#f%20{}[]|\\^\`~!$()*+,;<>' hdr Host x-1.example.org`);
      await writeFile(join(d.path, 'h.cfg'), text);
      const { execFileSync } = await import('node:child_process');
      execFileSync('haproxy', ['-c', '-f', join(d.path, 'h.cfg')], { stdio: 'pipe' });
    } finally {
      await d.cleanup();
    }
  });
});
