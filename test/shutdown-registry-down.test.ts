/**
 * SIGTERM while ZooKeeper is unreachable: the real agent process exits promptly (exit 0), skipping
 * deregistration with a warning (its ephemeral znodes go with the session), instead of waiting out
 * each registry call's op deadline. Two ways to lose ZooKeeper: the server stopped (connections
 * refused) and a silent partition (nothing answers). A registry that answers but refuses the
 * deregistration (NoAuth) is a different warning.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
import zookeeper from 'node-zookeeper-client';
import { BIN } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { service } from './harness/static-source.ts';
import { startTcpProxy, type TcpProxy } from './harness/tcp-proxy.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';

// Without the bounds on stop's registry steps this took 5.6 s (stopped) and 10.0 s (partitioned): 5 s op deadlines.
const EXIT_BOUND_MS = 3000;

let zk: ZooKeeperServer | undefined;
let link: TcpProxy | undefined;
let child: ChildProcess | undefined;
let dir: string | undefined;

afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  await link?.close();
  await zk?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
  child = link = zk = dir = undefined;
});

/** Start an agent registered in ZooKeeper through `link`; resolves with its stderr lines once registered. */
async function registeredAgent(): Promise<() => Record<string, unknown>[]> {
  zk = await startZooKeeper();
  link = await startTcpProxy(zk.port);
  dir = await mkdtemp(join(tmpdir(), 'ds-shutdown-'));
  await writeFile(join(dir, 'web.yaml'), service('web', 'path: /services/web\nport: 8080'));
  let raw = '';
  child = spawn(process.execPath, [BIN, 'agent', '--manifests', dir, '--registry', `zk://127.0.0.1:${link.port}`, '--host', '127.0.0.1', '--proxy', 'none', '--status-addr', '127.0.0.1:0'], {
    env: { ...process.env, DOCKSTACK_STATUS_TOKEN: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (c: Buffer) => (raw += c.toString()));
  const lines = () => raw.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  await eventually(() => assert.ok(lines().some((l) => l.reason === 'Registered'), raw), { timeoutMs: 30_000 });
  return lines;
}

/** SIGTERM the agent; it exits 0 within the bound, and its warning about the registrations left is returned. */
async function sigtermWithin(t: { diagnostic(m: string): void }, lines: () => Record<string, unknown>[]): Promise<Record<string, unknown>> {
  const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
  const t0 = Date.now();
  child!.kill('SIGTERM');
  const code = await exited;
  const ms = Date.now() - t0;
  t.diagnostic(`SIGTERM: exited ${String(code)} in ${ms} ms`);
  assert.equal(code, 0);
  assert.ok(ms < EXIT_BOUND_MS, `exit took ${ms} ms`);
  const left = lines().find((l) => l.level === 'warn' && Array.isArray(l.skipped));
  assert.ok(left, `no warning naming the registrations left in ${JSON.stringify(lines().map((l) => l.msg))}`);
  assert.equal((left.skipped as unknown[]).length, 1);
  assert.match(String((left.skipped as unknown[])[0]), /^\/services\/web\/web-/);
  assert.equal(lines().at(-1)?.msg, 'stopped');
  return left;
}

const UNREACHABLE = 'registry unreachable: deregistration skipped; the registrations expire with the session';

test('SIGTERM with ZooKeeper stopped exits within the bound', async (t) => {
  const lines = await registeredAgent();
  await zk!.kill();
  await eventually(() => assert.ok(lines().some((l) => l.state === 'disconnected'), 'agent saw the disconnect'), { timeoutMs: 15_000 });
  assert.equal((await sigtermWithin(t, lines)).msg, UNREACHABLE);
});

test('SIGTERM with ZooKeeper silently partitioned exits within the bound', async (t) => {
  const lines = await registeredAgent();
  link!.blackhole();
  assert.equal((await sigtermWithin(t, lines)).msg, UNREACHABLE);
});

test('SIGTERM with ZooKeeper refusing the deregistration (NoAuth) says refused, not unreachable', async (t) => {
  const lines = await registeredAgent();
  // Deleting a znode needs DELETE on its parent: leave /services/web readable only.
  const admin = zookeeper.createClient(`127.0.0.1:${zk!.port}`, { retries: 1 });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('admin client: no ZooKeeper session within 10 s')), 10_000);
    admin.once('connected', () => (clearTimeout(timer), resolve()));
    admin.connect();
  });
  try {
    await new Promise<void>((resolve, reject) => admin.setACL('/services/web', [new zookeeper.ACL(zookeeper.Permission.READ, new zookeeper.Id('world', 'anyone'))], -1, (e) => (e ? reject(e) : resolve())));
  } finally {
    admin.close();
  }
  const left = await sigtermWithin(t, lines);
  assert.equal(left.msg, 'registry refused deregistration: the registrations left expire with the session');
  assert.match(String(left.err), /^deleting znode \/services\/web\/web-\S+: no auth$/);
});
