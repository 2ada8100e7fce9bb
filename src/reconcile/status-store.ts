/**
 * Observed status of every object, Kubernetes-style: observedGeneration, conditions with
 * reason/message/lastTransitionTime, lastError, controller-specific details, and a bounded
 * ring of recent events per object. Subscribers (status API `-w`) hear every change.
 */
import type { ObjectKey } from '../object-key.ts';
import type { AnyDetails, DetailsOf } from './object-details.ts';
import { ordinal } from '../ordinal.ts';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
}

export interface ObjectStatus<D = AnyDetails> {
  observedGeneration?: number;
  conditions: Condition[];
  lastError?: string;
  /** Observed facts of the object's kind (registered key, checks, backends…): object-details.ts. */
  details: D;
}

export interface StatusEvent {
  readonly time: string;
  readonly object: ObjectKey;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

const MAX_EVENTS_PER_OBJECT = 50;
/** Deleted objects whose events are kept for `describe`; the longest-deleted are freed first. */
export const MAX_DELETED_WITH_EVENTS = 256;

export class StatusStore {
  private readonly statuses = new Map<ObjectKey, ObjectStatus>();
  private readonly eventLog = new Map<ObjectKey, StatusEvent[]>();
  private readonly listeners = new Set<(key: ObjectKey) => void>();
  private readonly eventListeners = new Set<(e: StatusEvent) => void>();
  /** Keys with events but no status, oldest first (a Map keeps insertion order). */
  private readonly gone = new Map<ObjectKey, true>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  get<K extends ObjectKey>(key: K): Readonly<ObjectStatus<DetailsOf<K>>> | undefined {
    return this.statuses.get(key) as ObjectStatus<DetailsOf<K>> | undefined;
  }

  keys(): ObjectKey[] {
    return [...this.statuses.keys()].sort();
  }

  /** Set a condition; lastTransitionTime moves only when its status changes. */
  setCondition(key: ObjectKey, type: string, status: ConditionStatus, reason: string, message = ''): void {
    const s = this.ensure(key);
    const prev = s.conditions.find((c) => c.type === type);
    if (prev && prev.status === status && prev.reason === reason && prev.message === message) return;
    const cond: Condition = {
      type,
      status,
      reason,
      message,
      lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : this.now().toISOString(),
    };
    s.conditions = prev ? s.conditions.map((c) => (c.type === type ? cond : c)) : [...s.conditions, cond];
    this.changed(key);
  }

  condition(key: ObjectKey, type: string): Condition | undefined {
    return this.statuses.get(key)?.conditions.find((c) => c.type === type);
  }

  /** Merge fields into the status (details are replaced key by key). */
  patch<K extends ObjectKey>(key: K, patch: Partial<Omit<ObjectStatus, 'conditions' | 'details'>> & { details?: DetailsOf<K> }): void {
    const s = this.ensure(key);
    const { details, ...rest } = patch;
    Object.assign(s, rest);
    if ('lastError' in patch && patch.lastError === undefined) delete s.lastError;
    if (details) s.details = { ...s.details, ...details };
    this.changed(key);
  }

  /** Record an event; an identical repeat of the last event for the object is folded into it. */
  event(key: ObjectKey, type: StatusEvent['type'], reason: string, message: string): void {
    const list = this.eventLog.get(key) ?? [];
    this.eventLog.set(key, list);
    const last = list.at(-1);
    if (last && last.reason === reason && last.message === message) return;
    const e: StatusEvent = { time: this.now().toISOString(), object: key, type, reason, message };
    list.push(e);
    if (list.length > MAX_EVENTS_PER_OBJECT) list.splice(0, list.length - MAX_EVENTS_PER_OBJECT);
    if (!this.statuses.has(key)) this.forgetLater(key);
    for (const l of this.eventListeners) l(e);
  }

  events(key?: ObjectKey): readonly StatusEvent[] {
    if (key !== undefined) return this.eventLog.get(key) ?? [];
    return [...this.eventLog.values()].flat().sort((a, b) => ordinal(a.time, b.time));
  }

  /** Forget an object (it was deleted); its events are kept (bounded) so `describe` can still explain. */
  delete(key: ObjectKey): void {
    if (!this.statuses.delete(key)) return;
    if (this.eventLog.has(key)) this.forgetLater(key);
    this.changed(key);
  }

  private forgetLater(key: ObjectKey): void {
    this.gone.delete(key);
    this.gone.set(key, true);
    for (const k of this.gone.keys()) {
      if (this.gone.size <= MAX_DELETED_WITH_EVENTS) break;
      this.gone.delete(k);
      this.eventLog.delete(k);
    }
  }

  subscribe(onChange: (key: ObjectKey) => void): () => void {
    this.listeners.add(onChange);
    return () => this.listeners.delete(onChange);
  }

  onEvent(cb: (e: StatusEvent) => void): () => void {
    this.eventListeners.add(cb);
    return () => this.eventListeners.delete(cb);
  }

  private ensure(key: ObjectKey): ObjectStatus {
    let s = this.statuses.get(key);
    if (!s) {
      s = { conditions: [], details: {} };
      this.statuses.set(key, s);
      this.gone.delete(key);
    }
    return s;
  }

  private changed(key: ObjectKey): void {
    for (const l of this.listeners) l(key);
  }
}
