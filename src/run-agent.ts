/**
 * Build and start a complete agent from plain configuration: registry, proxy, health checks,
 * manifest source, status API. The CLI's `agent` command and the end-to-end tests both use it.
 */
import type { ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { Agent } from './agent.ts';
import { hostAddress, registryEndpoints } from './host-address.ts';
import { haproxyRunAs } from './haproxy/run-as.ts';
import { HaproxyProxy } from './haproxy/haproxy-proxy.ts';
import { NullProxy } from './proxy/null-proxy.ts';
import { describeReason, type Proxy } from './proxy/proxy.ts';
import { ServiceHealth } from './health/service-health.ts';
import { DirectorySource } from './manifest/directory-source.ts';
import type { ManifestSource } from './manifest/manifest-source.ts';
import { MergedSource } from './providers/merged-source.ts';
import { nameOf } from './object-key.ts';
import { silentLogger, type Logger } from './log.ts';
import { LastKnownState } from './reconcile/last-known-state.ts';
import { createRegistry, type RegistryOptions } from './registry/create-registry.ts';
import type { Registry } from './registry/registry.ts';
import type { HostResolver } from './net/host-resolver.ts';
import { instrumentedChecks } from './server/instrumented-check.ts';
import { InstrumentedProxy } from './server/instrumented-proxy.ts';
import { InstrumentedRegistry } from './server/instrumented-registry.ts';
import { AgentMetrics } from './server/metrics.ts';
import { backendsRoute } from './server/backends-api.ts';
import { AccessLogReceiver } from './server/access-log.ts';
import { Dashboard } from './server/dashboard.ts';
import { haproxyMetricsRoute } from './server/haproxy-metrics.ts';
import { sourceInfo } from './server/source-info.ts';
import { Operations } from './server/operations.ts';
import { statusServerAt, type StatusServer } from './server/status-server.ts';
import { initialSyncReadiness, reportInitialSync } from './server/sync-progress.ts';

export interface AgentConfig {
  readonly manifestsDir: string;
  readonly registry: RegistryOptions | Registry;
  /** An address, an interface name, or unset: the local address of the route to the registry. */
  readonly host?: string;
  /** "host:port"; port 0 picks a free one. */
  readonly statusAddr: string;
  /**
   * A status API already listening, with no agent yet (the CLI's, so /healthz answers while this
   * module loads): used instead of listening on `statusAddr`, with its own token and allowed hosts
   * (statusToken then only decides whether the dashboard offers writes). Closed by stop() or a
   * failed start.
   */
  readonly statusServer?: StatusServer;
  readonly proxy: 'haproxy' | 'none';
  readonly haproxyDir: string;
  readonly haproxyBin?: string;
  /** The user HAProxy's workers run as when the agent is root (default `haproxy` if it exists; `root` keeps root). */
  readonly haproxyUser?: string;
  readonly haproxyUpdates?: 'runtime' | 'native' | 'reload';
  /** Log every connection/request of Subscriptions whose spec.accessLog is unset (default false). */
  readonly accessLog?: boolean;
  readonly resyncMs?: number;
  /** Resolves registry hostnames (default: the system resolver, 2 in flight, 2 s per name). */
  readonly resolver?: HostResolver;
  /** Where each Subscription's last known server set is kept (default HAPROXY_DIR/last-known-backends.json). */
  readonly stateFile?: string;
  /** Stored sets older than this are not used (default 24 h). */
  readonly stateTtlMs?: number;
  /** Bearer token allowing the status API's write operations (drain, maintenance); none = read-only. */
  readonly statusToken?: string;
  /** More Host header names the status API serves (DNS rebinding guard). */
  readonly statusAllowedHosts?: readonly string[];
  /** Follow manifest symlinks that lead outside `manifestsDir` (default: ignored with an error). */
  readonly followExternalLinks?: boolean;
  readonly log?: Logger;
  /** Override the manifest source (tests, providers). */
  readonly source?: ManifestSource;
  /** More sources merged with the directory (seed flags, the Docker provider). */
  readonly extraSources?: readonly ManifestSource[];
  /** Watch `manifestsDir` (default true); false when only `extraSources` describe the objects. */
  readonly watchManifests?: boolean;
}

export interface RunningAgent {
  readonly agent: Agent;
  readonly registry: Registry;
  readonly proxy: Proxy;
  /** This agent's Prometheus metrics (also served at GET /metrics). */
  readonly metrics: AgentMetrics;
  /** The bound status API address. */
  readonly statusAddr: string;
  /** Graceful stop: deregister, stop HAProxy, close everything. */
  stop(): Promise<void>;
}

export async function startAgent(cfg: AgentConfig): Promise<RunningAgent> {
  try {
    return await start(cfg);
  } catch (err) {
    await cfg.statusServer?.close();
    throw err;
  }
}

async function start(cfg: AgentConfig): Promise<RunningAgent> {
  const log = cfg.log ?? silentLogger;
  const metrics = new AgentMetrics();
  // Made (not yet listening) before anything else, so that a bad status address fails first.
  const server = cfg.statusServer ?? statusServerAt(cfg.statusAddr, { token: cfg.statusToken, allowedHosts: cfg.statusAllowedHosts });
  const registry = 'url' in cfg.registry ? await createRegistry({ ...cfg.registry, onEvent: (e) => log.info({ registryEvent: e.type }, e.message) }) : cfg.registry;
  const address = await hostAddress(cfg.host, 'url' in cfg.registry ? registryEndpoints(cfg.registry.url) : []);
  const unwatchRoute = registry.onStateChange((s) => void (s === 'connected' && address.refresh()));
  let proxy: Proxy;
  let haproxy: HaproxyProxy | undefined;
  let accessLog: AccessLogReceiver | undefined;
  if (cfg.proxy === 'haproxy') {
    const haproxyDir = resolve(cfg.haproxyDir); // sockets and -f paths must not depend on the cwd
    accessLog = new AccessLogReceiver({ log });
    accessLog.register(metrics.registry);
    proxy = haproxy = new HaproxyProxy({
      dir: haproxyDir,
      accessLog: { target: await accessLog.start(), byDefault: cfg.accessLog ?? false },
      ...(cfg.haproxyBin && { haproxyBin: cfg.haproxyBin }),
      runAs: haproxyRunAs(cfg.haproxyUser),
      updates: cfg.haproxyUpdates ?? 'runtime',
      onReload: (reasons) => {
        metrics.onReload(reasons);
        log.info({ reasons: reasons.map(describeReason) }, 'haproxy reloaded');
      },
      onEvent: (e) => log[e.type === 'lua-unavailable' ? 'warn' : 'info']({ haproxyEvent: e.type }, e.message),
    });
  } else proxy = new NullProxy();
  const lastKnown = new LastKnownState({
    file: resolve(cfg.stateFile ?? join(cfg.haproxyDir, 'last-known-backends.json')),
    ...(cfg.stateTtlMs !== undefined && { ttlMs: cfg.stateTtlMs }),
    onProblem: (message) => log.warn({ reason: 'StateFile' }, message),
  });
  const sources = [...(cfg.watchManifests === false ? [] : [new DirectorySource({ dir: cfg.manifestsDir, followExternalLinks: cfg.followExternalLinks ?? false })]), ...(cfg.extraSources ?? [])];
  const source = cfg.source ?? (sources.length === 1 ? sources[0]! : new MergedSource(sources));
  const agent = new Agent({
    source,
    registry: new InstrumentedRegistry(registry, metrics),
    proxy: new InstrumentedProxy(proxy, metrics),
    host: address,
    log,
    lastKnown,
    ...(cfg.resyncMs !== undefined && { resyncMs: cfg.resyncMs }),
    ...(cfg.resolver && { resolver: cfg.resolver }),
    onReconcile: (key, outcome, ms) => metrics.onReconcile(key, outcome, ms),
    health: (checks, target, onChange, key) => new ServiceHealth(checks, target, onChange, { createCheck: instrumentedChecks(metrics, nameOf(key)) }),
  });
  metrics.bind(agent, proxy);
  const operations = new Operations(agent);
  const dashboard = new Dashboard(agent, proxy, { writable: cfg.statusToken !== undefined && cfg.statusToken !== '', reloadCounts: () => metrics.reloadCounts(), revision: () => source.revision?.() });
  const routes = [(path: string, res: ServerResponse) => dashboard.handle(path, res), backendsRoute(agent, proxy)];
  if (cfg.watchManifests !== false && !cfg.source) routes.push(sourceInfo(resolve(cfg.manifestsDir), () => source.revision?.(), metrics.registry));
  if (cfg.proxy === 'haproxy') routes.push(haproxyMetricsRoute(join(resolve(cfg.haproxyDir), 'promex.sock')));
  let started = false;
  const readiness = initialSyncReadiness(agent, () => started);
  const served = { metrics: () => metrics.render(), readiness, operations, routes };
  let statusAddr: string;
  try {
    // The status API listens first (/healthz answers, /readyz says what is pending), then HAProxy
    // starts: measured from the installed package, HAProxy's start and the state file took 180–280 ms
    // of the 650 ms before /healthz answered. A status address in use fails before HAProxy runs.
    statusAddr = cfg.statusServer?.address ?? (await server.start());
    server.attach(agent, served);
    await Promise.all([haproxy?.start(), lastKnown.load()]);
    await agent.start();
    started = true;
  } catch (err) {
    accessLog?.close();
    dashboard.close();
    await server.close();
    await proxy.close();
    await registry.close();
    throw err;
  }
  log.info({ statusAddr, manifests: cfg.manifestsDir, registry: registry.kind, host: address.describe(), proxy: cfg.proxy, writes: cfg.statusToken ? 'token' : 'disabled' }, 'agent started');
  const stopProgress = reportInitialSync(agent, log);
  let stopping: Promise<void> | undefined;
  return {
    agent,
    registry,
    proxy,
    metrics,
    statusAddr,
    stop: () =>
      (stopping ??= (async () => {
        log.info({}, 'stopping: deregistering services');
        stopProgress();
        operations.close();
        dashboard.close();
        unwatchRoute();
        await agent.stop();
        accessLog?.close();
        await server.close();
        log.info({}, 'stopped');
      })()),
  };
}
