/**
 * The write operations of the status API, held in the agent (not in the manifests): drain a
 * Service — deregister it now, then give existing connections `timeoutMs` before reporting it
 * Drained — and hold a Subscription backend in HAProxy maintenance. Both last until turned off
 * (or the object is deleted); the declarative equivalents are the manifests' spec.maintenance.
 */
import type { Agent } from '../agent.ts';
import { DockstackError } from '../errors.ts';
import { parseHostPort } from '../manifest/schema.ts';
import { keyOf, type ObjectKey } from '../object-key.ts';
import { addressOf } from '../registry/instance.ts';

/** What the status API reports about a drain. */
export interface DrainState {
  readonly object: ObjectKey;
  readonly draining: boolean;
  /** ISO time the drain timeout ends (existing connections' grace period). */
  readonly until?: string;
}

const notFound = (key: ObjectKey) => new DockstackError('E_NOT_FOUND', `${key.replace('/', ' "')}" not found`);

export class Operations {
  private readonly timers = new Map<ObjectKey, NodeJS.Timeout>();

  constructor(private readonly agent: Agent) {}

  /** Start (on) or end (off) the drain of Service `name`. Throws E_NOT_FOUND for an unknown Service. */
  drain(name: string, on: boolean, timeoutMs: number): DrainState {
    const key = keyOf('Service', name);
    if (this.agent.manifests.get(key)?.manifest.kind !== 'Service') throw notFound(key);
    const { status } = this.agent;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    this.agent.services.drain(key, on);
    if (!on) {
      status.patch(key, { details: { drain: null } });
      status.event(key, 'Normal', 'Undrained', 'drain ended: the instance registers again while healthy');
      return { object: key, draining: false };
    }
    const since = new Date();
    const until = new Date(since.getTime() + timeoutMs).toISOString();
    status.patch(key, { details: { drain: { since: since.toISOString(), until, done: false } } });
    status.event(key, 'Normal', 'Draining', `deregistering; existing connections have ${Math.round(timeoutMs / 1000)}s`);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      if (!this.agent.status.get(key)) return; // deleted meanwhile
      status.patch(key, { details: { drain: { since: since.toISOString(), until, done: true } } });
      status.event(key, 'Normal', 'Drained', 'drain timeout elapsed: the process can be stopped');
    }, timeoutMs);
    timer.unref();
    this.timers.set(key, timer);
    return { object: key, draining: true, until };
  }

  /** Hold `backend` ("host:port") of Subscription `name` in HAProxy maintenance, or release it. */
  maintenance(name: string, backend: string, on: boolean): { object: ObjectKey; backend: string; maintenance: boolean } {
    const key = keyOf('Subscription', name);
    if (this.agent.manifests.get(key)?.manifest.kind !== 'Subscription') throw notFound(key);
    const hp = parseHostPort(backend);
    if (!hp) throw new DockstackError('E_USAGE', `setting maintenance on ${key}: backend "${backend}" is not host:port`);
    const address = addressOf(hp);
    const current = this.agent.status.get(key)?.details.backends ?? [];
    if (on && !current.includes(address))
      throw new DockstackError('E_NOT_FOUND', `setting maintenance on ${key}: ${address} is not one of its backends (${current.join(', ') || 'none'})`);
    this.agent.subscriptions.setMaintenance(key, address, on);
    this.agent.status.event(key, 'Normal', on ? 'MaintenanceOn' : 'MaintenanceOff', `${address} ${on ? 'held in' : 'released from'} maintenance (status API)`);
    return { object: key, backend: address, maintenance: on };
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
