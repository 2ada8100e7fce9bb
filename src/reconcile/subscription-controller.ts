/**
 * The Subscription controller (Synapse's job, level-based): list the healthy instances under
 * spec.service and converge the local proxy listener to them. Fail static: when the registry is
 * unreachable, or suddenly empty for a path that had instances, the last known backends stay (kept
 * on disk by LastKnownState, so they survive a restart); spec.defaultServers serve when nothing was
 * ever known; an unreachable registry never replaces what the proxy serves with nothing.
 */
import { describeError, ManifestError, RegistryError, TerminalError } from '../errors.ts';
import { parseHostPort, type SubscriptionManifest } from '../manifest/schema.ts';
import { addressOf } from '../net/address.ts';
import { ListenerConflictError } from '../proxy/listener-conflict.ts';
import type { Endpoint, Proxy } from '../proxy/proxy.ts';
import type { Registry, Rejected } from '../registry/registry.ts';
import type { ControllerContext } from './controller-context.ts';
import { nameOf, type ObjectKey } from '../object-key.ts';
import { LastKnownState } from './last-known-state.ts';
import { ListenClaims } from './listen-claims.ts';
import { listenerSpecOf } from './listener-spec.ts';
import { newRejections } from './rejected-report.ts';
import { resolveEndpoints } from './resolve-endpoints.ts';
import { HostResolver } from '../net/host-resolver.ts';

type BackendServer = Endpoint;

/** Where the applied servers came from; "state-file": the last known set a previous agent saved. */
type Source = 'registry' | 'fail-static' | 'state-file' | 'defaults' | 'none';
const READY_REASON: Record<Source, string> = { registry: 'Routing', 'fail-static': 'FailStatic', 'state-file': 'FailStatic', defaults: 'DefaultServers', none: 'NoBackends' };

