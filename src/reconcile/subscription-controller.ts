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
import { HostResolver } from '../net/host-resolver.ts';
import { ListenerConflictError } from '../proxy/listener-conflict.ts';
import type { ApplyResult, Proxy } from '../proxy/proxy.ts';
import type { Instance, Registry, Rejected } from '../registry/registry.ts';
import type { ControllerContext } from './controller-context.ts';
import { nameOf, type ObjectKey, type SubscriptionKey } from '../object-key.ts';
import { EndpointTable, type SourceServer, type TableChange } from './endpoint-table.ts';
import { LastKnownState } from './last-known-state.ts';
import { ListenClaims } from './listen-claims.ts';
import { listenerSpecOf } from './listener-spec.ts';
import type { BackendSource } from './object-details.ts';
import { RegistryView, type ViewChange } from './registry-view.ts';
import { newRejections, shownRejections } from './rejected-report.ts';

type Source = BackendSource;
const READY_REASON: Record<Source, string> = { registry: 'Routing', 'fail-static': 'FailStatic', 'state-file': 'FailStatic', adopted: 'FailStatic', defaults: 'DefaultServers', none: 'NoBackends' };
const NOTHING: ApplyResult = { reloaded: false, reasons: [], runtimeOps: 0 };
/** A first reconcile waits this long for the watch's first read instead of reading the path a second time. */
const FIRST_DELIVERY_MS = 10_000;
/** Past this many backends joining (or leaving) at once, one event says how many. */
const EVENTS_PER_CHANGE = 16;

const toServer = (i: Instance): SourceServer => ({ host: i.host, port: i.port, ...(i.weight !== undefined && { weight: i.weight }) });

/** What one read of the registry gave: the watch cache with what changed, or a listing, or an error. */
interface Read {
  readonly view?: ViewChange;
  readonly listing?: readonly SourceServer[];
  readonly rejected: readonly Rejected[];
  readonly error?: unknown;
}

/** Per Subscription: the servers as the proxy has them, and what they were computed from. */
interface Applied {
  readonly table: EndpointTable;
  /** The registry's last non-empty set by address (the fail-static set), mirrored from the watch cache. */
  registrySet: Map<string, SourceServer>;
  /** Generation and maintenance of the last successful apply; undefined: the next one is a full apply. */
  shape?: string;
  source?: Source;
  seenAt?: number;
}

export class SubscriptionController {
  private readonly watches = new Map<ObjectKey, RegistryView>();
  private readonly state = new Map<ObjectKey, Applied>();
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

