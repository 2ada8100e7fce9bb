/**
 * The CLI as users run it (the real binary): validate, apply, diff, delete exit codes and file
 * effects; get/describe against a running agent; one clear line for user mistakes.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { dockstack } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { service, subscription } from './harness/static-source.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dockstack-cli-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const DB = subscription('db', 'service: /path/test\nlisten: { port: 13306 }\ncheck: { type: mysql, user: haproxy_check }');

describe('validate', () => {
  test('the shipped examples validate', async () => {
    const r = await dockstack(['validate', 'manifests/']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /manifest\(s\) in \d+ file\(s\) valid/);
  });

  test('bad manifests exit 1 with file:line:col and the field path, each error printed and counted once', async () => {
    const dir = join(root, 'bad');
    await (await import('node:fs/promises')).mkdir(dir);
    await writeFile(join(dir, 'a.yaml'), subscription('db', 'service: /path/test\nlisten: { port: "abc" }'));
    await writeFile(join(dir, 'b.yaml'), service('web', 'path: /web\nport: 99999'));
    const r = await dockstack(['validate', dir]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `${join(dir, 'a.yaml')}:7:19 spec.listen.port: expected integer 1–65535, got "abc"\n` +
        `${join(dir, 'b.yaml')}:7:9 spec.port: expected integer 1–65535, got 99999\n` +
        '2 error(s) in 2 file(s)\n',
    );
  });
});

describe('apply / diff / delete', () => {
  test('apply creates, reports unchanged, configures; invalid input writes nothing', async () => {
    const dir = join(root, 'm1');
    const input = join(root, 'db.yaml');
    await writeFile(input, DB);
    let r = await dockstack(['apply', '-f', input, '--manifests', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'subscription/db created\n');
    assert.equal(await readFile(join(dir, 'subscription-db.yaml'), 'utf8'), DB);

    r = await dockstack(['apply', '-f', input, '--manifests', dir]);
    assert.equal(r.stdout, 'subscription/db unchanged\n');

    r = await dockstack(['apply', '-f', '-', '--manifests', dir], { stdin: DB.replace('13306', '13307') });
    assert.equal(r.stdout, 'subscription/db configured\n');
    assert.match(await readFile(join(dir, 'subscription-db.yaml'), 'utf8'), /13307/);

    r = await dockstack(['apply', '-f', '-', '--manifests', dir], { stdin: `${service('ok', 'path: /a\nport: 1')}---\n${DB.replace('13306', '99999')}` });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, '<stdin>:15:19 spec.listen.port: expected integer 1–65535, got 99999\n1 error(s): nothing was written\n');
    assert.deepEqual(await readdir(dir), ['subscription-db.yaml'], 'nothing written, not even the valid doc');
  });

  test('apply edits an object in place inside a multi-document file, keeping the others and comments', async () => {
    const dir = join(root, 'm2');
    await dockstack(['apply', '-f', '-', '--manifests', dir], { stdin: '' });
    const multi = `# our services\n${service('a', 'path: /a\nport: 1')}---\n${service('b', 'path: /b\nport: 2')}`;
    await writeFile(join(root, 'multi-src.yaml'), multi);
    await (await import('node:fs/promises')).mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'all.yaml'), multi);
    const r = await dockstack(['apply', '-f', '-', '--manifests', dir], { stdin: service('b', 'path: /b\nport: 3') });
    assert.equal(r.stdout, 'service/b configured\n', r.stderr);
    const text = await readFile(join(dir, 'all.yaml'), 'utf8');
    assert.equal(text, `# our services\n${service('a', 'path: /a\nport: 1')}---\n${service('b', 'path: /b\nport: 3')}`);
  });

  test('diff exits 0 without changes, 1 with a unified diff, 2 on invalid input', async () => {
    const dir = join(root, 'm3');
    const input = join(root, 'db3.yaml');
    await writeFile(input, DB);
    let r = await dockstack(['diff', '-f', input, '--manifests', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^\+\+\+ merged\/subscription-db\.yaml/m);
    await dockstack(['apply', '-f', input, '--manifests', dir]);
    r = await dockstack(['diff', '-f', input, '--manifests', dir]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    await writeFile(input, DB.replace('13306', '13308'));
    r = await dockstack(['diff', '-f', input, '--manifests', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^-  listen: \{ port: 13306 \}$/m);
    assert.match(r.stdout, /^\+  listen: \{ port: 13308 \}$/m);
    await writeFile(input, 'kind: [');
    r = await dockstack(['diff', '-f', input, '--manifests', dir]);
    assert.equal(r.code, 2);
  });

  test('delete by name and by file; missing objects exit 1 unless --ignore-not-found', async () => {
    const dir = join(root, 'm4');
    const input = join(root, 'db4.yaml');
    await writeFile(input, `${DB}---\n${service('mysql', 'path: /path/test\nport: 3306')}`);
    await dockstack(['apply', '-f', input, '--manifests', dir]);
    assert.equal((await readdir(dir)).length, 2);
    let r = await dockstack(['delete', 'service', 'mysql', '--manifests', dir]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'service/mysql deleted\n');
    r = await dockstack(['delete', 'service', 'mysql', '--manifests', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /service\/mysql not found/);
    r = await dockstack(['delete', 'service', 'mysql', '--manifests', dir, '--ignore-not-found']);
    assert.equal(r.code, 0);
    r = await dockstack(['delete', '-f', input, '--manifests', dir, '--ignore-not-found']);
    assert.equal(r.stdout, 'subscription/db deleted\n');
    assert.deepEqual(await readdir(dir), []);
  });
});

describe('get / describe against a running agent', () => {
  let agent: RunningAgent;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dockstack-cli-agent-'));
    await writeFile(join(dir, 'db.yaml'), DB);
    agent = await startAgent({ manifestsDir: dir, registry: new MemoryRegistry(), host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'none', haproxyDir: join(dir, '.state') });
    await agent.registry.register('/path/test', { host: '127.0.0.1', port: 3306, name: 'mysql-1' });
  });
  after(async () => {
    await agent.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('get lists conditions and generations; -o json and yaml', async () => {
    const addr = ['--status-addr', agent.statusAddr];
    await eventually(async () => {
      const r = await dockstack(['get', 'subscriptions', ...addr]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^NAME\s+READY\s+REASON\s+SERVICE\s+LISTEN\s+BACKENDS\s+GEN\s+OBSERVED\s+AGE$/m);
      assert.match(r.stdout, /^db\s+True\s+Routing\s+\/path\/test\s+127\.0\.0\.1:13306\s+1\s+1\s+1\s+/m);
    });
    const json = JSON.parse((await dockstack(['get', 'sub', 'db', '-o', 'json', ...addr])).stdout) as { status: { observedGeneration: number; conditions: Array<{ type: string; status: string }> } };
    assert.equal(json.status.observedGeneration, 1);
    assert.deepEqual(json.status.conditions.map((c) => `${c.type}=${c.status}`).sort(), ['ProxyConfigured=True', 'Ready=True', 'Synced=True', 'Valid=True']);
    const yaml = await dockstack(['get', 'subscription', 'db', '-o', 'yaml', ...addr]);
    assert.match(yaml.stdout, /^kind: Subscription$/m);
    const missing = await dockstack(['get', 'subscription', 'nope', ...addr]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'error: subscription "nope" not found\n');
  });

  test('describe shows conditions, observed backends and events in order', async () => {
    const r = await dockstack(['describe', 'subscription', 'db', '--status-addr', agent.statusAddr]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Observed Generation: 1$/m);
    assert.match(r.stdout, /^  Ready\s+True\s+Routing/m);
    assert.match(r.stdout, /^    - 127\.0\.0\.1:3306$/m);
    assert.match(r.stdout, /Normal\s+BackendAdded\s+\S+\s+127\.0\.0\.1:3306/);
  });

  test('an invalid edit shows on the object; the last good version stays', async () => {
    await writeFile(join(dir, 'db.yaml'), DB.replace('13306', '"abc"'));
    await eventually(async () => {
      const r = await dockstack(['describe', 'subscription', 'db', '--status-addr', agent.statusAddr]);
      assert.match(r.stdout, /Valid\s+False\s+InvalidManifest/);
      assert.match(r.stdout, /db\.yaml:7:19 spec\.listen\.port: expected integer 1–65535, got "abc"/);
      assert.match(r.stdout, /Warning\s+InvalidManifest/);
    });
    const json = JSON.parse((await dockstack(['get', 'sub', 'db', '-o', 'json', '--status-addr', agent.statusAddr])).stdout) as { spec: { listen: { port: number } } };
    assert.equal(json.spec.listen.port, 13306);
  });
});

describe('user mistakes', () => {
  test('no agent: one clear line and a hint, exit 1', async () => {
    const r = await dockstack(['get', 'services', '--status-addr', '127.0.0.1:1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: cannot reach the DockStack agent at 127\.0\.0\.1:1: connect ECONNREFUSED/);
    assert.match(r.stderr, /^hint: start one with `dockstack agent`/m);
    assert.doesNotMatch(r.stderr, /\bat .*\.ts:\d+/, 'no stack trace');
  });

  test('unknown kind, bad flag values and unknown commands', async () => {
    assert.match((await dockstack(['get', 'pods'])).stderr, /^error: unknown kind "pods"\nhint: use services or subscriptions\n$/);
    const bad = await dockstack(['agent', '--session-timeout', 'soon']);
    assert.equal(bad.code, 2, 'a usage error');
    assert.match(bad.stderr, /--session-timeout: expected a positive integer, got "soon"/);
    const unknown = await dockstack(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  });

  test('usage errors exit 2 in every command: unknown flags, missing arguments, bad choices and values', async () => {
    const cases = [
      ['get', 'services', '--frobnicate'], ['get'], ['describe', 'service'], ['apply', '--frobnicate'], ['delete', '--frobnicate'],
      ['diff', '--frobnicate'], ['validate'], ['drain', 'service', 'x', '--timeout', 'soon'], ['maintenance', 'subscription', 'x', '1.2.3.4:5', 'maybe'],
      ['explain'], ['schema', 'pod'], ['create', 'service'], ['agent', '--proxy', 'nginx'], ['nerve', '--frobnicate'], ['synapse', '--frobnicate'], [],
    ];
    for (const args of cases) {
      const r = await dockstack(args);
      assert.equal(r.code, 2, `dockstack ${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal((await dockstack(['--help'])).code, 0);
    assert.equal((await dockstack(['get', '--help'])).code, 0);
  });

  test('schema prints JSON Schema for a kind', async () => {
    const r = await dockstack(['schema', 'service']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as { properties: { kind: unknown } };
    assert.ok(s.properties.kind, 's.properties.kind');
  });
});
