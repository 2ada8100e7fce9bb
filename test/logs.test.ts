/**
 * The log contract of a real agent process (`node bin/dockstack.js agent`, stderr piped so not a
 * TTY): every line is JSON with time/level/pid/msg; object events carry object, generation,
 * reason and eventType; initial sync progress is reported; SIGTERM ends with "stopped".
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BIN } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { service } from './harness/static-source.ts';
import { instanceIdFor } from '../src/reconcile/instance-id.ts';

type Line = Record<string, unknown>;
let dir: string;
let child: ChildProcess;
let raw = '';
const lines = (): Line[] => raw.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Line);
const find = (pred: (l: Line) => boolean) => {
  const l = lines().find(pred);
  assert.ok(l, `no such log line in:\n${raw}`);
  return l;
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-logs-'));
  await writeFile(join(dir, 'web.yaml'), service('web', 'path: /services/web\nport: 8080'));
  child = spawn(process.execPath, [BIN, 'agent', '--manifests', dir, '--registry', 'memory://', '--proxy', 'none', '--status-addr', '127.0.0.1:0', '--log-level', 'debug'], {
    env: { ...process.env, DOCKSTACK_STATUS_TOKEN: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (c: Buffer) => (raw += c.toString()));
});
after(async () => {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  await rm(dir, { recursive: true, force: true });
});

test('every line is JSON with the documented base fields', async () => {
  await eventually(() => find((l) => l.msg === 'agent started'), { timeoutMs: 20_000 });
  for (const l of lines()) {
    assert.match(String(l.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(String(l.level)), `level ${String(l.level)}`);
    assert.equal(l.pid, child.pid);
    assert.equal(typeof l.msg, 'string');
  }
  const started = find((l) => l.msg === 'agent started');
  assert.match(String(started.statusAddr), /^127\.0\.0\.1:\d+$/);
  assert.equal(started.writes, 'disabled');
});

test('object events carry object, generation, reason and eventType', async () => {
  const reg = await eventually(() => find((l) => l.reason === 'Registered'));
  assert.equal(reg.object, 'service/web');
  assert.equal(reg.generation, 1);
  assert.equal(reg.eventType, 'Normal');
  assert.equal(reg.level, 'info');
  assert.equal(String(reg.msg), `registered /services/web/${instanceIdFor('127.0.0.1', 'web')}`);
  const reconciled = find((l) => l.msg === 'reconciled' && l.object === 'service/web');
  assert.equal(reconciled.level, 'debug');
  assert.equal(reconciled.outcome, 'success');
  assert.equal(typeof reconciled.durationMs, 'number');
});

test('initial sync progress ends with a complete line', async () => {
  const done = await eventually(() => find((l) => String(l.msg).startsWith('initial sync complete')), { timeoutMs: 5000 });
  assert.equal(done.msg, 'initial sync complete: 1/1 objects ready');
  assert.deepEqual([done.total, done.synced, done.ready], [1, 1, 1]);
});

test('an invalid edit logs a located InvalidManifest warning', async () => {
  await writeFile(join(dir, 'web.yaml'), service('web', 'path: /services/web\nport: 99999'));
  const bad = await eventually(() => find((l) => l.reason === 'InvalidManifest'));
  assert.equal(bad.level, 'warn');
  assert.equal(bad.object, 'service/web');
  assert.equal(bad.eventType, 'Warning');
  assert.equal(bad.generation, 1, 'the last good generation stays in force');
  assert.match(String(bad.msg), /web\.yaml:7:9 spec\.port: /);
});

test('SIGTERM deregisters, logs "stopped" and exits 0', async () => {
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  const msgs = lines().map((l) => l.msg);
  assert.ok(msgs.indexOf('shutting down') < msgs.indexOf('stopped'), "msgs.indexOf('shutting down') < msgs.indexOf('stopped')");
  assert.equal(msgs.at(-1), 'stopped');
});