  /**
   * Converge the listener to the registry. While the registry is connected its watch cache is
   * read, and only the addresses it reports changed are looked at (resolved, diffed, sent to the
   * proxy as an update): a 1 % change of 10,000 instances costs 1 % of the work. A new spec,
   * maintenance set or source, a reset delivery, or a failed apply looks at everything.
   */
  async reconcile(key: SubscriptionKey, signal?: AbortSignal): Promise<void> {
    const desired = this.ctx.desired.get(key);
    if (!desired || desired.manifest.kind !== 'Subscription') return this.remove(key, signal);
    const m = desired.manifest;
    const { status } = this.ctx;
    const listen = addressOf({ host: m.spec.listen.address, port: m.spec.listen.port });
    const holder = this.claims.claim(key, listen);
    if (holder !== undefined) return this.duplicateListen(key, listen, holder);
    const view = this.ensureWatch(key, m.spec.service);
    const ks: Applied = this.state.get(key) ?? { table: new EndpointTable(this.resolver), registrySet: new Map() };
    this.state.set(key, ks);
    const maint = new Set([...m.spec.maintenance, ...(this.maintOverrides.get(key) ?? [])]);
    const shape = JSON.stringify([desired.generation, [...maint].sort()]);

    // A HAProxy left serving by the previous agent: with no saved set, what it serves is the fail-static set.
    const adopted = this.applied.has(key) ? undefined : this.proxy.adopted?.(nameOf(key));
    const read = await this.read(key, m, view, adopted !== undefined, signal);
    let change: TableChange;
    let source: Source;
    let seenAt: number | undefined;
    try {
      const v = read.view;
      if (v && v.changed !== 'all' && v.current.size > 0 && ks.source === 'registry' && ks.shape === shape) {
        const changes: [string, SourceServer | undefined][] = [];
        for (const a of v.changed) {
          const i = v.current.get(a);
          const s = i && toServer(i);
          if (s) ks.registrySet.set(a, s);
          else ks.registrySet.delete(a);
          changes.push([a, s]);
        }
        this.lastKnown.set(key, m.spec.service, ks.registrySet, changes.length > 0);
        await ks.table.patch(changes, maint, signal);
        source = 'registry';
      } else {
        const chosen = this.choose(key, m, ks, v ? [...v.current.values()].map(toServer) : read.listing, adopted);
        if (read.error && chosen.servers.length === 0) {
          // Unreachable is not empty: whatever the proxy serves (an adopted HAProxy's servers) stays.
          status.setCondition(key, 'Ready', 'False', 'RegistryUnavailable', 'no backends known yet; the proxy is left as it is');
          status.patch(key, { lastError: describeError(read.error) });
          throw read.error;
        }
        await ks.table.replace(chosen.servers, maint, signal);
        ({ source, seenAt } = chosen);
      }
      // Unread is not clean: a failed listing keeps what was reported, so recovering does not re-report it all.
      if (!read.error) this.reportRejected(key, [...read.rejected, ...ks.table.rejected()]);
      change = ks.table.change();
      const name = nameOf(key);
      const result = ks.shape !== shape ? await this.proxy.apply(name, listenerSpecOf(m.spec), ks.table.endpoints(), signal) : change.set.length || change.removed.length ? await this.proxy.update(name, change, signal) : NOTHING;
      if (result.reloaded) status.event(key, 'Normal', 'Reloaded', result.reasons.map((r) => `${r.cause} ${r.listener}`).join('; '));
    } catch (err) {
      view.untake();
      if (err === read.error) throw err;
      ks.shape = undefined;
      if (signal?.aborted) throw err; // shutting down: not the proxy's failure, and no status to write
      status.setCondition(key, 'ProxyConfigured', 'False', err instanceof ListenerConflictError ? 'ListenAddressInUse' : 'ProxyError', describeError(err));
      this.fail(key, err);
    }
    [ks.shape, ks.source, ks.seenAt] = [shape, source, source === 'registry' ? undefined : seenAt];
    ks.table.commit(change);
    this.applied.add(key);
    this.recordMembership(key, change);
    status.patch(key, { observedGeneration: desired.generation, details: { backends: ks.table.addresses(), maintenance: [...maint].sort(), source, lastSeen: ks.seenAt === undefined ? null : new Date(ks.seenAt).toISOString(), listen: `${m.spec.listen.address}:${m.spec.listen.port}` } });
    status.setCondition(key, 'ProxyConfigured', 'True', 'Applied', `${ks.table.size} backends (${source})`);
    status.setCondition(key, 'Ready', ks.table.size > 0 ? 'True' : 'False', READY_REASON[source]);
    if (read.error) {
      // The proxy serves the fail-static set; retry the registry with backoff.
      status.patch(key, { lastError: describeError(read.error) });
      throw read.error;
    }
    status.patch(key, { lastError: undefined });
  }

  /** The watch cache while the registry is connected (after its first delivery), else a listing. */
  private async read(key: SubscriptionKey, m: SubscriptionManifest, view: RegistryView, adopted: boolean, signal?: AbortSignal): Promise<Read> {
    const { status } = this.ctx;
    const path = m.spec.service;
    try {
      // Starting cut off with a saved set: serve it from the first apply instead of waiting for a
      // read to time out; the retry (backoff) then asks the registry, which wins once it answers.
      if (!this.applied.has(key) && this.registry.state() !== 'connected' && m.spec.failStatic && (adopted || this.lastKnown.get(key, path)))
        throw new RegistryError(`registry ${this.registry.state()}: serving the last known backends until it answers`, { transient: true });
      if (this.registry.state() === 'connected' && (await view.ready(FIRST_DELIVERY_MS, signal)) && this.registry.state() === 'connected') {
        const v = view.take()!;
        status.setCondition(key, 'Synced', 'True', 'Listed', `${v.current.size} instances under ${path}`);
        return { view: v, rejected: v.rejected };
      }
      const listing = await this.registry.list(path, signal);
      // The table now follows this read, not the deltas taken so far: the next take looks at everything.
      view.untake();
      status.setCondition(key, 'Synced', 'True', 'Listed', `${listing.instances.length} instances under ${path}`);
      return { listing: listing.instances.map(toServer), rejected: listing.rejected };
    } catch (err) {
      if (signal?.aborted) throw err; // shutting down: not the registry's failure
      status.setCondition(key, 'Synced', 'False', 'RegistryUnavailable', describeError(err));
      return { rejected: [], error: err };
    }
  }

  /** Hold `backend` ("host:port") of `key` in maintenance (on), or drop that override (off); enqueues the key. */
  setMaintenance(key: SubscriptionKey, backend: string, on: boolean): void {
    const set = this.maintOverrides.get(key) ?? new Set<string>();
    if (on) set.add(backend);
    else set.delete(backend);
    if (set.size) this.maintOverrides.set(key, set);
    else this.maintOverrides.delete(key);
    this.ctx.enqueue(key);
  }

