/**
 * Build and start a complete agent from plain configuration: registry, proxy, health checks,
 * manifest source, status API. The CLI's `agent` command and the end-to-end tests both use it.
 */
import { mkdir } from 'node:fs/promises';
import { Agent } from './agent.ts';
import { UsageError } from './errors.ts';
import { HaproxyProxy } from './haproxy/haproxy-proxy.ts';
import type { ProxyBackend } from './haproxy/proxy-backend.ts';
import { RecordingProxy } from './haproxy/recording-proxy.ts';
import { ServiceHealth } from './health/service-health.ts';
import { DirectorySource } from './manifest/directory-source.ts';
import type { ManifestSource } from './manifest/manifest-source.ts';
import { silentLogger, type Logger } from './reconcile/controller-context.ts';
import { createRegistry, type RegistryOptions } from './registry/create-registry.ts';
import type { Registry } from './registry/registry.ts';
import { StatusServer } from './server/status-server.ts';

export interface AgentConfig {
  readonly manifestsDir: string;
  readonly registry: RegistryOptions | Registry;
  readonly host: string;
  /** "host:port"; port 0 picks a free one. */
  readonly statusAddr: string;
  readonly proxy: 'haproxy' | 'none';
  readonly haproxyDir: string;
  readonly haproxyBin?: string;
  readonly haproxyUpdates?: 'runtime' | 'reload';
  readonly resyncMs?: number;
  readonly log?: Logger;
  /** Override the manifest source (tests, providers). */
  readonly source?: ManifestSource;
}

export interface RunningAgent {
  readonly agent: Agent;
  readonly registry: Registry;
  readonly proxy: ProxyBackend;
  /** The bound status API address. */
  readonly statusAddr: string;
  /** Graceful stop: deregister, stop HAProxy, close everything. */
  stop(): Promise<void>;
}

export async function startAgent(cfg: AgentConfig): Promise<RunningAgent> {
  const log = cfg.log ?? silentLogger;
  const [host, portStr] = splitAddr(cfg.statusAddr);
  const registry = 'url' in cfg.registry ? createRegistry({ ...cfg.registry, onEvent: (e) => log.info({ registryEvent: e.type }, e.message) }) : cfg.registry;
  let proxy: ProxyBackend;
  if (cfg.proxy === 'haproxy') {
    await mkdir(cfg.haproxyDir, { recursive: true });
    const hp = new HaproxyProxy({
      dir: cfg.haproxyDir,
      ...(cfg.haproxyBin && { haproxyBin: cfg.haproxyBin }),
      updates: cfg.haproxyUpdates ?? 'runtime',
      onReload: (reasons) => log.info({ reasons }, 'haproxy reloaded'),
      onEvent: (e) => log.info({ haproxyEvent: e.type }, e.message),
    });
    await hp.start();
    proxy = hp;
  } else proxy = new RecordingProxy();
  const source = cfg.source ?? new DirectorySource({ dir: cfg.manifestsDir });
  const agent = new Agent({
    source,
    registry,
    proxy,
    host: cfg.host,
    log,
    ...(cfg.resyncMs !== undefined && { resyncMs: cfg.resyncMs }),
    health: (checks, target, onChange) => new ServiceHealth(checks, target, onChange),
  });
  const server = new StatusServer(agent, { host, port: Number(portStr) });
  const statusAddr = await server.start();
  try {
    await agent.start();
  } catch (err) {
    await server.close();
    await proxy.close();
    await registry.close();
    throw err;
  }
  log.info({ statusAddr, manifests: cfg.manifestsDir, registry: registry.kind, proxy: cfg.proxy }, 'agent started');
  let stopping: Promise<void> | undefined;
  return {
    agent,
    registry,
    proxy,
    statusAddr,
    stop: () =>
      (stopping ??= (async () => {
        log.info({}, 'stopping: deregistering services');
        await agent.stop();
        await server.close();
        log.info({}, 'stopped');
      })()),
  };
}

function splitAddr(addr: string): [string, string] {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr);
  if (!m || Number(m[3]) > 65535) throw new UsageError(`--status-addr: expected host:port, got "${addr}"`, 'e.g. --status-addr 127.0.0.1:7070');
  return [(m[1] ?? m[2])!, m[3]!];
}
