/**
 * Prometheus metrics of one agent, on a prom-client Registry of its own (never the global one, so
 * two agents in one process — tests — do not share series). Event-driven series are fed by hooks
 * (reconcile results, reloads, registry and check decorators, status events); state series
 * (queue depth, objects, backends per Subscription as HAProxy reports them) are read at scrape time.
 */
import { Counter, Gauge, Histogram, Registry } from './prom.ts';
import type { Agent } from '../agent.ts';
import { kindLabelOf, type ObjectKey } from '../object-key.ts';
import type { Proxy, ReloadReason } from '../proxy/proxy.ts';
import type { StatusEvent } from '../reconcile/status-store.ts';
import type { Outcome } from '../reconcile/work-queue.ts';
import { liveServersOfAll } from './live-backends.ts';

/** An endpoint state → the gauge's fixed label set. */
const BACKEND_STATE = { up: 'up', unchecked: 'up', down: 'down', maintenance: 'maint', draining: 'drain' } as const;

/** A reload reason → a bounded label ("listener_added"): the cause, never the listener. */
export const reloadReasonLabel = (r: ReloadReason): string => r.cause.replaceAll('-', '_');

export class AgentMetrics {
  readonly registry = new Registry();
  private agent: Agent | undefined;
  private proxy: Proxy | undefined;

  readonly reconcileSeconds = new Histogram({
    name: 'dockstack_reconcile_duration_seconds', help: 'Reconcile duration by object kind and outcome',
    labelNames: ['kind', 'outcome'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30], registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({ name: 'dockstack_reconcile_errors_total', help: 'Failed reconciles by kind (terminal or retried)', labelNames: ['kind', 'terminal'], registers: [this.registry] });
  readonly retries = new Counter({ name: 'dockstack_reconcile_retries_total', help: 'Reconciles requeued with backoff after a failure', labelNames: ['kind'], registers: [this.registry] });
  readonly registryOps = new Counter({ name: 'dockstack_registry_operations_total', help: 'Registry operations by backend and operation', labelNames: ['backend', 'operation'], registers: [this.registry] });
  readonly registryErrors = new Counter({ name: 'dockstack_registry_errors_total', help: 'Failed registry operations', labelNames: ['backend', 'operation', 'transient'], registers: [this.registry] });
  readonly registrySeconds = new Histogram({
    name: 'dockstack_registry_operation_duration_seconds', help: 'Registry operation latency', labelNames: ['backend', 'operation'],
    buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry],
  });
  readonly registryState = new Gauge({ name: 'dockstack_registry_session_state', help: '1 for the current registry connection state', labelNames: ['backend', 'state'], registers: [this.registry] });
  readonly watchEvents = new Counter({ name: 'dockstack_registry_watch_events_total', help: 'Registry watch notifications received', labelNames: ['backend'], registers: [this.registry] });
  readonly reloads = new Counter({ name: 'dockstack_haproxy_reloads_total', help: 'HAProxy reloads; reason = the distinct reason categories of a coalesced reload', labelNames: ['reason'], registers: [this.registry] });
  readonly runtimeCommands = new Counter({ name: 'dockstack_haproxy_runtime_commands_total', help: 'HAProxy runtime-API commands sent for membership changes', registers: [this.registry] });
  readonly applies = new Counter({ name: 'dockstack_haproxy_applies_total', help: 'Listener applies by how they were carried out', labelNames: ['via'], registers: [this.registry] });
  readonly checkSeconds = new Histogram({
    name: 'dockstack_check_duration_seconds', help: 'Health check latency per Service and check type', labelNames: ['service', 'type'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [this.registry],
  });
  readonly checkResults = new Counter({ name: 'dockstack_check_results_total', help: 'Health check results per Service', labelNames: ['service', 'type', 'result'], registers: [this.registry] });
  readonly events = new Counter({ name: 'dockstack_events_total', help: 'Object events by kind and reason (Registered, BackendAdded, InvalidManifest...)', labelNames: ['kind', 'reason'], registers: [this.registry] });
  readonly validationErrors = new Counter({ name: 'dockstack_manifest_validation_errors_total', help: 'Manifest validation errors reported', registers: [this.registry] });

  constructor() {
    const self = this;
    new Gauge({ name: 'dockstack_queue_depth', help: 'Keys waiting in the work queue', registers: [this.registry], collect() { this.set(self.agent?.queue.depth ?? 0); } });
    new Gauge({
      name: 'dockstack_objects', help: 'Objects by kind and Ready condition', labelNames: ['kind', 'ready'], registers: [this.registry],
      collect() { self.collectObjects(this); },
    });
    new Gauge({ name: 'dockstack_manifest_invalid_objects', help: 'Objects whose current manifest does not validate', registers: [this.registry], collect() { this.set(self.agent?.view().filter((v) => v.status.validationErrors.length > 0).length ?? 0); } });
    new Gauge({
      name: 'dockstack_subscription_backends', help: 'Backends per Subscription by state, as HAProxy reports them', labelNames: ['subscription', 'state'], registers: [this.registry],
      async collect() { await self.collectBackends(this); },
    });
  }

  /** Start serving scrape-time series from `agent` and `proxy`. */
  bind(agent: Agent, proxy: Proxy): void {
    this.agent = agent;
    this.proxy = proxy;
    agent.status.onEvent((e) => this.onEvent(e));
  }

  /** AgentOptions.onReconcile. */
  onReconcile(key: ObjectKey, outcome: Outcome, durationMs: number): void {
    const kind = kindLabelOf(key);
    this.reconcileSeconds.observe({ kind, outcome }, durationMs / 1000);
    if (outcome === 'error' || outcome === 'terminal') this.reconcileErrors.inc({ kind, terminal: String(outcome === 'terminal') });
    if (outcome === 'error') this.retries.inc({ kind });
  }

  /** HaproxyProxy onReload. */
  onReload(reasons: readonly ReloadReason[]): void {
    this.reloads.inc({ reason: [...new Set(reasons.map(reloadReasonLabel))].sort().join(',') || 'other' });
  }

  /** HAProxy reloads so far, in total and by reason category (the dashboard's counts). */
  async reloadCounts(): Promise<{ total: number; byReason: Record<string, number>; runtimeCommands: number }> {
    const byReason: Record<string, number> = {};
    for (const v of (await this.reloads.get()).values) byReason[String(v.labels.reason)] = v.value;
    const runtimeCommands = (await this.runtimeCommands.get()).values[0]?.value ?? 0;
    return { total: Object.values(byReason).reduce((a, b) => a + b, 0), byReason, runtimeCommands };
  }

  /** The exposition text for GET /metrics. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  private onEvent(e: StatusEvent): void {
    this.events.inc({ kind: kindLabelOf(e.object), reason: e.reason });
    if (e.reason === 'InvalidManifest') this.validationErrors.inc();
  }

  private collectObjects(g: Gauge<'kind' | 'ready'>): void {
    g.reset();
    for (const v of this.agent?.view() ?? []) {
      const ready = v.status.conditions.find((c) => c.type === 'Ready')?.status ?? 'Unknown';
      g.inc({ kind: v.kind.toLowerCase(), ready: ready.toLowerCase() });
    }
  }

  private async collectBackends(g: Gauge<'subscription' | 'state'>): Promise<void> {
    g.reset();
    if (!this.agent || !this.proxy) return;
    for (const [name, rows] of await liveServersOfAll(this.agent, this.proxy)) {
      for (const state of ['up', 'down', 'maint', 'drain']) g.set({ subscription: name, state }, 0);
      for (const r of rows) g.inc({ subscription: name, state: BACKEND_STATE[r.state] });
    }
  }
}
