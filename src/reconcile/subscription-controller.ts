/**
 * The Subscription controller (Synapse's job, level-based): list the healthy instances under
 * spec.service and converge the local proxy listener to them. Fail static: when the registry is
 * unreachable, or suddenly empty for a path that had instances, the last known backends stay (kept
 * on disk by LastKnownState, so they survive a restart); spec.defaultServers serve when nothing was
 * ever known; an unreachable registry never replaces what the proxy serves with nothing.
 */
import { describeError, RegistryError } from '../errors.ts';
import { parseHostPort, type SubscriptionManifest } from '../manifest/schema.ts';
import type { BackendServer, ProxyBackend } from '../haproxy/proxy-backend.ts';
import { addressOf } from '../registry/instance.ts';
import type { Registry } from '../registry/registry.ts';
import type { ControllerContext } from './controller-context.ts';
import { nameOf } from './controller-context.ts';
import { LastKnownState } from './last-known-state.ts';

/** Where the applied servers came from; "state-file": the last known set a previous agent saved. */
type Source = 'registry' | 'fail-static' | 'state-file' | 'defaults' | 'none';
const READY_REASON: Record<Source, string> = { registry: 'Routing', 'fail-static': 'FailStatic', 'state-file': 'FailStatic', defaults: 'DefaultServers', none: 'NoBackends' };

