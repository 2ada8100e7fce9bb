/**
 * The agent: manifest source → desired-state store → work queue → controllers, plus the status
 * view the status API serves. Watch callbacks and source snapshots only enqueue keys; all work
 * happens in reconciles. A periodic resync catches drift.
 */
import { setMaxListeners } from 'node:events';
import { AbortedError, describeError } from './errors.ts';
import type { Proxy } from './proxy/proxy.ts';
import type { HostAddress } from './host-address.ts';
import type { ManifestSource } from './manifest/manifest-source.ts';
import { ManifestStore } from './manifest/manifest-store.ts';
import type { FileResult } from './manifest/load.ts';
import { redactSecrets } from './manifest/redact.ts';
import { API_VERSION, type Kind } from './manifest/schema.ts';
import { parseKey, type ObjectKey } from './object-key.ts';
import { silentLogger, type Logger } from './log.ts';
import type { LastKnownState } from './reconcile/last-known-state.ts';
import { ServiceController, type HealthFactory } from './reconcile/service-controller.ts';
import { StatusStore, type ObjectStatus } from './reconcile/status-store.ts';
import { SubscriptionController } from './reconcile/subscription-controller.ts';
import { WorkQueue, type Outcome, type ReconcileResult } from './reconcile/work-queue.ts';
import type { Registry } from './registry/registry.ts';
import type { HostResolver } from './net/host-resolver.ts';

// Stop's registry steps together stay well under 2 s: a supervisor's stop timeout must not be spent
// waiting on a registry that cannot answer.
const DEREGISTER_MS = 1000;
const REGISTRY_CLOSE_MS = 500;

export interface AgentOptions {
  readonly source: ManifestSource;
  readonly registry: Registry;
  readonly proxy: Proxy;
  readonly health: HealthFactory;
  /** The host Services register when their spec has none: fixed, or chosen per reconcile. */
  readonly host: string | HostAddress;
  readonly log?: Logger;
  /** Last known server sets (with a file: they survive restarts); default in memory only. */
  readonly lastKnown?: LastKnownState;
  readonly resyncMs?: number;
  readonly concurrency?: number;
  /** Resolves registry hostnames (default: the system resolver, bounded). */
  readonly resolver?: HostResolver;
  readonly onReconcile?: (key: ObjectKey, outcome: Outcome, durationMs: number, err?: unknown) => void;
}

/** One object as `get`/`describe` show it. */
export interface ObjectView {
  apiVersion: string;
  kind: Kind;
  /** `source` is file:line:col, `revision` the commit the manifest in force came from. */
  metadata: { name: string; generation?: number; labels?: Record<string, string>; source?: string; revision?: string };
  spec?: unknown;
  /** `failedRevision`: the commit whose manifest for this object does not validate (the one in force stays). */
  status: ObjectStatus & {
    /** Consecutive failed reconciles: the work queue's count, the one retry counter. */
    retries: number;
    validationErrors: string[];
    failedRevision?: string;
  };
}

