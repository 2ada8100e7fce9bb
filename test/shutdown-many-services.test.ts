/**
 * SIGTERM with many Services registered in ZooKeeper: the real agent deregisters every one (their
 * znodes are gone before the session closes) and writes nothing but its own JSON log lines. Each
 * deregistration waits on the one shutdown deadline, and Node warned of a "possible memory leak"
 * past 10 listeners on it, at every shutdown of an agent with more than 10 Services.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BIN } from './harness/cli.ts';
import { eventually } from './harness/eventually.ts';
import { rawZooKeeper } from './harness/raw-registry.ts';
import { service } from './harness/static-source.ts';
import { startZooKeeper, type ZooKeeperServer } from './harness/zookeeper.ts';

const SERVICES = 24;
let zk: ZooKeeperServer;
let dir: string;

before(async () => {
  zk = await startZooKeeper();
  dir = await mkdtemp(join(tmpdir(), 'ds-shutdown-many-'));
});
after(async () => {
  await zk?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The entries under `path`, read by a plain client of our own. */
async function children(path: string): Promise<string[]> {
  const raw = await rawZooKeeper(zk.connectString);
  try {
    return [...(await raw.read(path)).keys()];
  } finally {
    await raw.close();
  }
}

test(`SIGTERM with ${SERVICES} Services deregisters every one, and the agent writes no Node warning`, async () => {
  for (let i = 0; i < SERVICES; i++) await writeFile(join(dir, `s${i}.yaml`), service(`s${i}`, `path: /services/many\nport: ${20_000 + i}\ninstanceId: s${i}`));
  let raw = '';
  const child = spawn(process.execPath, [BIN, 'agent', '--manifests', dir, '--registry', `zk://${zk.connectString}`, '--host', '127.0.0.1', '--proxy', 'none', '--status-addr', '127.0.0.1:0'], {
    env: { ...process.env, DOCKSTACK_STATUS_TOKEN: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.on('data', (c: Buffer) => (raw += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await eventually(async () => assert.equal((await children('/services/many')).length, SERVICES, raw.slice(-2000)), { timeoutMs: 30_000 });
    child.kill('SIGTERM');
    assert.equal(await exited, 0, raw.slice(-2000));
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  assert.deepEqual(await children('/services/many'), [], 'every znode deregistered');
  const foreign = raw.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{'));
  assert.deepEqual(foreign, [], 'stderr holds only the agent\'s JSON log lines');
});
