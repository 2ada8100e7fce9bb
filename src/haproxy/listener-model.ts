/**
 * The listener model: what HaproxyProxy knows about each listener — wanted, running, and the
 * runtime state of its server slots. HaproxyProxy is its one owner and only writer; reload
 * planning reads it and returns a verdict that the owner commits.
 */
import { DockstackError } from '../errors.ts';
import { addressOf, canonicalIp } from '../net/address.ts';
import type { Endpoint, ListenerSpec } from '../proxy/proxy.ts';
import type { ListenerRender } from './config-render.ts';
import { checkArgs } from './config-render.ts';
import { indexSlots, keyOf, trim, type BackendShape, type Slot, type Slots, type WantServer } from './slot-plan.ts';

export interface ListenerState {
  /** Latest apply; undefined once removal was asked. */
  want?: { readonly spec: ListenerSpec; readonly servers: Map<string, WantServer> };
  /** The spec in the running config; undefined until a reload accepted the listener. */
  live?: { readonly spec: ListenerSpec };
  /** Slots the running config holds; the rest of `slots` are dynamic servers. */
  rendered: number;
  /** Runtime state of the running backend's servers; written only through setSlot/setSlots. */
  slots: (Slot | undefined)[];
  /** Slot index of each server by address, and the slots draining: kept with `slots`. */
  index: Map<string, number>;
  draining: Set<number>;
  /** The runtime state may differ from `slots` (a refused or unreadable answer): the next reload must run. */
  diverged?: boolean;
}

export type ListenerModel = Map<string, ListenerState>;

export const newListenerState = (): ListenerState => ({ rendered: 0, slots: [], index: new Map(), draining: new Set() });

/** Put `slot` (or nothing) in slot `i`, keeping the index and the drain set right. */
export function setSlot(st: ListenerState, i: number, slot: Slot | undefined): void {
  const old = st.slots[i];
  if (old && st.index.get(keyOf(old)) === i) st.index.delete(keyOf(old));
  while (st.slots.length < i) st.slots.push(undefined);
  st.slots[i] = slot;
  if (slot) st.index.set(keyOf(slot), i);
  if (slot?.admin === 'drain') st.draining.add(i);
  else st.draining.delete(i);
}

/** Replace every slot (after a reload), and drop trailing empty dynamic slots. */
export function setSlots(st: ListenerState, slots: Slots): void {
  st.slots = [...slots];
  st.index = indexSlots(slots);
  st.draining = new Set(slots.flatMap((s, i) => (s?.admin === 'drain' ? [i] : [])));
}

/** Drop trailing empty dynamic slots so the list ends at its last server (or at `rendered`). */
export function trimSlots(st: ListenerState): void {
  while (st.slots.length > st.rendered && st.slots[st.slots.length - 1] === undefined) st.slots.pop();
}

/** One endpoint as slot contents: a canonical IP literal and a checked weight and port. */
export function wantOne(name: string, e: Endpoint): WantServer {
  const ip = canonicalIp(e.host);
  if ('reason' in ip) throw new DockstackError('E_PROXY_INPUT', `applying ${name}: endpoint ${addressOf(e)}: ${ip.reason}`);
  const weight = e.weight ?? 1;
  if (!Number.isInteger(weight) || weight < 0 || weight > 256) throw new DockstackError('E_PROXY_INPUT', `applying ${name}: weight ${weight} of ${addressOf(e)} is not 0–256`);
  if (!Number.isInteger(e.port) || e.port < 1 || e.port > 65535) throw new DockstackError('E_PROXY_INPUT', `applying ${name}: port of ${addressOf(e)} is not 1–65535`);
  return { ip: ip.ip, port: e.port, weight, maint: e.maintenance === true };
}

/** Endpoints as slot contents by address, one per address. */
export function wantOf(name: string, endpoints: readonly Endpoint[]): Map<string, WantServer> {
  const out = new Map<string, WantServer>();
  for (const e of endpoints) {
    const w = wantOne(name, e);
    out.set(keyOf(w), w);
  }
  return out;
}

/** What a reload did: whether HAProxy was (re)started, what now runs, and which listeners were refused and why. */
export interface ReloadVerdict {
  readonly reloaded: boolean;
  readonly running: ReadonlyMap<string, ListenerRender>;
  readonly rejected: ReadonlyMap<string, DockstackError>;
}

/** How runtime commands address `name`'s backend as it runs; `lua`: the worker has `dockstack slot`. */
export function shapeOf(name: string, st: ListenerState, lua: boolean): BackendShape {
  return { backend: name, rendered: st.rendered, checkArgs: st.live ? checkArgs(st.live.spec.check) : '', lua };
}

/** What the running config of each live listener is (drains dropped, dynamic servers kept: for a restart). */
export function runningRenders(model: ListenerModel): Map<string, ListenerRender> {
  const out = new Map<string, ListenerRender>();
  for (const [name, st] of model)
    if (st.live) out.set(name, { name, spec: st.live.spec, slots: trim(st.slots.map((s) => (s?.admin === 'drain' ? undefined : s)), 0) });
  return out;
}

/** Make the model say what the verdict runs: accepted listeners get their rendered slots; removed ones go. */
export function commit(model: ListenerModel, verdict: ReloadVerdict): void {
  for (const [name, st] of model) {
    const r = verdict.running.get(name);
    if (r) {
      st.live = { spec: r.spec };
      setSlots(st, r.slots);
      st.rendered = r.slots.length;
      st.diverged = false;
    } else if (!st.want) model.delete(name);
  }
}
