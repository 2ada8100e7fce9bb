/**
 * startAgent failing part-way leaves nothing behind: a status address already in use rejects the
 * start (E_STATUS_LISTEN) before HAProxy is started (the status API listens first), and no HAProxy
 * is left running.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startAgent } from '../src/run-agent.ts';
import { eventually } from './harness/eventually.ts';
import { tempDir } from './harness/fs.ts';

test('a status address in use fails the start and leaves no HAProxy running', async () => {
  const d = await tempDir('ds-status-in-use');
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const cfg = join(d.path, 'hp', 'haproxy.cfg');
  const running = () => {
    try {
      return execFileSync('pgrep', ['-f', cfg]).toString().trim();
    } catch {
      return ''; // pgrep exits 1 when nothing matches
    }
  };
  try {
    const statusAddr = `127.0.0.1:${(taken.address() as AddressInfo).port}`;
    await assert.rejects(startAgent({ manifestsDir: d.path, registry: { url: 'memory://' }, host: '127.0.0.1', statusAddr, proxy: 'haproxy', haproxyDir: join(d.path, 'hp') }), { code: 'E_STATUS_LISTEN' });
    await eventually(() => assert.equal(running(), ''), { timeoutMs: 10_000 });
  } finally {
    taken.close();
    await d.cleanup();
  }
});