  async shutdown(): Promise<void> {
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
    await this.lastKnown.flush();
  }

  private choose(key: SubscriptionKey, m: SubscriptionManifest, ks: Applied, fromRegistry: readonly SourceServer[] | undefined, adopted?: readonly SourceServer[]): { servers: readonly SourceServer[]; source: Source; seenAt?: number } {
    if (fromRegistry && fromRegistry.length > 0) {
      ks.registrySet = new Map(fromRegistry.map((s) => [addressOf(s), s]));
      this.lastKnown.set(key, m.spec.service, ks.registrySet, true);
      return { servers: fromRegistry, source: 'registry' };
    }
    const known = this.lastKnown.get(key, m.spec.service);
    if (m.spec.failStatic && known) return { servers: [...known.servers], source: known.fromFile ? 'state-file' : 'fail-static', seenAt: known.seenAt };
    if (m.spec.failStatic && !fromRegistry && adopted) return { servers: adopted, source: 'adopted' };
    if (!fromRegistry && !m.spec.failStatic) return { servers: [], source: 'none' };
    const defaults = m.spec.defaultServers.map((s) => parseHostPort(s)).filter((s): s is SourceServer => s !== undefined);
    if (defaults.length) return { servers: defaults, source: 'defaults' };
    return { servers: [], source: 'none' };
  }

  /** The later of two Subscriptions on one address: invalid until the earlier lets go of it (which enqueues this one). */
  private duplicateListen(key: SubscriptionKey, listen: string, holder: ObjectKey): never {
    const at = (k: ObjectKey) => this.ctx.desired.get(k);
    const here = at(key);
    const there = at(holder);
    const where = there?.file ? ` (${there.file}${there.position ? `:${there.position.line}:${there.position.column}` : ''})` : '';
    const detail = `${listen} is already the listen address of ${holder}${where}`;
    const err = here?.file ? new ManifestError(detail, { context: { file: here.file, position: here.position, field: 'spec.listen' } }) : new TerminalError(`${key} spec.listen: ${detail}`);
    this.ctx.status.setCondition(key, 'ProxyConfigured', 'False', 'DuplicateListen', err.message);
    this.ctx.status.setCondition(key, 'Ready', 'False', 'DuplicateListen', err.message);
    throw new TerminalError(err.message, { cause: err });
  }

  private reportRejected(key: SubscriptionKey, rejected: readonly Rejected[]): void {
    const before = this.reported.get(key) ?? new Set<string>();
    const { groups, ids } = newRejections(before, rejected);
    for (const g of groups) this.ctx.status.event(key, 'Warning', 'RejectedInstance', g.message);
    if (ids.size !== before.size || groups.length) this.ctx.status.patch(key, { details: shownRejections(rejected) });
    this.reported.set(key, ids);
  }

  /** One event per backend that joined or left; past EVENTS_PER_CHANGE at once, one saying how many. */
  private recordMembership(key: SubscriptionKey, c: TableChange): void {
    for (const [reason, list] of [['BackendAdded', c.added], ['BackendRemoved', c.gone]] as const) {
      if (list.length <= EVENTS_PER_CHANGE) for (const a of list) this.ctx.status.event(key, 'Normal', reason, a);
      else this.ctx.status.event(key, 'Normal', reason, `${list.length} backends: ${list.slice(0, 3).join(', ')} and ${list.length - 3} more`);
    }
  }

  private fail(key: SubscriptionKey, err: unknown): never {
    const s = this.ctx.status;
    s.patch(key, { lastError: describeError(err) });
    s.setCondition(key, 'Ready', 'False', 'Error', describeError(err));
    throw err;
  }

  private ensureWatch(key: SubscriptionKey, path: string): RegistryView {
    const w = this.watches.get(key);
    if (w?.path === path) return w;
    w?.close();
    const v = new RegistryView(path, this.registry, () => this.ctx.enqueue(key));
    this.watches.set(key, v);
    return v;
  }

  private async remove(key: SubscriptionKey, signal?: AbortSignal): Promise<void> {
    this.watches.get(key)?.close();
    this.watches.delete(key);
    this.state.delete(key);
    this.lastKnown.delete(key);
    this.applied.delete(key);
    this.maintOverrides.delete(key);
    this.reported.delete(key);
    this.claims.release(key);
    await this.proxy.remove(nameOf(key), signal);
    if (this.ctx.status.get(key)) this.ctx.status.event(key, 'Normal', 'Removed', 'listener removed (manifest deleted)');
    this.ctx.status.delete(key);
  }
}
