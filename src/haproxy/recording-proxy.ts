/** A ProxyBackend that records desired state and calls: for reconciler unit tests and `--proxy none`. */
import type { BackendServer, ProxyApplyResult, ProxyBackend, ServerStatus, SubscriptionSpec } from './proxy-backend.ts';
import { addressOf } from '../registry/instance.ts';

export class RecordingProxy implements ProxyBackend {
  readonly listeners = new Map<string, { spec: SubscriptionSpec; servers: readonly BackendServer[] }>();
  readonly calls: string[] = [];
  /** Test hook: make the next applies fail with this error. */
  failWith: Error | undefined;

  async apply(name: string, spec: SubscriptionSpec, servers: readonly BackendServer[]): Promise<ProxyApplyResult> {
    this.calls.push(`apply ${name} ${servers.map(addressOf).join(',')}`);
    if (this.failWith) throw this.failWith;
    const prev = this.listeners.get(name);
    const reload = !prev || JSON.stringify(prev.spec) !== JSON.stringify(spec);
    this.listeners.set(name, { spec, servers: [...servers] });
    return { reloaded: reload, reasons: reload ? [prev ? `listener ${name} changed` : `listener ${name} added`] : [], runtimeOps: 0 };
  }

  async remove(name: string): Promise<void> {
    this.calls.push(`remove ${name}`);
    this.listeners.delete(name);
  }

  async status(name: string): Promise<readonly ServerStatus[]> {
    return (this.listeners.get(name)?.servers ?? []).map((s) => ({
      address: addressOf(s),
      status: s.maintenance ? 'MAINT' : 'UP',
      weight: s.weight ?? 1,
    }));
  }

  async close(): Promise<void> {}
}
