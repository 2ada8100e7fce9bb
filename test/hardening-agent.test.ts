/**
 * Security hardening against a real agent process (`node bin/dockstack.js agent`, as the image runs
 * it): secrets redacted wherever they can be read, the status API's DNS-rebinding guard and header
 * timeout, SIGUSR1 (no inspector) and SIGHUP (a clean stop), credentials from files, never echoed.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, dockstack } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';
import { freePort } from './harness/ports.ts';

const SECRET = 'pw-s3cret-7f3a';

interface AgentProc {
  proc: ChildProcess;
  addr: string;
  out: () => string;
  exited: Promise<number | null>;
}

async function startAgentProc(dir: string, extra: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<AgentProc> {
  const addr = `127.0.0.1:${await freePort()}`;
  const proc = spawn(process.execPath, [BIN, 'agent', '--manifests', dir, '--registry', 'memory://', '--proxy', 'none', '--status-addr', addr, ...extra], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  await eventually(async () => assert.equal((await fetch(`http://${addr}/healthz`)).status, 200), { timeoutMs: 20_000 });
  return { proc, addr, out: () => out, exited };
}

/** GET with an explicit Host header (fetch forbids setting it). */
function getWithHost(addr: string, path: string, host: string): Promise<{ status: number; body: string }> {
  const [h, p] = addr.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host: h, port: Number(p), path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a running agent with secrets in its manifests', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let agent: AgentProc;

  before(async () => {
    dir = await tempDir('ds-hard-agent');
    const mysqlPort = await freePort();
    await writeFile(
      join(dir.path, 'db.yaml'),
      `apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata: {name: db}\nspec:\n  path: /services/db\n  port: ${mysqlPort}\n  checks:\n    - {type: mysql, user: monitor, password: ${SECRET}, timeoutMs: 100, intervalMs: 100}\n    - {type: redis, password: ${SECRET}, timeoutMs: 100, intervalMs: 100}\n`,
    );
    agent = await startAgentProc(dir.path, ['--log-level', 'debug', '--status-allowed-hosts', 'dockstack.internal']);
    // The checks fail (nothing listens): errors, events and logs have been produced.
    await eventually(async () => assert.match(JSON.stringify(await (await fetch(`http://${agent.addr}/api/v1/services/db`)).json()), /"Healthy","status":"False"/));
  });
  after(async () => {
    agent?.proc.kill('SIGKILL');
    await dir?.cleanup();
  });

  test('the password shows as <redacted> in the status API, get -o yaml|json, describe, events, metrics and logs', async () => {
    const env = { DOCKSTACK_STATUS_ADDR: agent.addr };
    const api = await (await fetch(`http://${agent.addr}/api/v1/services/db`)).text();
    assert.match(api, /"password": "<redacted>"/);
    const reads = [
      api,
      await (await fetch(`http://${agent.addr}/api/v1/services`)).text(),
      await (await fetch(`http://${agent.addr}/api/v1/events`)).text(),
      await (await fetch(`http://${agent.addr}/metrics`)).text(),
      (await dockstack(['get', 'services', 'db', '-o', 'yaml'], { env })).stdout,
      (await dockstack(['get', 'services', '-o', 'json'], { env })).stdout,
      (await dockstack(['describe', 'service', 'db'], { env })).stdout,
      agent.out(),
    ];
    assert.match(reads[4]!, /password: <redacted>/);
    assert.match(reads[6]!, /password: <redacted>/);
    for (const [i, r] of reads.entries()) assert.ok(!r.includes(SECRET), `read ${i} shows the password`);
  });

  test('a password of the wrong type is refused without quoting it', async () => {
    const f = join(dir.path, 'bad.yaml');
    await writeFile(f, 'apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata: {name: bad}\nspec:\n  path: /services/bad\n  port: 1\n  checks: [{type: redis, password: 987654321}]\n');
    const r = await dockstack(['validate', f]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /password: expected a string \(the value is not shown/);
    assert.ok(!(r.stderr + r.stdout).includes('987654321'), "!(r.stderr + r.stdout).includes('987654321')");
  });

  test('DNS rebinding: a request whose Host is not ours gets 403; ours, localhost and the allow-list pass', async () => {
    const port = agent.addr.split(':')[1];
    const evil = await getWithHost(agent.addr, '/api/v1/services', `rebind.attacker.example:${port}`);
    assert.equal(evil.status, 403);
    assert.match(JSON.parse(evil.body).error, /^Host "rebind\.attacker\.example:\d+" is not one this agent serves/);
    assert.ok(!evil.body.includes(SECRET) && !evil.body.includes('/services/db'), "!evil.body.includes(SECRET) && !evil.body.includes('/services/db')");
    for (const host of [agent.addr, `localhost:${port}`, 'dockstack.internal', `DockStack.Internal:${port}`])
      assert.equal((await getWithHost(agent.addr, '/api/v1/services', host)).status, 200, host);
  });

  test('a client that never finishes its headers is dropped after the header timeout (10 s), not held', async () => {
    const [h, p] = agent.addr.split(':');
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const s = connect(Number(p), h, () => s.write('GET /api/v1/services HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: '));
      s.on('data', () => undefined);
      s.on('close', () => resolve(Date.now() - started));
      s.on('error', () => undefined);
      setTimeout(() => reject(new Error('still open after 30 s')), 30_000).unref();
    });
    console.log(`# slow-header client dropped after ${(closedAfter / 1000).toFixed(1)} s`);
    assert.ok(closedAfter >= 9_000 && closedAfter < 15_000, `closed after ${closedAfter} ms`);
  });

  test('SIGUSR1 does not open the inspector; the agent keeps serving', async () => {
    agent.proc.kill('SIGUSR1');
    await eventually(() => assert.match(agent.out(), /SIGUSR1 ignored/));
    assert.doesNotMatch(agent.out(), /Debugger listening/);
    const inspector = await new Promise<boolean>((resolve) => {
      const s = connect(9229, '127.0.0.1', () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    assert.equal(inspector, false, 'something listens on 9229');
    assert.equal((await fetch(`http://${agent.addr}/healthz`)).status, 200);
  });
});

describe('signals and credentials', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('ds-hard-sig');
  });
  after(() => dir?.cleanup());

  test('SIGHUP stops the agent like SIGTERM: logged, deregistered, exit 0', async () => {
    const agent = await startAgentProc(dir.path);
    agent.proc.kill('SIGHUP');
    assert.equal(await agent.exited, 0);
    assert.match(agent.out(), /"signal":"SIGHUP".*shutting down/);
    assert.match(agent.out(), /stopping: deregistering services[\s\S]*"stopped"/);
  });

  test('--status-token-file and DOCKSTACK_ZK_AUTH work; neither value is echoed in errors', async () => {
    const tokenFile = join(dir.path, 'token');
    await writeFile(tokenFile, 'file-token-42\n', { mode: 0o600 });
    const agent = await startAgentProc(dir.path, ['--status-token-file', tokenFile]);
    try {
      const post = (token: string) =>
        fetch(`http://${agent.addr}/api/v1/services/none/drain`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"on":true}' });
      assert.equal((await post('wrong')).status, 401);
      assert.equal((await post('file-token-42')).status, 404); // authorized; the Service does not exist
      assert.ok(!agent.out().includes('file-token-42'), "!agent.out().includes('file-token-42')");
    } finally {
      agent.proc.kill('SIGKILL');
    }
    const bad = await dockstack(['agent', '--manifests', dir.path, '--registry', 'zk://127.0.0.1:1', '--proxy', 'none'], { env: { DOCKSTACK_ZK_AUTH: 'no colon secret-zk-99' } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--zk-auth: expected user:password \(the value is not shown\)/);
    assert.ok(!bad.stderr.includes('secret-zk-99'), "!bad.stderr.includes('secret-zk-99')");
    const pwFile = join(dir.path, 'etcd-pw');
    await writeFile(pwFile, 'line1-secret\nline2\n');
    const two = await dockstack(['agent', '--manifests', dir.path, '--registry', 'etcd://127.0.0.1:1', '--proxy', 'none', '--etcd-user', 'u', '--etcd-password-file', pwFile]);
    assert.equal(two.code, 2);
    assert.match(two.stderr, /--etcd-password-file: .* must hold the secret on one line/);
    assert.ok(!two.stderr.includes('line1-secret'), "!two.stderr.includes('line1-secret')");
  });
});
