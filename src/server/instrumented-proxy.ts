/**
 * A ProxyBackend decorator that counts, per apply, the runtime-API commands sent and whether the
 * change went through the runtime API, a reload, or needed nothing. Reloads themselves are counted
 * from HaproxyProxy's onReload hook, since one reload may serve several coalesced applies.
 */
import type { BackendServer, ProxyApplyResult, ProxyBackend, ServerStatus, SubscriptionSpec } from '../haproxy/proxy-backend.ts';
import type { AgentMetrics } from './metrics.ts';

export class InstrumentedProxy implements ProxyBackend {
  constructor(
    private readonly inner: ProxyBackend,
    private readonly metrics: AgentMetrics,
  ) {}

  async apply(name: string, spec: SubscriptionSpec, servers: readonly BackendServer[]): Promise<ProxyApplyResult> {
    const r = await this.inner.apply(name, spec, servers);
    this.metrics.runtimeCommands.inc(r.runtimeOps);
    this.metrics.applies.inc({ via: r.reloaded ? 'reload' : r.runtimeOps > 0 ? 'runtime' : 'none' });
    return r;
  }

  remove(name: string): Promise<void> {
    return this.inner.remove(name);
  }

  status(name: string): Promise<readonly ServerStatus[]> {
    return this.inner.status(name);
  }

  close(opts?: { stopHaproxy?: boolean }): Promise<void> {
    return this.inner.close(opts);
  }
}
