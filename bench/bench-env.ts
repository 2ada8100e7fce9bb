/**
 * Shared infrastructure for one bench run: real ZooKeeper and etcd (started lazily, once), temp
 * dirs, agents and plain registry clients, all torn down by `close()` in reverse order.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaproxyProxy } from '../src/haproxy/haproxy-proxy.ts';
import type { ManifestSource } from '../src/manifest/manifest-source.ts';
import { silentLogger } from '../src/log.ts';
import { createRegistry } from '../src/registry/create-registry.ts';
import type { Registry } from '../src/registry/registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { startEtcd, type EtcdServer } from '../test/harness/etcd.ts';
import { startZooKeeper, type ZooKeeperServer } from '../test/harness/zookeeper.ts';

export type RegistryKind = 'zookeeper' | 'etcd';
export type Updates = 'runtime' | 'reload';
export const REGISTRIES: readonly RegistryKind[] = ['zookeeper', 'etcd'];

export interface BenchAgent {
  readonly running: RunningAgent;
  readonly dir: string;
  /** HAProxy reloads done by this agent's proxy (starts excluded). */
  reloads(): number;
  /** The reasons of every reload, in order. */
  readonly reloadReasons: readonly string[];
  stop(): Promise<void>;
}

export class BenchEnv {
  private zk: Promise<ZooKeeperServer> | undefined;
  private etcd: Promise<EtcdServer> | undefined;
  private readonly cleanups: (() => Promise<unknown>)[] = [];

  /** Register a teardown step; run last-in first-out by close(). */
  defer(fn: () => Promise<unknown>): void {
    this.cleanups.push(fn);
  }

  /** Registry URL of the (lazily started) server of `kind`. */
  async url(kind: RegistryKind | 'memory'): Promise<string> {
    if (kind === 'memory') return 'memory://';
    if (kind === 'zookeeper') {
      this.zk ??= startZooKeeper({ minSessionTimeoutMs: 1000 }).then((s) => (this.defer(() => s.stop()), s));
      return `zk://${(await this.zk).connectString}`;
    }
    this.etcd ??= startEtcd().then((s) => (this.defer(() => s.stop()), s));
    return `etcd://${(await this.etcd).endpoint}`;
  }

  /** A plain registry client (another host's agent) with a short session / lease. */
  async client(kind: RegistryKind, opts: { sessionTimeoutMs?: number; leaseTtlSec?: number } = {}): Promise<Registry> {
    const reg = await createRegistry({ url: await this.url(kind), sessionTimeoutMs: opts.sessionTimeoutMs ?? 10_000, leaseTtlSec: opts.leaseTtlSec ?? 10 });
    this.defer(() => reg.close());
    return reg;
  }

  async tempDir(prefix: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), `ds-bench-${prefix}-`));
    this.defer(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  /** The real agent (startAgent) with HAProxy (or proxy 'none') in `updates` mode over `kind`. */
  async agent(kind: RegistryKind | 'memory', updates: Updates | 'native', source: ManifestSource, proxy: 'haproxy' | 'none' = 'haproxy'): Promise<BenchAgent> {
    const dir = await this.tempDir(`agent-${updates}`);
    const reloadReasons: string[] = [];
    const log = { ...silentLogger, info: (o: object, msg?: string) => void (msg === 'haproxy reloaded' && reloadReasons.push(...(o as { reasons: string[] }).reasons)) };
    const running = await startAgent({
      manifestsDir: dir,
      registry: { url: await this.url(kind), sessionTimeoutMs: 10_000 },
      host: '127.0.0.1',
      statusAddr: '127.0.0.1:0',
      proxy,
      haproxyDir: join(dir, 'haproxy'),
      haproxyUpdates: updates,
      source,
      log,
    });
    let stopped: Promise<void> | undefined;
    const stop = () => (stopped ??= running.stop());
    this.defer(stop);
    const hp = running.proxy;
    return { running, dir, reloadReasons, reloads: () => (hp instanceof HaproxyProxy ? hp.reloadCount : 0), stop };
  }

  /** Wait (bounded) until `agent` has not reloaded for `quietMs`: start-up reloads are not part of a measurement. */
  async settle(agent: BenchAgent, quietMs = 1500, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let count = agent.reloads();
    let since = Date.now();
    while (Date.now() < deadline && Date.now() - since < quietMs) {
      await new Promise((r) => setTimeout(r, 50));
      if (agent.reloads() !== count) [count, since] = [agent.reloads(), Date.now()];
    }
  }

  async close(): Promise<void> {
    for (const fn of this.cleanups.splice(0).reverse()) {
      const t = Date.now();
      await fn().catch((err: unknown) => console.error(`bench cleanup: ${String(err)}`));
      if (Date.now() - t > 2000) console.error(`bench cleanup: a step took ${Date.now() - t} ms: ${fn.toString().slice(0, 120)}`);
    }
  }
}
