/**
 * The in-memory Proxy: keeps each listener's spec and endpoints and the calls made, for controller
 * tests and the proxy conformance suite. A reload is "needed" exactly when a real data plane would
 * need one (a listener added, respecified or removed), so tests can assert reload-free membership.
 */
import { DockstackError } from '../errors.ts';
import { addressOf } from '../net/address.ts';
import type { ApplyResult, Endpoint, EndpointChange, EndpointStatus, ListenerSpec, Proxy } from './proxy.ts';
import { ListenerConflictError, listenKey } from './listener-conflict.ts';

export class MemoryProxy implements Proxy {
  readonly listeners = new Map<string, { spec: ListenerSpec; endpoints: readonly Endpoint[] }>();
  readonly calls: string[] = [];
  /** Test hook: make the next applies fail with this error. */
  failWith: Error | undefined;

  async apply(name: string, spec: ListenerSpec, endpoints: readonly Endpoint[]): Promise<ApplyResult> {
    this.calls.push(`apply ${name} ${endpoints.map(addressOf).join(',')}`);
    if (this.failWith) throw this.failWith;
    for (const [other, l] of this.listeners)
      if (other !== name && listenKey(l.spec.listen) === listenKey(spec.listen)) throw new ListenerConflictError(name, spec.listen, `listener ${other}`);
    for (const e of endpoints) if (!Number.isInteger(e.weight ?? 1) || (e.weight ?? 1) < 0 || (e.weight ?? 1) > 256) throw new DockstackError('E_PROXY', `applying ${name}: weight ${e.weight} of ${addressOf(e)} is not 0–256`);
    const prev = this.listeners.get(name);
    const reload = !prev || JSON.stringify(prev.spec) !== JSON.stringify(spec);
    const before = new Set((prev?.endpoints ?? []).map((e) => JSON.stringify(e)));
    const changed = endpoints.filter((e) => !before.has(JSON.stringify(e))).length + Math.max(0, before.size - endpoints.length);
    this.listeners.set(name, { spec, endpoints: [...endpoints] });
    return { reloaded: reload, reasons: reload ? [{ cause: prev ? 'listener-changed' : 'listener-added', listener: name }] : [], runtimeOps: reload ? 0 : changed };
  }

  /** Kept addresses stay in place, new ones are appended. */
  async update(name: string, change: EndpointChange): Promise<ApplyResult> {
    const l = this.listeners.get(name);
    if (!l) throw new DockstackError('E_PROXY', `updating listener ${name}: it was never applied`);
    const next = new Map(l.endpoints.map((e) => [addressOf(e), e]));
    for (const a of change.removed) next.delete(addressOf(a));
    for (const e of change.set) next.set(addressOf(e), e);
    this.calls.push(`update ${name} +${change.set.map(addressOf).join(',')} -${change.removed.map(addressOf).join(',')}`);
    return this.apply(name, l.spec, [...next.values()]);
  }

  async remove(name: string): Promise<void> {
    this.calls.push(`remove ${name}`);
    this.listeners.delete(name);
  }

  async status(name: string): Promise<readonly EndpointStatus[]> {
    return (this.listeners.get(name)?.endpoints ?? []).map((s) => ({
      address: addressOf(s),
      state: s.maintenance ? 'maintenance' : 'unchecked',
      weight: s.weight ?? 1,
    }));
  }

  async close(): Promise<void> {}
}
