/**
 * Pure planning over a backend's server slots: which runtime-API commands turn the servers HAProxy
 * has into the wanted ones, and how slots are laid out when a reload is due anyway. Slots below
 * `rendered` are in the config (pre-allocated, reused with `set server addr`: the fast path);
 * slots past it are dynamic servers (`add server` / `del server`, HAProxy ≥ 2.4), so membership
 * never needs a reload however far it grows.
 */
import { addressOf } from '../net/address.ts';
import { serverArgs, slotCountFor, slotName, type SlotState } from './config-render.ts';
import { luaSlotOp } from './lua-slots.ts';

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
  /** The worker has `dockstack slot` (lua-slots.ts): one O(1) command per config slot edit. */
  readonly lua: boolean;
}

/** The runtime commands to send and the slots they produce. */
export interface RuntimePlan {
  readonly ops: readonly string[];
  readonly slots: Slots;
}

/** A backend's slots with the index of each server's slot by address ("ip:port"). */
export interface SlotView {
  readonly slots: Slots;
  readonly index: ReadonlyMap<string, number>;
}

/** The commands for some addresses, and the slot edits they make (slot index → new content). */
export interface ChangePlan {
  readonly ops: readonly string[];
  readonly edits: ReadonlyMap<number, Slot>;
}

export const keyOf = (s: { ip: string; port: number }): string => addressOf({ host: s.ip, port: s.port });
const admin = (w: WantServer): Slot['admin'] => (w.maint ? 'maint' : 'ready');

/** Commands that point slot `i` at `w` and open it (or hold it in maint). */
export function fillOps(b: BackendShape, i: number, w: SlotState): string[] {
  const sv = `${b.backend}/${slotName(i)}`;
  const opened = w.admin === 'drain' ? 'maint' : w.admin;
  if (b.lua && i < b.rendered) return [luaSlotOp(sv, { ...w, admin: opened, ...(b.checkArgs && { health: true }) })];
  const state = `set server ${sv} state ${opened}`;
  const health = b.checkArgs ? [`enable health ${sv}`] : [];
  // A dynamic server starts in maint with its checks off.
  if (i >= b.rendered) return [`add server ${sv} ${serverArgs(w, i)}${b.checkArgs}`, ...health, ...(w.admin === 'ready' ? [state] : [])];
  return [`set server ${sv} addr ${w.ip} port ${w.port}`, `set weight ${sv} ${w.weight}`, ...health, state];
}

/** Commands that close slot `i`: no traffic, no checks; a dynamic server is deleted (it must have no sessions left). */
export function freeOps(b: BackendShape, i: number): string[] {
  const sv = `${b.backend}/${slotName(i)}`;
  if (b.lua && i < b.rendered) return [luaSlotOp(sv, { admin: 'maint', ...(b.checkArgs && { health: false }) })];
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
 * Plan the runtime edits for the addresses in `changes` only (what each should now be; undefined:
 * gone), so the work is proportional to the change, not to the backend: a kept server gets
 * weight/state fixes, a removed one starts draining (until `now + drainMs`), a new one fills the
 * first free config slot, then a free dynamic slot, then a new dynamic slot at the end.
 */
export function planChanges(b: BackendShape, view: SlotView, changes: Iterable<readonly [string, WantServer | undefined]>, opts: { now: number; drainMs: number }): ChangePlan {
  const { slots, index } = view;
  const ops: string[] = [];
  const edits = new Map<number, Slot>();
  const added: WantServer[] = [];
  for (const [key, w] of changes) {
    const i = index.get(key);
    const s = i === undefined ? undefined : slots[i];
    if (i === undefined || !s) {
      if (w) added.push(w);
      continue;
    }
    const sv = `${b.backend}/${slotName(i)}`;
    const lua = b.lua && i < b.rendered;
    if (w) {
      if (s.weight === w.weight && s.admin === admin(w)) continue;
      if (lua) ops.push(luaSlotOp(sv, { weight: w.weight, admin: admin(w) }));
      else {
        if (s.weight !== w.weight) ops.push(`set weight ${sv} ${w.weight}`);
        if (s.admin !== admin(w)) ops.push(`set server ${sv} state ${admin(w)}`);
      }
      edits.set(i, { ip: s.ip, port: s.port, weight: w.weight, admin: admin(w) });
    } else if (s.admin !== 'drain') {
      ops.push(lua ? luaSlotOp(sv, { admin: 'drain' }) : `set server ${sv} state drain`);
      edits.set(i, { ...s, admin: 'drain', drainUntil: opts.now + opts.drainMs });
    }
  }
  let cursor = 0;
  for (const w of added) {
    while (cursor < slots.length && (slots[cursor] !== undefined || edits.has(cursor))) cursor++;
    const slot: Slot = { ip: w.ip, port: w.port, weight: w.weight, admin: admin(w) };
    ops.push(...fillOps(b, cursor, slot));
    edits.set(cursor++, slot);
  }
  return { ops, edits };
}

/** The index of `slots` by address. */
export function indexSlots(slots: Slots): Map<string, number> {
  const index = new Map<string, number>();
  slots.forEach((s, i) => s && index.set(keyOf(s), i));
  return index;
}

/** Plan from `slots` to exactly `want` (every slot is looked at): planChanges over the whole set. */
export function planRuntime(b: BackendShape, slots: Slots, want: Iterable<WantServer>, opts: { now: number; drainMs: number }): RuntimePlan {
  const index = indexSlots(slots);
  const remaining = new Map<string, WantServer>();
  for (const w of want) remaining.set(keyOf(w), w);
  const changes: [string, WantServer | undefined][] = [];
  for (const s of slots) if (s) changes.push([keyOf(s), remaining.get(keyOf(s))]);
  for (const [k, w] of remaining) if (!index.has(k)) changes.push([k, w]);
  const p = planChanges(b, { slots, index }, changes, opts);
  const next = [...slots];
  for (const [i, s] of p.edits) next[i] = s;
  return { ops: p.ops, slots: next };
}

/**
 * Slots for a freshly reloaded worker: kept servers stay in their slot (stable names), drains are
 * dropped (the new worker has no sessions to drain), new servers fill gaps, and the count grows to
 * slotCountFor(servers) — so dynamic servers become config slots.
 */
export function layoutForReload(slots: Slots, want: ReadonlyMap<string, WantServer> | readonly WantServer[], minSlots: number): (Slot | undefined)[] {
  const size = 'size' in want ? want.size : want.length;
  const count = Math.max(slotCountFor(size, minSlots), trim(slots.map((s) => (s?.admin === 'drain' ? undefined : s)), 0).length);
  const next: (Slot | undefined)[] = Array.from({ length: count }, () => undefined);
  const remaining = new Map('size' in want ? want : want.map((w) => [keyOf(w), w]));
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
