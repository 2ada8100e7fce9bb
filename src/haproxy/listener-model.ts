/**
 * The listener model: what HaproxyProxy knows about each listener — wanted, running, and the
 * runtime state of its server slots. HaproxyProxy is its one owner and only writer; reload
 * planning reads it and returns a verdict that the owner commits.
 */
import type { DockstackError } from '../errors.ts';
import type { ListenerSpec } from '../proxy/proxy.ts';
import type { ListenerRender } from './config-render.ts';
import { checkArgs } from './config-render.ts';
import { fillOps, freeOps, trim, type BackendShape, type Slot, type WantServer } from './slot-plan.ts';

export interface ListenerState {
  /** Latest apply; undefined once removal was asked. */
  want?: { readonly spec: ListenerSpec; readonly servers: readonly WantServer[] };
  /** The spec in the running config; undefined until a reload accepted the listener. */
  live?: { readonly spec: ListenerSpec };
  /** Slots the running config holds; the rest of `slots` are dynamic servers. */
  rendered: number;
  /** Runtime state of the running backend's servers. */
  slots: (Slot | undefined)[];
  /** The runtime state may differ from `slots` (a refused or unreadable answer): the next reload must run. */
  diverged?: boolean;
}

export type ListenerModel = Map<string, ListenerState>;

/** What a reload did: whether HAProxy was (re)started, what now runs, and which listeners were refused and why. */
export interface ReloadVerdict {
  readonly reloaded: boolean;
  readonly running: ReadonlyMap<string, ListenerRender>;
  readonly rejected: ReadonlyMap<string, DockstackError>;
}

/** How runtime commands address `name`'s backend as it runs. */
export function shapeOf(name: string, st: ListenerState): BackendShape {
  return { backend: name, rendered: st.rendered, checkArgs: st.live ? checkArgs(st.live.spec.check) : '' };
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
      st.slots = [...r.slots];
      st.rendered = r.slots.length;
      st.diverged = false;
    } else if (!st.want) model.delete(name);
  }
}

/** Commands that make HAProxy's runtime state of `name` equal the model (after adopting a process). */
export function fullSyncOps(name: string, st: ListenerState): string[] {
  const b = shapeOf(name, st);
  return st.slots.flatMap((s, i) => (s ? fillOps(b, i, s) : i < st.rendered ? freeOps(b, i) : []));
}
