/**
 * One reload of the whole config from the listener model: render what is wanted, validate it,
 * write it atomically, reload (or start) HAProxy and commit the model. A listener whose change
 * HAProxy rejects is isolated — it keeps its last good form and carries the error — so one bad
 * subscription cannot block the others coalesced into the same reload.
 */
import { unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HaproxyError } from '../errors.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { renderConfig, type ListenerRender } from './config-render.ts';
import type { HaproxyProcess } from './haproxy-process.ts';
import type { SubscriptionSpec } from './proxy-backend.ts';
import { fillOps, freeOps, layoutForReload, type Slot, type WantServer } from './slot-plan.ts';

/** What the proxy knows about one listener: wanted, in the running config, and its slots. */
export interface ListenerState {
  /** Latest apply; undefined once removal was asked. */
  want?: { readonly spec: SubscriptionSpec; readonly servers: readonly WantServer[] };
  /** The spec in the running config; undefined until a reload accepted the listener. */
  live?: { readonly spec: SubscriptionSpec };
  /** Runtime state of the slots of the running backend. */
  slots: (Slot | undefined)[];
  /** Why the last reload did not accept `want`. */
  error?: HaproxyError | undefined;
}

/** What renderAndReload needs from the proxy. */
export interface ReloadContext {
  readonly dir: string;
  readonly proc: HaproxyProcess;
  readonly minSlots: number;
  readonly hardStopAfterMs: number | undefined;
  lastGood(): string;
  setLastGood(text: string): void;
  event(type: string, message: string): void;
}

let trials = 0;

/** Render `chosen` and have HAProxy check it; resolves the text, throws HaproxyError otherwise. */
async function check(ctx: ReloadContext, chosen: ReadonlyMap<string, ListenerRender>): Promise<string> {
  const text = renderConfig({ dir: ctx.dir, hardStopAfterMs: ctx.hardStopAfterMs }, [...chosen.values()]);
  const tmp = join(ctx.dir, `.check-${process.pid}-${++trials}.cfg`);
  await writeFile(tmp, text, { mode: 0o600 });
  try {
    await ctx.proc.validate(tmp);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return text;
}

/**
 * Converge HAProxy to the model: `start` starts the master, `reload` reloads it (or starts it when
 * it is not running). Resolves false when the config bytes did not change, so nothing was done.
 */
export async function renderAndReload(ctx: ReloadContext, listeners: Map<string, ListenerState>, mode: 'start' | 'reload'): Promise<boolean> {
  const fallback = new Map<string, ListenerRender>();
  const proposed = new Map<string, ListenerRender>();
  for (const [name, st] of listeners) {
    if (st.live) fallback.set(name, { name, spec: st.live.spec, slots: st.slots.map((s) => (s?.admin === 'drain' ? undefined : s)) });
    if (st.want) proposed.set(name, { name, spec: st.want.spec, slots: layoutForReload(st.slots, st.want.servers, ctx.minSlots) });
  }
  const changed = [...listeners.keys()].filter((n) => JSON.stringify(proposed.get(n)) !== JSON.stringify(fallback.get(n)));
  let chosen = proposed;
  let text: string;
  try {
    text = await check(ctx, chosen);
  } catch (err) {
    // Not a verdict on the config (the check file could not be written: disk full, read-only): no
    // listener is to blame, and the status must say what happened.
    if (!(err instanceof HaproxyError)) throw new HaproxyError(`writing a config to check in ${ctx.dir}: ${(err as Error).message}`, '', err);
    // Isolate: start from the running form and add each change that HAProxy accepts on its own.
    chosen = new Map(fallback);
    for (const n of changed) {
      const p = proposed.get(n);
      if (!p) {
        chosen.delete(n);
        continue;
      }
      const trial = new Map(chosen).set(n, p);
      try {
        await check(ctx, trial);
        chosen = trial;
      } catch (e) {
        const st = listeners.get(n)!;
        st.error = e instanceof HaproxyError ? e : new HaproxyError(`rendering listener ${n}`, '', e);
        ctx.event('reload-rejected', `HAProxy rejected listener ${n}: ${st.error.message}`);
      }
    }
    text = await check(ctx, chosen).catch((e: unknown) => {
      throw new HaproxyError('validating the last good listeners', (e as HaproxyError).output ?? '', err);
    });
  }
  const wrote = await writeFileAtomic(ctx.proc.configPath, text);
  if (!wrote && mode === 'reload' && ctx.proc.pid !== undefined) {
    commit(listeners, chosen);
    return false;
  }
  try {
    if (mode === 'start' || ctx.proc.pid === undefined) await ctx.proc.start();
    else await ctx.proc.reload();
  } catch (err) {
    const good = ctx.lastGood();
    if (good) await writeFileAtomic(ctx.proc.configPath, good).catch(() => undefined);
    const e = err instanceof HaproxyError ? err : new HaproxyError('reloading HAProxy', '', err);
    for (const n of changed) {
      const st = listeners.get(n);
      if (st) st.error = e;
    }
    throw e;
  }
  ctx.setLastGood(text);
  commit(listeners, chosen);
  return true;
}

function commit(listeners: Map<string, ListenerState>, chosen: ReadonlyMap<string, ListenerRender>): void {
  for (const [name, st] of listeners) {
    const r = chosen.get(name);
    if (r) {
      st.live = { spec: r.spec };
      st.slots = [...r.slots];
    } else if (!st.want) listeners.delete(name);
  }
}

/** Commands that make HAProxy's runtime state of listener `name` equal the model (after a restart). */
export function fullSyncOps(name: string, st: ListenerState): string[] {
  const checks = st.live?.spec.check.type !== 'none';
  return st.slots.flatMap((s, i) => (s ? fillOps(name, i, s, checks) : freeOps(name, i, checks)));
}