export class SubscriptionController {
  private readonly watches = new Map<string, { path: string; unwatch: () => void }>();
  /** Keys applied to the proxy at least once by this process. */
  private readonly applied = new Set<string>();
  /** Maintenance set through the status API ("host:port" per key), on top of spec.maintenance. */
  private readonly maintOverrides = new Map<string, Set<string>>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly registry: Registry,
    private readonly proxy: ProxyBackend,
    /** Last non-empty server set read from the registry, per key (persisted when given a file). */
    private readonly lastKnown = new LastKnownState(),
  ) {}

  async reconcile(key: string): Promise<void> {
    const desired = this.ctx.desired.get(key);
    if (!desired || desired.manifest.kind !== 'Subscription') return this.remove(key);
    const m = desired.manifest;
    const { status } = this.ctx;
    this.ensureWatch(key, m.spec.service);

    let registryError: unknown;
    let fromRegistry: BackendServer[] | undefined;
    try {
      // Starting cut off with a saved set: serve it from the first apply instead of waiting for a
      // read to time out; the retry (backoff) then asks the registry, which wins once it answers.
      if (!this.applied.has(key) && this.registry.state() !== 'connected' && m.spec.failStatic && this.lastKnown.get(key, m.spec.service))
        throw new RegistryError(`registry ${this.registry.state()}: serving the last known backends until it answers`, { transient: true });
      const listing = await this.registry.list(m.spec.service);
      fromRegistry = listing.instances.map((i) => ({ host: i.host, port: i.port, ...(i.weight !== undefined && { weight: i.weight }) }));
      status.patch(key, { details: { rejected: listing.rejected } });
      for (const r of listing.rejected) status.event(key, 'Warning', 'RejectedInstance', `${r.key}: ${r.reason}`);
      status.setCondition(key, 'Synced', 'True', 'Listed', `${listing.instances.length} instances under ${m.spec.service}`);
    } catch (err) {
      registryError = err;
      status.setCondition(key, 'Synced', 'False', 'RegistryUnavailable', describeError(err));
    }

    const { servers, source, seenAt } = this.choose(key, m, fromRegistry);
    if (registryError && servers.length === 0) {
      // Unreachable is not empty: whatever the proxy serves (an adopted HAProxy's servers) stays.
      status.setCondition(key, 'Ready', 'False', 'RegistryUnavailable', 'no backends known yet; the proxy is left as it is');
      status.patch(key, { lastError: describeError(registryError), retries: (status.get(key)?.retries ?? 0) + 1 });
      throw registryError;
    }
    const maint = new Set([...m.spec.maintenance, ...(this.maintOverrides.get(key) ?? [])]);
    const withMaint = servers.map((s) => (maint.has(addressOf(s)) ? { ...s, maintenance: true } : s));
    try {
      const result = await this.proxy.apply(nameOf(key), m.spec, withMaint);
      if (result.reloaded) status.event(key, 'Normal', 'Reloaded', result.reasons.join('; '));
      this.applied.add(key);
      this.recordMembership(key, withMaint);
      status.patch(key, { observedGeneration: desired.generation, details: { backends: withMaint.map(addressOf), maintenance: [...maint].sort(), source, lastSeen: seenAt === undefined ? null : new Date(seenAt).toISOString(), listen: `${m.spec.listen.address}:${m.spec.listen.port}` } });
      status.setCondition(key, 'ProxyConfigured', 'True', 'Applied', `${withMaint.length} backends (${source})`);
    } catch (err) {
      status.setCondition(key, 'ProxyConfigured', 'False', 'ProxyError', describeError(err));
      this.fail(key, err);
    }
    const ready = withMaint.length > 0;
    status.setCondition(key, 'Ready', ready ? 'True' : 'False', READY_REASON[source]);
    if (registryError) {
      // The proxy serves the fail-static set; retry the registry with backoff.
      status.patch(key, { lastError: describeError(registryError), retries: (status.get(key)?.retries ?? 0) + 1 });
      throw registryError;
    }
    status.patch(key, { lastError: undefined, retries: 0 });
  }

  /** Hold `backend` ("host:port") of `key` in maintenance (on), or drop that override (off); enqueues the key. */
  setMaintenance(key: string, backend: string, on: boolean): void {
    const set = this.maintOverrides.get(key) ?? new Set<string>();
    if (on) set.add(backend);
    else set.delete(backend);
    if (set.size) this.maintOverrides.set(key, set);
    else this.maintOverrides.delete(key);
    this.ctx.enqueue(key);
  }

  async shutdown(): Promise<void> {
    for (const w of this.watches.values()) w.unwatch();
    this.watches.clear();
    await this.lastKnown.flush();
  }

  private choose(key: string, m: SubscriptionManifest, fromRegistry: BackendServer[] | undefined): { servers: BackendServer[]; source: Source; seenAt?: number } {
    if (fromRegistry && fromRegistry.length > 0) {
      this.lastKnown.set(key, m.spec.service, fromRegistry);
      return { servers: fromRegistry, source: 'registry' };
    }
    const known = this.lastKnown.get(key, m.spec.service);
    if (m.spec.failStatic && known) return { servers: [...known.servers], source: known.fromFile ? 'state-file' : 'fail-static', seenAt: known.seenAt };
    if (!fromRegistry && !m.spec.failStatic) return { servers: [], source: 'none' };
    const defaults = m.spec.defaultServers.map((s) => parseHostPort(s)).filter((s): s is BackendServer => s !== undefined);
    if (defaults.length) return { servers: defaults, source: 'defaults' };
    return { servers: [], source: 'none' };
  }

  private recordMembership(key: string, servers: readonly BackendServer[]): void {
    const before = new Set((this.ctx.status.get(key)?.details.backends as string[] | undefined) ?? []);
    const after = new Set(servers.map(addressOf));
    for (const a of after) if (!before.has(a)) this.ctx.status.event(key, 'Normal', 'BackendAdded', a);
    for (const b of before) if (!after.has(b)) this.ctx.status.event(key, 'Normal', 'BackendRemoved', b);
  }

  private fail(key: string, err: unknown): never {
    const s = this.ctx.status;
    s.patch(key, { lastError: describeError(err), retries: (s.get(key)?.retries ?? 0) + 1 });
    s.setCondition(key, 'Ready', 'False', 'Error', describeError(err));
    throw err;
  }

  private ensureWatch(key: string, path: string): void {
    const w = this.watches.get(key);
    if (w?.path === path) return;
    w?.unwatch();
    this.watches.set(key, { path, unwatch: this.registry.watch(path, () => this.ctx.enqueue(key)) });
  }

  private async remove(key: string): Promise<void> {
    this.watches.get(key)?.unwatch();
    this.watches.delete(key);
    this.lastKnown.delete(key);
    this.applied.delete(key);
    this.maintOverrides.delete(key);
    await this.proxy.remove(nameOf(key));
    if (this.ctx.status.get(key)) this.ctx.status.event(key, 'Normal', 'Removed', 'listener removed (manifest deleted)');
    this.ctx.status.delete(key);
  }
}
