/**
 * Pure planning over a backend's server slots: which runtime-API commands turn the servers HAProxy
 * has into the wanted ones, and how slots are laid out when a reload is due anyway. Slots below
 * `rendered` are in the config (pre-allocated, reused with `set server addr`: the fast path);
 * slots past it are dynamic servers (`add server` / `del server`, HAProxy ≥ 2.4), so membership
 * never needs a reload however far it grows.
 */
import { addressOf } from '../net/address.ts';
import { serverArgs, slotCountFor, slotName, type SlotState } from './config-render.ts';

/** A server to route to, its host already an IP literal in canonical form. */
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

export type Slots = readonly (Slot | undefined)[];

/** How a backend's servers are addressed: its name, how many slots its config holds, its check arguments. */
export interface BackendShape {
  readonly backend: string;
  readonly rendered: number;
  /** " check inter … rise … fall …", or "" without checks. */
  readonly checkArgs: string;
}

/** The runtime commands to send, the slots they produce, and the addresses they touched. */
export interface RuntimePlan {
  readonly ops: readonly string[];
  readonly slots: Slots;
}

export const keyOf = (s: { ip: string; port: number }): string => addressOf({ host: s.ip, port: s.port });
const admin = (w: WantServer): Slot['admin'] => (w.maint ? 'maint' : 'ready');

/** Commands that point slot `i` at `w` and open it (or hold it in maint). */
export function fillOps(b: BackendShape, i: number, w: SlotState): string[] {
  const sv = `${b.backend}/${slotName(i)}`;
  const state = `set server ${sv} state ${w.admin === 'drain' ? 'maint' : w.admin}`;
  const health = b.checkArgs ? [`enable health ${sv}`] : [];
  // A dynamic server starts in maint with its checks off.
  if (i >= b.rendered) return [`add server ${sv} ${serverArgs(w, i)}${b.checkArgs}`, ...health, ...(w.admin === 'ready' ? [state] : [])];
  return [`set server ${sv} addr ${w.ip} port ${w.port}`, `set weight ${sv} ${w.weight}`, ...health, state];
}

/** Commands that close slot `i`: no traffic, no checks; a dynamic server is deleted (it must have no sessions left). */
export function freeOps(b: BackendShape, i: number): string[] {
  const sv = `${b.backend}/${slotName(i)}`;
  const off = [`set server ${sv} state maint`, ...(b.checkArgs ? [`disable health ${sv}`] : [])];
  return i >= b.rendered ? [...off, `del server ${sv}`] : off;
}

/** Drop trailing empty dynamic slots so the list ends at its last server (or at `rendered`). */
export function trim(slots: Slots, rendered: number): (Slot | undefined)[] {
  let n = slots.length;
  while (n > rendered && slots[n - 1] === undefined) n--;
  return slots.slice(0, n);
}

/**
 * Plan the runtime edits from `slots` to `want`: kept servers get weight/state fixes, removed ones
 * start draining (until `now + drainMs`), new ones fill free config slots first, then free dynamic
 * slots, then new dynamic slots at the end. Only changed servers get commands.
 */
export function planRuntime(b: BackendShape, slots: Slots, want: readonly WantServer[], opts: { now: number; drainMs: number }): RuntimePlan {
  const next = [...slots];
  const ops: string[] = [];
  const remaining = new Map(want.map((w) => [keyOf(w), w]));
  next.forEach((s, i) => {
    if (!s) return;
    const sv = `${b.backend}/${slotName(i)}`;
    const w = remaining.get(keyOf(s));
    if (w) {
      remaining.delete(keyOf(s));
      if (s.weight !== w.weight) ops.push(`set weight ${sv} ${w.weight}`);
      if (s.admin !== admin(w)) ops.push(`set server ${sv} state ${admin(w)}`);
      if (s.weight !== w.weight || s.admin !== admin(w)) next[i] = { ip: s.ip, port: s.port, weight: w.weight, admin: admin(w) };
    } else if (s.admin !== 'drain') {
      ops.push(`set server ${sv} state drain`);
      next[i] = { ...s, admin: 'drain', drainUntil: opts.now + opts.drainMs };
    }
  });
  const free = next.flatMap((s, i) => (s ? [] : [i]));
  for (const w of remaining.values()) {
    const i = free.shift() ?? next.length;
    const slot: Slot = { ip: w.ip, port: w.port, weight: w.weight, admin: admin(w) };
    ops.push(...fillOps(b, i, slot));
    next[i] = slot;
  }
  return { ops, slots: next };
}

/**
 * Slots for a freshly reloaded worker: kept servers stay in their slot (stable names), drains are
 * dropped (the new worker has no sessions to drain), new servers fill gaps, and the count grows to
 * max(minSlots, next power of two ≥ servers) — so dynamic servers become config slots.
 */
export function layoutForReload(slots: Slots, want: readonly WantServer[], minSlots: number): (Slot | undefined)[] {
  const count = Math.max(slotCountFor(want.length, minSlots), trim(slots.map((s) => (s?.admin === 'drain' ? undefined : s)), 0).length);
  const next: (Slot | undefined)[] = Array.from({ length: count }, () => undefined);
  const remaining = new Map(want.map((w) => [keyOf(w), w]));
  slots.forEach((s, i) => {
    const w = s && remaining.get(keyOf(s));
    if (!w || i >= count) return;
    remaining.delete(keyOf(w));
    next[i] = { ip: w.ip, port: w.port, weight: w.weight, admin: admin(w) };
  });
  let i = 0;
  for (const w of remaining.values()) {
    while (next[i]) i++;
    next[i] = { ip: w.ip, port: w.port, weight: w.weight, admin: admin(w) };
  }
  return next;
}
