/**
 * Pure planning over pre-allocated server slots: which runtime-API commands turn the slots HAProxy
 * has into the wanted servers, and how slots are laid out (and grown) when a reload is due anyway.
 */
import { addressOf } from '../registry/instance.ts';
import { slotCountFor, slotName, type SlotState } from './config-render.ts';

/** A server to route to, its host already resolved to an IP literal. */
export interface WantServer {
  readonly ip: string;
  readonly port: number;
  readonly weight: number;
  readonly maint: boolean;
}

/** A slot's runtime state; a draining slot carries the time its drain is cut short. */
export interface Slot extends SlotState {
  readonly drainUntil?: number;
}

/** The runtime commands to send and the slots they produce. */
export interface RuntimePlan {
  readonly ops: readonly string[];
  readonly slots: readonly (Slot | undefined)[];
}

export const keyOf = (s: { ip: string; port: number }): string => addressOf({ host: s.ip, port: s.port });

/** Commands that point slot `i` of `backend` at `w` and open it (or hold it in maint). */
export function fillOps(backend: string, i: number, w: SlotState, checks: boolean): string[] {
  const sv = `${backend}/${slotName(i)}`;
  return [
    `set server ${sv} addr ${w.ip} port ${w.port}`,
    `set weight ${sv} ${w.weight}`,
    ...(checks ? [`enable health ${sv}`] : []),
    `set server ${sv} state ${w.admin === 'drain' ? 'maint' : w.admin}`,
  ];
}

/** Commands that close slot `i`: no traffic, no checks. */
export function freeOps(backend: string, i: number, checks: boolean): string[] {
  const sv = `${backend}/${slotName(i)}`;
  return [`set server ${sv} state maint`, ...(checks ? [`disable health ${sv}`] : [])];
}

/**
 * Plan the runtime edits from `slots` to `want`: kept servers get weight/state fixes, removed ones
 * start draining (until `now + drainMs`), new ones fill empty slots. Undefined when they do not fit.
 */
export function planRuntime(
  backend: string,
  slots: readonly (Slot | undefined)[],
  want: readonly WantServer[],
  opts: { now: number; drainMs: number; checks: boolean },
): RuntimePlan | undefined {
  const next = [...slots];
  const ops: string[] = [];
  const remaining = new Map(want.map((w) => [keyOf(w), w]));
  next.forEach((s, i) => {
    if (!s) return;
    const sv = `${backend}/${slotName(i)}`;
    const w = remaining.get(keyOf(s));
    if (w) {
      remaining.delete(keyOf(s));
      const admin = w.maint ? 'maint' : 'ready';
      if (s.weight !== w.weight) ops.push(`set weight ${sv} ${w.weight}`);
      if (s.admin !== admin) ops.push(`set server ${sv} state ${admin}`);
      next[i] = { ip: s.ip, port: s.port, weight: w.weight, admin };
    } else if (s.admin !== 'drain') {
      ops.push(`set server ${sv} state drain`);
      next[i] = { ...s, admin: 'drain', drainUntil: opts.now + opts.drainMs };
    }
  });
  const free = next.flatMap((s, i) => (s ? [] : [i]));
  if (remaining.size > free.length) return undefined;
  for (const w of remaining.values()) {
    const i = free.shift()!;
    const slot: Slot = { ip: w.ip, port: w.port, weight: w.weight, admin: w.maint ? 'maint' : 'ready' };
    ops.push(...fillOps(backend, i, slot, opts.checks));
    next[i] = slot;
  }
  return { ops, slots: next };
}

/**
 * Slots for a freshly reloaded worker: kept servers stay in their slot (stable names), drains are
 * dropped (the new worker has no sessions to drain), new servers fill gaps, and the count grows to
 * max(minSlots, next power of two ≥ servers) — it never shrinks.
 */
export function layoutForReload(slots: readonly (Slot | undefined)[], want: readonly WantServer[], minSlots: number): (Slot | undefined)[] {
  const count = Math.max(slots.length, slotCountFor(want.length, minSlots));
  const next: (Slot | undefined)[] = Array.from({ length: count }, () => undefined);
  const remaining = new Map(want.map((w) => [keyOf(w), w]));
  slots.forEach((s, i) => {
    const w = s && remaining.get(keyOf(s));
    if (!w) return;
    remaining.delete(keyOf(w));
    next[i] = { ip: w.ip, port: w.port, weight: w.weight, admin: w.maint ? 'maint' : 'ready' };
  });
  let i = 0;
  for (const w of remaining.values()) {
    while (next[i]) i++;
    next[i] = { ip: w.ip, port: w.port, weight: w.weight, admin: w.maint ? 'maint' : 'ready' };
  }
  return next;
}
