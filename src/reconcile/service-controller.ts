/**
 * The Service controller (Nerve's job, declaratively): while the instance passes its checks and
 * is not in maintenance, it is registered; otherwise, or once the manifest is gone, it is not.
 * Health runners live per key and are rebuilt when the spec's generation or the address changes; their
 * transitions only enqueue the key.
 */
import { describeError, InstanceConflictError, RegistryError } from '../errors.ts';
import type { CheckStatus } from '../health/check-loop.ts';
import { isLoopback, type HostAddress } from '../host-address.ts';
import type { HealthCheckSpec, ServiceManifest } from '../manifest/schema.ts';
import type { Instance, Registry } from '../registry/registry.ts';
import type { ControllerContext } from './controller-context.ts';
import { instanceIdFor } from './instance-id.ts';
import { nameOf, type ObjectKey, type ServiceKey } from '../object-key.ts';
import type { ReconcileResult } from './work-queue.ts';

/** The health of one Service instance under its checks (rise/fall applied). */
export interface HealthRunner {
  readonly healthy: boolean;
  start(): void;
  stop(): Promise<void>;
  statuses(): readonly CheckStatus[];
}

export type HealthFactory = (
  checks: readonly HealthCheckSpec[],
  target: { host: string; port: number },
  onChange: (healthy: boolean) => void,
  /** The Service's key ("service/web"), for per-Service check metrics. */
  key: ObjectKey,
) => HealthRunner;

interface Registered {
  readonly path: string;
  readonly instanceId: string;
  /** A register cut short (superseded): it may still land, so it is undone like one that did. */
  readonly unsure?: true;
}

