/** The Proxy conformance suite against a real HAProxy 2.6. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaproxyProxy } from '../src/haproxy/haproxy-proxy.ts';
import { proxyConformance } from './proxy-conformance.ts';

proxyConformance('haproxy', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ds-conf-'));
  const proxy = new HaproxyProxy({ dir, reloadDebounceMs: 10, minReloadIntervalMs: 20, drainTimeoutMs: 1000 });
  await proxy.start();
  return {
    proxy,
    teardown: async () => {
      await proxy.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
