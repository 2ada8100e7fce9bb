/**
 * `dockstack agent --config FILE` against the real binary: the file sets options, the environment
 * overrides the file, a flag overrides both, and a bad file (or value) is a located usage error.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import YAML from 'yaml';
import { readConfigFile } from '../src/cli/config-file.ts';
import { AgentOptions } from '../src/cli/agent-options.ts';
import { startTcpBackend, whoAnswers } from './harness/backends.ts';
import { BIN, dockstack } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';
import { killProcess } from './harness/process.ts';

let dir: Awaited<ReturnType<typeof tempDir>>;
const running: ChildProcess[] = [];

before(async () => {
  dir = await tempDir('dockstack-config-');
  for (const name of ['from-file', 'from-flag']) {
    await mkdir(join(dir.path, name));
    await writeFile(join(dir.path, name, 'svc.yaml'), `apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata: {name: ${name}}\nspec: {path: /services/${name}, port: 1, host: 127.0.0.1, checks: [{type: tcp}]}\n`);
  }
});
after(async () => {
  await Promise.all(running.map((p) => killProcess(p)));
  await dir.cleanup();
});

function agent(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const p = spawn(process.execPath, [BIN, 'agent', ...args], { env: { ...process.env, DOCKSTACK_STATUS_ADDR: '', ...env }, stdio: 'ignore' });
  running.push(p);
  return p;
}

/** The names of the Services the agent at `addr` serves. */
async function services(addr: string): Promise<string[]> {
  const items = (await (await fetch(`http://${addr}/api/v1/services`)).json()) as { metadata: { name: string } }[];
  return items.map((i) => i.metadata.name);
}

async function config(name: string, text: string): Promise<string> {
  const f = join(dir.path, name);
  await writeFile(f, text);
  return f;
}

describe('agent --config', () => {
  test('the file sets the options; the environment overrides it; a flag overrides both', async () => {
    const [a, b, c] = [`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`];
    const file = await config('agent.yaml', `# every agent option by its camelCase name\nmanifests: ${join(dir.path, 'from-file')}\nregistry: memory://\nproxy: none\nstatusAddr: ${a}\nstatusAllowedHosts: [dockstack.internal]\nlogLevel: warn\n`);
    const fromFile = agent(['--config', file]);
    await eventually(async () => assert.deepEqual(await services(a), ['from-file']), { timeoutMs: 20_000 });
    const host = await fetch(`http://${a}/healthz`, { headers: { host: 'dockstack.internal' } });
    assert.equal(host.status, 200, 'statusAllowedHosts from the file is in force');
    await killProcess(fromFile);

    const fromEnv = agent(['--config', file], { DOCKSTACK_STATUS_ADDR: b });
    await eventually(async () => assert.deepEqual(await services(b), ['from-file']), { timeoutMs: 20_000 });
    await assert.rejects(fetch(`http://${a}/healthz`), 'the file\'s statusAddr was overridden');
    await killProcess(fromEnv);

    agent(['--config', file, '--status-addr', c, '--manifests', join(dir.path, 'from-flag')], { DOCKSTACK_STATUS_ADDR: b, DOCKSTACK_CONFIG: '' });
    await eventually(async () => assert.deepEqual(await services(c), ['from-flag']), { timeoutMs: 20_000 });
    await assert.rejects(fetch(`http://${b}/healthz`), 'the flag beats the environment');
  });

  test('DOCKSTACK_CONFIG names the file too', async () => {
    const a = `127.0.0.1:${await freePort()}`;
    const file = await config('env.yaml', `manifests: ${join(dir.path, 'from-file')}\nproxy: none\nstatusAddr: ${a}\n`);
    agent([], { DOCKSTACK_CONFIG: file });
    await eventually(async () => assert.deepEqual(await services(a), ['from-file']), { timeoutMs: 20_000 });
  });

  test('a bad file: every error located in file order, exit 2', async () => {
    const file = await config('bad.yaml', 'proxy: nginx\nsessionTimeout: soon\nstatusAdr: 127.0.0.1:1\naccessLog: yes please\n');
    const r = await dockstack(['agent', '--config', file]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, [
      `error: ${file}:1:8 proxy: expected one of "haproxy", "none", got "nginx"`,
      `${file}:2:17 sessionTimeout: expected a positive integer, got "soon"`,
      `${file}:3:1 statusAdr: unknown field`,
      `${file}:4:12 accessLog: expected true or false, got "yes please"`,
      '',
    ].join('\n'));
    const syntax = await dockstack(['agent', '--config', await config('syntax.yaml', 'proxy: none\n  statusAddr: [\n')]);
    assert.equal(syntax.code, 2);
    assert.match(syntax.stderr, new RegExp(`^error: ${file.replace('bad.yaml', 'syntax.yaml')}:\\d+:\\d+: YAML syntax error: `));
    const list = await dockstack(['agent', '--config', await config('list.yaml', '- proxy: none\n')]);
    assert.equal(list.stderr, `error: ${join(dir.path, 'list.yaml')}:1:1: expected a mapping of agent options (statusAddr: …, registry: …)\n`);
    const key = await dockstack(['agent', '--config', await config('key.yaml', 'proxy: none\n? [a, b]\n: 1\n')]);
    assert.equal(key.code, 2);
    assert.equal(key.stderr, `error: ${join(dir.path, 'key.yaml')}:2:3: a mapping key must be a scalar (text or a number), not a sequence\n`, 'located, and no Node warning');
    const missing = await dockstack(['agent', '--config', join(dir.path, 'absent.yaml')]);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, `error: --config: reading ${join(dir.path, 'absent.yaml')}: ENOENT\n`);
  });

  test('a bad flag or variable names itself, exit 2', async () => {
    const env = await dockstack(['agent', '--proxy', 'none'], { env: { DOCKSTACK_LOG_LEVEL: 'loud' } });
    assert.equal(env.code, 2);
    assert.equal(env.stderr, 'error: DOCKSTACK_LOG_LEVEL: expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent", got "loud"\n');
    const flag = await dockstack(['agent', '--lease-ttl', '0']);
    assert.equal(flag.stderr, 'error: --lease-ttl: expected a positive integer\n');
    assert.equal(flag.code, 2);
  });
});