export class ServiceController {
  private readonly runners = new Map<ObjectKey, { generation: number; host: string; runner: HealthRunner }>();
  private readonly registered = new Map<ObjectKey, Registered>();
  private readonly draining = new Set<ObjectKey>();
  /** Keys already warned about an address that cannot be registered (warn once, not every resync). */
  private readonly addressWarned = new Set<ObjectKey>();
  /** Keys already warned about an instance id another agent holds, with the holder (warn once per holder). */
  private readonly conflictWarned = new Map<ObjectKey, string>();
  private readonly address: HostAddress;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly registry: Registry,
    private readonly health: HealthFactory,
    agentHost: string | HostAddress,
  ) {
    this.address = typeof agentHost === 'string' ? { current: () => agentHost, describe: () => agentHost, remoteRegistry: false, refresh: async () => undefined } : agentHost;
  }

  /** Keys this controller currently holds a registration for. */
  registeredKeys(): string[] {
    return [...this.registered].filter(([, r]) => !r.unsure).map(([k]) => k);
  }

  /** Deregister `key` and keep it out of the registry until undrain (the process keeps serving). */
  drain(key: ServiceKey, on: boolean): void {
    if (on) this.draining.add(key);
    else this.draining.delete(key);
    this.ctx.enqueue(key);
  }

  async reconcile(key: ServiceKey, signal?: AbortSignal): Promise<ReconcileResult | void> {
    const desired = this.ctx.desired.get(key);
    if (!desired || desired.manifest.kind !== 'Service') return this.remove(key, signal);
    const m = desired.manifest;
    const agentHost = this.address.current();
    const host = m.spec.host ?? agentHost ?? '127.0.0.1';
    // A loopback address in a registry other hosts read makes each of them connect to itself.
    const blocked = m.spec.host ? undefined : agentHost === undefined ? 'NoAddress' : this.address.remoteRegistry && isLoopback(agentHost) ? 'LoopbackAddress' : undefined;
    const instanceId = m.spec.instanceId ?? instanceIdFor(agentHost ?? host, m.metadata.name);
    const runner = await this.ensureRunner(key, desired.generation, m, host);
    const { status } = this.ctx;
    const checks = runner.statuses();
    status.patch(key, { observedGeneration: desired.generation, details: { instanceId, host, port: m.spec.port, path: m.spec.path, checks } });
    status.setCondition(key, 'Healthy', runner.healthy ? 'True' : 'False', runner.healthy ? 'ChecksPassing' : 'ChecksFailing', m.spec.checks.length ? (runner.healthy ? '' : failingMessage(checks)) : 'no checks configured');

    const prev = this.registered.get(key);
    const want = runner.healthy && !m.spec.maintenance && !this.draining.has(key) && !blocked;
    try {
      if (prev && (prev.path !== m.spec.path || prev.instanceId !== instanceId)) {
        await this.registry.deregister(prev.path, prev.instanceId, signal);
        this.registered.delete(key);
      }
      if (want) {
        const instance: Instance = { host, port: m.spec.port, name: instanceId, ...(m.spec.weight !== undefined && { weight: m.spec.weight }), ...(m.spec.labels && { labels: m.spec.labels }) };
        const written = await this.registry.register(m.spec.path, instance, signal);
        if (!this.registered.get(key) || this.registered.get(key)!.unsure) status.event(key, 'Normal', 'Registered', `registered ${written}`);
        this.registered.set(key, { path: m.spec.path, instanceId });
        status.patch(key, { details: { registryKey: written } });
        status.setCondition(key, 'Registered', 'True', 'Registered', written);
      } else {
        await this.registry.deregister(m.spec.path, instanceId, signal);
        const reason = blocked ?? (m.spec.maintenance ? 'Maintenance' : this.draining.has(key) ? 'Draining' : 'Unhealthy');
        if (this.unregistered(key)) status.event(key, 'Normal', 'Deregistered', `deregistered (${reason})`);
        status.patch(key, { details: { registryKey: null } });
        status.setCondition(key, 'Registered', 'False', reason, blocked ? this.addressProblem(key, blocked) : '');
      }
      if (!blocked) this.addressWarned.delete(key);
      this.conflictWarned.delete(key);
      status.patch(key, { lastError: undefined });
      status.setCondition(key, 'Ready', want ? 'True' : 'False', want ? 'Registered' : 'NotRegistered');
      // Health flips are what enqueue a Service; one that never rose would show no reason until the
      // resync, so poll until every check has a first result to report.
      if (!runner.healthy && checks.some((c) => c.lastResult === 'none')) return { requeueAfterMs: Math.min(1000, ...m.spec.checks.map((c) => c.intervalMs)) };
    } catch (err) {
      if (signal?.aborted) {
        // Shutting down or superseded: not the registry's failure. Whether the write landed is unknown.
        if (want && !this.registered.has(key)) this.registered.set(key, { path: m.spec.path, instanceId, unsure: true });
        throw err;
      }
      if (err instanceof InstanceConflictError) return this.conflicted(key, err);
      const transient = err instanceof RegistryError && err.transient;
      status.patch(key, { lastError: describeError(err) });
      status.setCondition(key, 'Ready', 'False', transient ? 'RegistryUnavailable' : 'RegistryError', describeError(err));
      throw err;
    }
  }

  /** Why `key` is not registered with the agent's address, with the fix; a Warning event the first time. */
  private addressProblem(key: ServiceKey, reason: 'LoopbackAddress' | 'NoAddress'): string {
    const msg = reason === 'LoopbackAddress'
      ? `not registering loopback address ${this.address.describe()} in a registry other hosts read; start the agent with --host ADDRESS or --host INTERFACE (e.g. --host eth0), or set spec.host`
      : `no address to register: ${this.address.describe()}; give --host an interface with an IPv4 address, or an address`;
    if (!this.addressWarned.has(key)) this.ctx.status.event(key, 'Warning', reason, msg);
    this.addressWarned.add(key);
    return msg;
  }

  /**
   * Another agent's live registration holds our instance id for another host: ours is not written
   * and theirs is left alone (each would otherwise remove the other as its stale predecessor).
   * Polled, because nothing here hears the holder leave.
   */
  private conflicted(key: ObjectKey, err: InstanceConflictError): ReconcileResult {
    const { status } = this.ctx;
    const msg = `${err.message}; ${err.hint ?? ''}`;
    if (this.unregistered(key)) status.event(key, 'Warning', 'Deregistered', 'deregistered (InstanceConflict)');
    if (this.conflictWarned.get(key) !== err.holder) status.event(key, 'Warning', 'InstanceConflict', msg);
    this.conflictWarned.set(key, err.holder);
    status.patch(key, { details: { registryKey: null }, lastError: describeError(err) });
    status.setCondition(key, 'Registered', 'False', 'InstanceConflict', msg);
    status.setCondition(key, 'Ready', 'False', 'InstanceConflict', msg);
    return { requeueAfterMs: CONFLICT_RETRY_MS };
  }

  /**
   * Deregister everything (graceful shutdown: deregister first, then exit), giving up when `signal`
   * aborts. An unreachable registry is not waited for: the warning says so, and the registrations
   * go with the session or lease (ZooKeeper ephemerals, etcd leases) once it expires.
   */
  async shutdown(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.runners.values()].map(({ runner }) => runner.stop()));
    this.runners.clear();
    const regs = [...this.registered.values()];
    this.registered.clear();
    if (regs.length === 0) return;
    const results = this.registry.state() === 'connected'
      ? await Promise.allSettled(regs.map((r) => this.registry.deregister(r.path, r.instanceId, signal)))
      : [];
    const left = regs.filter((_, i) => results[i]?.status !== 'fulfilled');
    if (left.length === 0) return;
    const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    // Not reached (not connected, a transient error, no answer before `signal`) or refused by a registry that answered (NoAuth…).
    const refused = errors.find((e) => !(e instanceof RegistryError && e.transient) && !signal?.aborted);
    const err = refused ?? errors[0];
    this.ctx.log.warn(
      { registry: this.registry.kind, state: this.registry.state(), skipped: left.map((r) => `${r.path}/${r.instanceId}`), ...(err !== undefined && { err: describeError(err) }) },
      refused === undefined ? 'registry unreachable: deregistration skipped; the registrations expire with the session' : 'registry refused deregistration: the registrations left expire with the session',
    );
  }

  /** Forget `key`'s registration; true when it was known to have landed. */
  private unregistered(key: ObjectKey): boolean {
    const r = this.registered.get(key);
    this.registered.delete(key);
    return r !== undefined && !r.unsure;
  }

  private async ensureRunner(key: ServiceKey, generation: number, m: ServiceManifest, host: string): Promise<HealthRunner> {
    const existing = this.runners.get(key);
    if (existing && existing.generation === generation && existing.host === host) return existing.runner;
    await existing?.runner.stop();
    const runner = this.health(m.spec.checks, { host, port: m.spec.port }, (healthy) => {
      this.ctx.status.event(key, healthy ? 'Normal' : 'Warning', healthy ? 'CheckPassed' : 'CheckFailed', healthy ? 'checks passing' : 'checks failing');
      this.ctx.enqueue(key);
    }, key);
    this.runners.set(key, { generation, host, runner });
    runner.start();
    return runner;
  }

  private async remove(key: ServiceKey, signal?: AbortSignal): Promise<void> {
    const r = this.runners.get(key);
    this.runners.delete(key);
    await r?.runner.stop();
    const reg = this.registered.get(key);
    if (reg) {
      await this.registry.deregister(reg.path, reg.instanceId, signal);
      if (this.unregistered(key)) this.ctx.status.event(key, 'Normal', 'Deregistered', `deregistered ${reg.path}/${reg.instanceId} (manifest removed)`);
    }
    this.ctx.status.delete(key);
    this.draining.delete(key);
    this.addressWarned.delete(key);
    this.conflictWarned.delete(key);
  }
}

const CONFLICT_RETRY_MS = 10_000;

/** Why a Service is unhealthy: each failing check's last error ("http 127.0.0.1:80: GET /: timed out…"). */
function failingMessage(checks: readonly CheckStatus[]): string {
  return checks.filter((c) => !c.healthy && c.lastError !== undefined).map((c) => `${c.type} ${c.target}: ${c.lastError}`).join('; ');
}
