/**
 * Junk written under a watched path by others must not flood the agent's log: a real agent process
 * on a real ZooKeeper, 2,000 junk entries, resyncs every 300 ms. New rejections are logged once per
 * reason with a count, then nothing more while they stay the same; a new reason is one more line.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BIN } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';
import { rawZooKeeper, type RawRegistry } from './harness/raw-registry.ts';
import { subscription } from './harness/static-source.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';

const JUNK = 2_000;
type Line = Record<string, unknown>;
let dir: string;
let zk: ZooKeeperServer;
let raw: RawRegistry;
let child: ChildProcess;
let out = '';
let statusAddr = '';
const lines = (): Line[] => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
const rejectedLines = () => lines().filter((l) => l.reason === 'RejectedInstance');
const warnLines = () => lines().filter((l) => l.level === 'warn');
const reconciled = () => lines().filter((l) => l.msg === 'reconciled' && l.object === 'subscription/junk').length;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-rejlog-'));
  zk = await startZooKeeper();
  raw = await rawZooKeeper(zk.connectString);
  const writes: Promise<string>[] = [];
  for (let i = 0; i < JUNK; i++) {
    writes.push(raw.write('/services/junk', `j${i}`, i % 2 ? 'not json' : JSON.stringify({ host: '127.0.0.1', port: 70_000 + i })));
    if (writes.length >= 500) await Promise.all(writes.splice(0));
  }
  await Promise.all(writes);
  await raw.write('/services/junk', 'good', JSON.stringify({ host: '127.0.0.1', port: 8080 }));
  await writeFile(join(dir, 'junk.yaml'), subscription('junk', `service: /services/junk\nlisten: { port: ${await freePort()} }\ncheck: { type: none }`));
  child = spawn(process.execPath, [BIN, 'agent', '--manifests', dir, '--registry', `zk://${zk.connectString}`, '--proxy', 'none', '--status-addr', '127.0.0.1:0', '--resync', '300', '--log-level', 'debug'], {
    env: { ...process.env, DOCKSTACK_STATUS_TOKEN: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  statusAddr = await eventually(() => {
    const l = lines().find((x) => x.msg === 'agent started');
    assert.ok(l, out.slice(-2000));
    return String(l.statusAddr);
  }, { timeoutMs: 30_000 });
});
after(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
  await raw?.close();
  await zk?.stop();
  await rm(dir, { recursive: true, force: true });
});

test(`${JUNK} junk entries over 5 resyncs: one line per reason with its count, not one per entry per resync`, async () => {
  await eventually(() => assert.ok(reconciled() >= 6, `${reconciled()} reconciles so far`), { timeoutMs: 60_000 });
  const first = rejectedLines();
  assert.equal(first.length, 2, JSON.stringify(first.slice(0, 5).map((l) => l.msg)));
  const byMsg = first.map((l) => String(l.msg)).sort();
  const like = `and ${JUNK / 2 - 1} more like it\\)$`;
  assert.match(byMsg[0]!, new RegExp(`^${JUNK / 2} entries rejected: data is not JSON \\(/services/junk/j\\d+_\\d{10} ${like}`));
  assert.match(byMsg[1]!, new RegExp(`^${JUNK / 2} entries rejected: invalid port 7\\d{4} \\(/services/junk/j\\d+_\\d{10} ${like}`));
  assert.ok(warnLines().length <= 2, `${warnLines().length} warning lines`);
  assert.ok(out.length < 200_000, `${out.length} bytes of log`);

  // A new reason, and one more entry of a known reason: a line each, the rest stays quiet.
  const seen = reconciled();
  await raw.write('/services/junk', 'new', JSON.stringify({ host: '127.0.0.1', port: 80, weight: 999 }));
  await raw.write('/services/junk', 'more', 'still not json');
  await eventually(() => assert.equal(rejectedLines().length, 4), { timeoutMs: 20_000 });
  await eventually(() => assert.ok(reconciled() >= seen + 5, 'reconciled() >= seen + 5'), { timeoutMs: 30_000 });
  const later = rejectedLines().slice(2).map((l) => String(l.msg)).sort();
  assert.equal(rejectedLines().length, 4, JSON.stringify(later.slice(0, 5)));
  assert.match(later[0]!, /^1 entry rejected: data is not JSON \(\/services\/junk\/more_\d{10}\)$/);
  assert.match(later[1]!, /^1 entry rejected: invalid weight 999 \(\/services\/junk\/new_\d{10}\)$/);

  // The events are aggregated the same way; the status counts every rejected entry and lists 100.
  const view = (await (await fetch(`http://${statusAddr}/api/v1/subscriptions/junk`)).json()) as { status: { details: { rejected: unknown[]; rejectedCount: number } } };
  assert.equal(view.status.details.rejectedCount, JUNK + 2);
  assert.equal(view.status.details.rejected.length, 100);
  const events = (await (await fetch(`http://${statusAddr}/api/v1/events`)).json()) as Array<{ reason: string; message: string }>;
  assert.equal(events.filter((e) => e.reason === 'RejectedInstance').length, 4);
});
