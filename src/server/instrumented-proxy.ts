/**
 * A Proxy decorator that counts, per apply, the runtime-API commands sent and whether the change
 * went through the runtime API, a reload, or needed nothing. Reloads themselves are counted from
 * HaproxyProxy's onReload hook, since one reload may serve several coalesced applies.
 */
import type { ApplyResult, Endpoint, EndpointChange, EndpointStatus, ListenerSpec, Proxy, SocketAddress } from '../proxy/proxy.ts';
import type { AgentMetrics } from './metrics.ts';

export class InstrumentedProxy implements Proxy {
  constructor(
    private readonly inner: Proxy,
    private readonly metrics: AgentMetrics,
  ) {}

  async apply(name: string, spec: ListenerSpec, endpoints: readonly Endpoint[], signal?: AbortSignal): Promise<ApplyResult> {
    return this.count(await this.inner.apply(name, spec, endpoints, signal));
  }

  async update(name: string, change: EndpointChange, signal?: AbortSignal): Promise<ApplyResult> {
    return this.count(await this.inner.update(name, change, signal));
  }

  private count(r: ApplyResult): ApplyResult {
    this.metrics.runtimeCommands.inc(r.runtimeOps);
    this.metrics.applies.inc({ via: r.reloaded ? 'reload' : r.runtimeOps > 0 ? 'runtime' : 'none' });
    return r;
  }

  remove(name: string, signal?: AbortSignal): Promise<void> {
    return this.inner.remove(name, signal);
  }

  status(name: string): Promise<readonly EndpointStatus[]> {
    return this.inner.status(name);
  }

  adopted(name: string): readonly SocketAddress[] | undefined {
    return this.inner.adopted?.(name);
  }

  close(opts?: { keepServing?: boolean }): Promise<void> {
    return this.inner.close(opts);
  }
}