export class Agent {
  readonly manifests = new ManifestStore();
  readonly status = new StatusStore();
  readonly queue: WorkQueue<ObjectKey>;
  readonly services: ServiceController;
  readonly subscriptions: SubscriptionController;
  /** The controller of each kind: reconcile dispatches through this, never by prefix. */
  private readonly controllers: Readonly<Record<Kind, { reconcile(key: ObjectKey, signal: AbortSignal): Promise<ReconcileResult | void> }>>;
  private readonly log: Logger;
  /** The generation (undefined: no manifest) each running reconcile read: a snapshot that changes it supersedes the run. */
  private readonly running = new Map<ObjectKey, number | undefined>();
  /** Running reconciles that started while the registry was not connected. */
  private readonly startedOffline = new Set<ObjectKey>();
  /** Of those, the ones a connect did not run again: they run again at once if they fail. */
  private readonly rerunOnError = new Set<ObjectKey>();
  private resyncTimer: NodeJS.Timeout | undefined;
  private unsubscribeState: (() => void) | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.log ?? silentLogger;
    const ctx = { desired: this.manifests, status: this.status, enqueue: (k: ObjectKey) => this.queue.add(k), log: this.log };
    this.services = new ServiceController(ctx, opts.registry, opts.health, opts.host);
    this.subscriptions = new SubscriptionController(ctx, opts.registry, opts.proxy, opts.lastKnown, opts.resolver);
    this.controllers = { Service: this.services, Subscription: this.subscriptions };
    this.queue = new WorkQueue((key: ObjectKey, signal: AbortSignal) => this.reconcile(key, signal), {
      // Reconciles mostly wait on I/O (registry round trips, HAProxy reloads that coalesce): a high
      // bound lets one reload carry hundreds of new listeners. Measured: 1,000 manifests with
      // HAProxy became Ready in ~90 s at 4, 3.2 s at 128, 0.8 s at 512.
      concurrency: opts.concurrency ?? 512,
      onResult: (key, outcome, ms, err) => {
        if (err instanceof AbortedError || outcome === 'superseded') this.log.debug({ object: key, outcome, err: describeError(err) }, 'reconcile aborted');
        else if (outcome === 'error' || outcome === 'terminal')
          this.log.warn({ object: key, generation: this.manifests.get(key)?.generation, outcome, err: describeError(err), retries: this.queue.retries(key) }, 'reconcile failed');
        else this.log.debug({ object: key, generation: this.manifests.get(key)?.generation, outcome, durationMs: Math.round(ms) }, 'reconciled');
        if (this.rerunOnError.delete(key) && outcome === 'error') this.queue.add(key);
        opts.onReconcile?.(key, outcome, ms, err);
      },
    });
  }

  async start(): Promise<void> {
    // Every object event is also a log line of one shape: object, generation, reason, eventType.
    this.status.onEvent((e) => {
      const fields = { object: e.object, generation: this.manifests.get(e.object)?.generation, reason: e.reason, eventType: e.type };
      if (e.type === 'Warning') this.log.warn(fields, e.message);
      else this.log.info(fields, e.message);
    });
    this.unsubscribeState = this.opts.registry.onStateChange((state) => {
      this.log.info({ registry: this.opts.registry.kind, state }, 'registry state');
      if (state === 'connected') this.onConnected();
    });
    await this.opts.source.start((files) => this.onSnapshot(files));
    const every = this.opts.resyncMs ?? 30_000;
    this.resyncTimer = setInterval(() => this.resync(), every);
    this.resyncTimer.unref();
  }

  /** Graceful stop: stop watching, finish in-flight work, deregister every Service, close. */
  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    this.unsubscribeState?.();
    await this.opts.source.close();
    await this.queue.shutdown();
    // Bounded, so that a registry that is down or silent does not hold the exit for its op deadlines.
    // Every Service's deregistration listens on this one signal until it settles: past 10, Node
    // would warn of a leak at each shutdown of an agent with more than 10 Services.
    const deadline = AbortSignal.timeout(DEREGISTER_MS);
    setMaxListeners(0, deadline);
    await this.services.shutdown(deadline);
    await this.subscriptions.shutdown();
    await this.opts.proxy.close();
    await this.opts.registry.close(AbortSignal.timeout(REGISTRY_CLOSE_MS));
  }

  /** Enqueue every known object. */
  resync(): void {
    for (const key of this.keys()) this.queue.add(key);
  }

  /**
   * Resync, except the reconciles in progress that started while the registry was not connected:
   * their registry calls go out on this connection. At a cold start that is every reconcile, and
   * running each again cost 500 more Service reconciles and 500 `exists` at 1,000 manifests.
   */
  private onConnected(): void {
    for (const key of this.keys()) {
      if (this.startedOffline.has(key)) this.rerunOnError.add(key);
      else this.queue.add(key);
    }
  }

  private keys(): Set<ObjectKey> {
    return new Set([...this.manifests.keys(), ...this.status.keys()]);
  }

  /** All objects of `kind` (or all), sorted by name, as the status API serves them. */
  view(kind?: Kind): ObjectView[] {
    const out: ObjectView[] = [];
    for (const key of [...this.keys()].sort()) {
      const v = this.viewOf(key);
      if (v && (!kind || v.kind === kind)) out.push(v);
    }
    return out;
  }

  viewOf(key: ObjectKey): ObjectView | undefined {
    const stored = this.manifests.get(key);
    const status = this.status.get(key);
    const errors = this.manifests.errors(key).map((e) => e.message);
    const failedRevision = this.manifests.failedRevision(key);
    if (!stored && !status && errors.length === 0) return undefined;
    const { kind, name } = parseKey(key) ?? { kind: 'Subscription' as Kind, name: key };
    const m = stored?.manifest;
    return {
      apiVersion: API_VERSION,
      kind,
      metadata: {
        name,
        ...(stored && { generation: stored.generation, source: `${stored.file}:${stored.position.line}:${stored.position.column}` }),
        ...(stored?.revision && { revision: stored.revision }),
        ...(m?.metadata.labels && { labels: m.metadata.labels }),
      },
      ...(m && { spec: redactSecrets(m.spec) }),
      status: { conditions: [], details: {}, ...status, retries: this.queue.retries(key), validationErrors: errors, ...(failedRevision !== undefined && errors.length > 0 && { failedRevision }) },
    };
  }

  private onSnapshot(files: ReadonlyMap<string, FileResult>): void {
    const changed = this.manifests.update(files);
    for (const e of this.manifests.unattributedErrors()) this.log.warn({ reason: 'InvalidManifest', err: e.message }, 'invalid manifest');
    for (const key of changed) {
      this.markValidity(key);
      // A new spec, or none, supersedes a run of the old one; errors or metadata alone do not.
      if (this.running.has(key) && this.running.get(key) !== this.manifests.get(key)?.generation) this.queue.supersede(key);
      else this.queue.add(key);
    }
  }

  private markValidity(key: ObjectKey): void {
    const errors = this.manifests.errors(key);
    if (errors.length === 0) {
      if (this.manifests.get(key)) this.status.setCondition(key, 'Valid', 'True', 'Valid');
      return;
    }
    const stored = this.manifests.get(key);
    const failed = this.manifests.failedRevision(key);
    const from = (rev: string | undefined) => (rev ? `, from revision ${rev.slice(0, 12)},` : '');
    const kept = stored ? ` (${failed ? `revision ${failed.slice(0, 12)} does not validate; ` : ''}the last good version${from(stored.revision)} stays in force)` : '';
    this.status.setCondition(key, 'Valid', 'False', 'InvalidManifest', errors.map((e) => e.message).join('; ') + kept);
    for (const e of errors) this.status.event(key, 'Warning', 'InvalidManifest', e.message);
  }

  private async reconcile(key: ObjectKey, signal: AbortSignal): Promise<void | { requeueAfterMs?: number }> {
    this.running.set(key, this.manifests.get(key)?.generation);
    if (this.opts.registry.state() !== 'connected') this.startedOffline.add(key);
    try {
      const kind = parseKey(key)?.kind;
      if (kind) return await this.controllers[kind].reconcile(key, signal);
    } finally {
      this.running.delete(key);
      this.startedOffline.delete(key);
      // A controller drops the status of an object it no longer has; invalid-only objects keep theirs.
      if (this.manifests.errors(key).length) this.markValidity(key);
    }
  }
}
