/**
 * A Registry decorator that feeds the agent's metrics: operation counts, latency and errors per
 * backend, watch notifications and the connection state. It changes no behaviour, so every real
 * registry keeps passing its own conformance suite underneath.
 */
import { RegistryError } from '../errors.ts';
import type { Instance, Listing, ListingChange, Registry, RegistryState } from '../registry/registry.ts';
import type { AgentMetrics } from './metrics.ts';

const STATES: readonly RegistryState[] = ['connecting', 'connected', 'disconnected', 'expired', 'closed'];

export class InstrumentedRegistry implements Registry {
  readonly kind: string;

  constructor(
    private readonly inner: Registry,
    private readonly metrics: AgentMetrics,
  ) {
    this.kind = inner.kind;
    this.recordState(inner.state());
    inner.onStateChange((s) => this.recordState(s));
  }

  register(path: string, instance: Instance, signal?: AbortSignal): Promise<string> {
    return this.timed('register', () => this.inner.register(path, instance, signal));
  }

  deregister(path: string, instanceName: string, signal?: AbortSignal): Promise<void> {
    return this.timed('deregister', () => this.inner.deregister(path, instanceName, signal));
  }

  list(path: string, signal?: AbortSignal): Promise<Listing> {
    return this.timed('list', () => this.inner.list(path, signal));
  }

  watch(path: string, onChange: (change: ListingChange) => void): () => void {
    return this.inner.watch(path, (change) => {
      this.metrics.watchEvents.inc({ backend: this.kind });
      onChange(change);
    });
  }

  onStateChange(cb: (state: RegistryState) => void): () => void {
    return this.inner.onStateChange(cb);
  }

  state(): RegistryState {
    return this.inner.state();
  }

  close(signal?: AbortSignal): Promise<void> {
    return this.inner.close(signal);
  }

  private async timed<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    const labels = { backend: this.kind, operation };
    this.metrics.registryOps.inc(labels);
    const end = this.metrics.registrySeconds.startTimer(labels);
    try {
      return await fn();
    } catch (err) {
      this.metrics.registryErrors.inc({ ...labels, transient: String(err instanceof RegistryError && err.transient) });
      throw err;
    } finally {
      end();
    }
  }

  private recordState(current: RegistryState): void {
    for (const s of STATES) this.metrics.registryState.set({ backend: this.kind, state: s }, s === current ? 1 : 0);
  }
}
