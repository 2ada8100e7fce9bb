/**
 * processAlive against real processes: an exited process that nobody has reaped yet (a zombie, as an
 * adopted HAProxy master is between its exit and init's reaping) counts as gone.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { processAlive } from '../src/haproxy/haproxy-process.ts';
import { eventually } from './harness/eventually.ts';

const state = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s[s.lastIndexOf(')') + 2];
};

test('a zombie is not alive; a running process is; a reaped one is not', async () => {
  // The shell starts `sleep 0` and execs a `sleep` that never waits: `sleep 0` stays a zombie.
  const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    const zombie = Number(await new Promise<string>((r) => parent.stdout.once('data', (c: Buffer) => r(c.toString().trim()))));
    await eventually(() => assert.equal(state(zombie), 'Z', 'the child exited and was not reaped'), { timeoutMs: 5000 });
    assert.doesNotThrow(() => process.kill(zombie, 0), 'a zombie still takes signal 0');
    assert.equal(processAlive(zombie), false, 'a zombie counts as gone');
    assert.equal(processAlive(parent.pid!), true, 'a running process is alive');
  } finally {
    parent.kill('SIGKILL');
  }
  await new Promise((r) => parent.once('exit', r));
  assert.equal(processAlive(parent.pid!), false, 'a reaped process is gone');
});