test('--haproxy-dir or --state-file inside the watched --manifests is refused, exit 2; under a dot-directory it is not', async () => {
  const m = join(dir.path, 'from-file');
  const nested = await dockstack(['agent', '--manifests', m, '--haproxy-dir', join(m, 'haproxy'), '--proxy', 'none']);
  assert.equal(nested.code, 2);
  assert.equal(nested.stderr, `error: --haproxy-dir ${join(m, 'haproxy')} is inside --manifests ${m}: the agent would read its own files as manifests\nhint: put it outside --manifests, or under a dot-directory such as ${join(m, '.haproxy')}\n`);
  const state = await dockstack(['agent', '--manifests', m, '--state-file', join(m, 'sub', 'state.json'), '--proxy', 'none']);
  assert.equal(state.code, 2);
  assert.match(state.stderr, /^error: --state-file .* is inside --manifests /);

  // A dot-directory is ignored by the watcher; a sibling sharing the prefix ("watched-state.json") is
  // outside. The agent starts HAProxy in DIR/.haproxy and routes through it.
  const backend = await startTcpBackend('b1');
  const w = join(dir.path, 'watched');
  const listen = await freePort();
  await mkdir(w);
  await writeFile(join(w, 'sub.yaml'), `apiVersion: dockstack.io/v1alpha1\nkind: Subscription\nmetadata: {name: web}\nspec: {service: /services/web, listen: {address: 127.0.0.1, port: ${listen}}, mode: tcp, check: {type: none}, defaultServers: ["127.0.0.1:${backend.port}"]}\n`);
  try {
    const a = `127.0.0.1:${await freePort()}`;
    agent(['--manifests', w, '--haproxy-dir', join(w, '.haproxy'), '--state-file', `${w}-state.json`, '--status-addr', a]);
    await eventually(async () => assert.equal(await whoAnswers(listen), 'b1'), { timeoutMs: 20_000 });
    await stat(join(w, '.haproxy', 'haproxy.cfg'));
  } finally {
    await backend.close();
  }
});

test('schemas/agent-config.schema.json (for editors) agrees with the agent on good and bad files', async () => {
  const validate = new Ajv2020({ allErrors: true, strict: true }).compile(JSON.parse(await readFile('schemas/agent-config.schema.json', 'utf8')) as object);
  const cases: [string, boolean][] = [
    ['manifests: /etc/dockstack/manifests\nregistry: zk://zk1:2181/ds\nstatusAddr: 0.0.0.0:7070\nstatusAllowedHosts: [a, b]\nsessionTimeout: 10000\nlogLevel: info\naccessLog: true\n', true],
    ['statusAllowedHosts: "a,b"\n', true],
    ['proxy: nginx\n', false],
    ['sessionTimeout: 0\n', false],
    ['sessionTimeout: 1.5\n', false],
    ['statusAdr: x\n', false],
    ['accessLog: "yes"\n', false],
    ['manifests: ""\n', false],
  ];
  for (const [text, good] of cases) {
    const file = await config('ajv.yaml', text);
    const agent = (() => {
      try {
        return readConfigFile(file, AgentOptions), true;
      } catch {
        return false;
      }
    })();
    assert.equal(agent, good, `agent on ${JSON.stringify(text)}`);
    assert.equal(validate(YAML.parse(text)), good, `Ajv on ${JSON.stringify(text)}`);
  }
});
