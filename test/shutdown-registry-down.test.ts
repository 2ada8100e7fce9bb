/**
 * SIGTERM while ZooKeeper is unreachable: the real agent process exits promptly (exit 0), skipping
 * deregistration with a warning (its ephemeral znodes go with the session), instead of waiting out
 * each registry call's op deadline. Two ways to lose ZooKeeper: the server stopped (connections
 * refused) and a silent partition (nothing answers).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, test } from 'node:test';
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

async function sigtermWithin(t: { diagnostic(m: string): void }, lines: () => Record<string, unknown>[]): Promise<void> {
  const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
  const t0 = Date.now();
  child!.kill('SIGTERM');
  const code = await exited;
  const ms = Date.now() - t0;
  t.diagnostic(`SIGTERM: exited ${String(code)} in ${ms} ms`);
  assert.equal(code, 0);
  assert.ok(ms < EXIT_BOUND_MS, `exit took ${ms} ms`);
  const skipped = lines().find((l) => l.level === 'warn' && /deregistration skipped/.test(String(l.msg)));
  assert.ok(skipped, `no "deregistration skipped" warning in ${JSON.stringify(lines().map((l) => l.msg))}`);
  assert.equal(lines().at(-1)?.msg, 'stopped');
}

test('SIGTERM with ZooKeeper stopped exits within the bound', async (t) => {
  const lines = await registeredAgent();
  await zk!.kill();
  await eventually(() => assert.ok(lines().some((l) => l.state === 'disconnected'), 'agent saw the disconnect'), { timeoutMs: 15_000 });
  await sigtermWithin(t, lines);
});

test('SIGTERM with ZooKeeper silently partitioned exits within the bound', async (t) => {
  const lines = await registeredAgent();
  link!.blackhole();
  await sigtermWithin(t, lines);
});