export class SubscriptionController {
  private readonly watches = new Map<ObjectKey, { path: string; unwatch: () => void }>();
  /** Keys applied to the proxy at least once by this process. */
  private readonly applied = new Set<ObjectKey>();
  /** Maintenance set through the status API ("host:port" per key), on top of spec.maintenance. */
  private readonly maintOverrides = new Map<ObjectKey, Set<string>>();
  /** Rejected entries already reported per key: an event is raised only for a newly rejected one. */
  private readonly reported = new Map<ObjectKey, Set<string>>();
  private readonly claims: ListenClaims;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly registry: Registry,
    private readonly proxy: Proxy,
    /** Last non-empty server set read from the registry, per key (persisted when given a file). */
    private readonly lastKnown = new LastKnownState(),
    private readonly resolver = new HostResolver(),
  ) {
    this.claims = new ListenClaims((key) => ctx.enqueue(key));
  }

  async reconcile(key: ObjectKey): Promise<void> {
    const desired = this.ctx.desired.get(key);
    if (!desired || desired.manifest.kind !== 'Subscription') return this.remove(key);
    const m = desired.manifest;
    const { status } = this.ctx;
    const listen = addressOf({ host: m.spec.listen.address, port: m.spec.listen.port });
    const holder = this.claims.claim(key, listen);
    if (holder !== undefined) return this.duplicateListen(key, listen, holder);
    this.ensureWatch(key, m.spec.service);

    let registryError: unknown;
    let fromRegistry: BackendServer[] | undefined;
    let rejected: readonly Rejected[] = [];
    try {
      // Starting cut off with a saved set: serve it from the first apply instead of waiting for a
      // read to time out; the retry (backoff) then asks the registry, which wins once it answers.
      if (!this.applied.has(key) && this.registry.state() !== 'connected' && m.spec.failStatic && this.lastKnown.get(key, m.spec.service))
        throw new RegistryError(`registry ${this.registry.state()}: serving the last known backends until it answers`, { transient: true });
      const listing = await this.registry.list(m.spec.service);
      fromRegistry = listing.instances.map((i) => ({ host: i.host, port: i.port, ...(i.weight !== undefined && { weight: i.weight }) }));
      rejected = listing.rejected;
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
    const resolved = await resolveEndpoints(servers.map((s) => (maint.has(addressOf(s)) ? { ...s, maintenance: true } : s)), this.resolver);
    const withMaint = resolved.endpoints;
    // Unread is not clean: a failed listing keeps what was reported, so recovering does not re-report it all.
    if (!registryError) this.reportRejected(key, [...rejected, ...resolved.rejected]);
    try {
      const result = await this.proxy.apply(nameOf(key), listenerSpecOf(m.spec), withMaint);
      if (result.reloaded) status.event(key, 'Normal', 'Reloaded', result.reasons.map((r) => `${r.cause} ${r.listener}`).join('; '));
      this.applied.add(key);
      this.recordMembership(key, withMaint);
      status.patch(key, { observedGeneration: desired.generation, details: { backends: withMaint.map(addressOf), maintenance: [...maint].sort(), source, lastSeen: seenAt === undefined ? null : new Date(seenAt).toISOString(), listen: `${m.spec.listen.address}:${m.spec.listen.port}` } });
      status.setCondition(key, 'ProxyConfigured', 'True', 'Applied', `${withMaint.length} backends (${source})`);
    } catch (err) {
      status.setCondition(key, 'ProxyConfigured', 'False', err instanceof ListenerConflictError ? 'ListenAddressInUse' : 'ProxyError', describeError(err));
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
  setMaintenance(key: ObjectKey, backend: string, on: boolean): void {
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

  private choose(key: ObjectKey, m: SubscriptionManifest, fromRegistry: BackendServer[] | undefined): { servers: BackendServer[]; source: Source; seenAt?: number } {
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

  /** The later of two Subscriptions on one address: invalid until the earlier lets go of it (which enqueues this one). */
  private duplicateListen(key: ObjectKey, listen: string, holder: ObjectKey): never {
    const at = (k: ObjectKey) => this.ctx.desired.get(k);
    const here = at(key);
    const there = at(holder);
    const where = there?.file ? ` (${there.file}${there.position ? `:${there.position.line}:${there.position.column}` : ''})` : '';
    const detail = `${listen} is already the listen address of ${holder}${where}`;
    const err = here?.file ? new ManifestError(here.file, here.position, 'spec.listen', detail) : new TerminalError(`${key} spec.listen: ${detail}`);
    this.ctx.status.setCondition(key, 'ProxyConfigured', 'False', 'DuplicateListen', err.message);
    this.ctx.status.setCondition(key, 'Ready', 'False', 'DuplicateListen', err.message);
    throw new TerminalError(err.message, { cause: err });
  }

  private reportRejected(key: ObjectKey, rejected: readonly Rejected[]): void {
    const before = this.reported.get(key) ?? new Set<string>();
    const { groups, ids } = newRejections(before, rejected);
    for (const g of groups) this.ctx.status.event(key, 'Warning', 'RejectedInstance', g.message);
    if (ids.size !== before.size || groups.length) this.ctx.status.patch(key, { details: { rejected } });
    this.reported.set(key, ids);
  }

  private recordMembership(key: ObjectKey, servers: readonly BackendServer[]): void {
    const before = new Set((this.ctx.status.get(key)?.details.backends as string[] | undefined) ?? []);
    const after = new Set(servers.map(addressOf));
    for (const a of after) if (!before.has(a)) this.ctx.status.event(key, 'Normal', 'BackendAdded', a);
    for (const b of before) if (!after.has(b)) this.ctx.status.event(key, 'Normal', 'BackendRemoved', b);
  }

  private fail(key: ObjectKey, err: unknown): never {
    const s = this.ctx.status;
    s.patch(key, { lastError: describeError(err), retries: (s.get(key)?.retries ?? 0) + 1 });
    s.setCondition(key, 'Ready', 'False', 'Error', describeError(err));
    throw err;
  }

  private ensureWatch(key: ObjectKey, path: string): void {
    const w = this.watches.get(key);
    if (w?.path === path) return;
    w?.unwatch();
    this.watches.set(key, { path, unwatch: this.registry.watch(path, () => this.ctx.enqueue(key)) });
  }

  private async remove(key: ObjectKey): Promise<void> {
    this.watches.get(key)?.unwatch();
    this.watches.delete(key);
    this.lastKnown.delete(key);
    this.applied.delete(key);
    this.maintOverrides.delete(key);
    this.reported.delete(key);
    this.claims.release(key);
    await this.proxy.remove(nameOf(key));
    if (this.ctx.status.get(key)) this.ctx.status.event(key, 'Normal', 'Removed', 'listener removed (manifest deleted)');
    this.ctx.status.delete(key);
  }
}
