/**
 * One reload of the whole config from the listener model: render what is wanted, keep out each
 * listener that cannot work (an address taken by another listener or process, found by a
 * test-bind before HAProxy is touched; a config HAProxy's check refuses; a bind HAProxy's own
 * failed reload names), write atomically, reload (or start) HAProxy. It returns a verdict and
 * changes nothing in the model: one bad Subscription cannot block the others coalesced with it,
 * and a reload that would fail is not tried, since every failed reload pauses every listener.
 */
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DockstackError, HaproxyError, TerminalError } from '../errors.ts';
import { testBind } from '../net/test-bind.ts';
import { ListenerConflictError, listenKey } from '../proxy/listener-conflict.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import { FRONTEND_PREFIX, renderConfig, type GlobalRender, type ListenerRender, type SlotState } from './config-render.ts';
import type { HaproxyProcess } from './haproxy-process.ts';
import { runningRenders, type ListenerModel, type ReloadVerdict } from './listener-model.ts';
import { layoutForReload } from './slot-plan.ts';

/** What a reload needs besides the model. */
export interface ReloadContext {
  readonly dir: string;
  readonly proc: HaproxyProcess;
  readonly minSlots: number;
  readonly hardStopAfterMs: number | undefined;
  readonly runAs: { readonly uid: number; readonly gid: number } | undefined;
  readonly accessLog: GlobalRender['accessLog'];
  /** dockstack.lua is in `dir` (see GlobalRender). */
  readonly lua: boolean;
  /** Reload even when the bytes are unchanged (the running state is not known to match them). */
  readonly force: boolean;
  /** Addresses the running HAProxy listens on besides the model's (an adopted config's): ours, not taken. */
  readonly held: ReadonlySet<string>;
  event(type: string, message: string): void;
}

let trials = 0;

/**
 * The slots a check needs: the first empty one and the first of each kind of server line (address
 * family, admin state, weight). Every other line differs only in values the renderer refuses
 * unless HAProxy takes them (IP literals without a zone, ports 1-65535, ids), and 10,240 lines
 * cost `haproxy -c` ~90 ms of CPU.
 */
export function checkSample(slots: readonly (SlotState | undefined)[]): (SlotState | undefined)[] {
  const seen = new Set<string>();
  const out: (SlotState | undefined)[] = [];
  for (const s of slots) {
    const kind = s ? `${s.ip.includes(':') ? 6 : 4} ${s.admin === 'ready'} ${s.weight}` : 'empty';
    if (!seen.has(kind)) seen.add(kind), out.push(s);
  }
  return out;
}

/**
 * Render `chosen` and have HAProxy check it (each listener's server lines sampled); resolves the
 * whole text, throws HaproxyError otherwise (also for a value the renderer refuses).
 */
async function check(ctx: ReloadContext, chosen: ReadonlyMap<string, ListenerRender>): Promise<string> {
  const g = { dir: ctx.dir, hardStopAfterMs: ctx.hardStopAfterMs, runAs: ctx.runAs, accessLog: ctx.accessLog, lua: ctx.lua };
  const text = renderConfig(g, [...chosen.values()]);
  const checked = renderConfig(g, [...chosen.values()].map((r) => ({ ...r, slots: checkSample(r.slots) })));
  const tmp = join(ctx.dir, `.check-${process.pid}-${++trials}.cfg`);
  try {
    await writeFile(tmp, checked, { mode: 0o600 });
  } catch (err) {
    // Not a verdict on the config (disk full, read-only): no listener is to blame.
    throw new DockstackError('E_HAPROXY_STATE', `writing a config to check in ${ctx.dir}: ${(err as Error).message}`, { cause: err });
  }
  try {
    await ctx.proc.validate(tmp);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return text;
}

/** Why listener `name` cannot have its wanted address, or undefined. Only addresses no running listener of ours holds are test-bound. */
async function listenConflict(ctx: ReloadContext, name: string, r: ListenerRender, running: ReadonlyMap<string, ListenerRender>, chosen: ReadonlyMap<string, ListenerRender>): Promise<DockstackError | undefined> {
  const key = listenKey(r.spec.listen);
  for (const [other, o] of chosen) if (other !== name && listenKey(o.spec.listen) === key) return new ListenerConflictError(name, r.spec.listen, `listener ${other}`);
  if (ctx.held.has(key) || [...running.values()].some((o) => listenKey(o.spec.listen) === key)) return undefined;
  const code = await testBind(r.spec.listen.host, r.spec.listen.port);
  if (code === undefined) return undefined;
  return new ListenerConflictError(name, r.spec.listen, code === 'EADDRINUSE' ? 'another process' : `nothing: binding failed with ${code}`);
}

/** The listener a failed start/reload names ("Starting frontend _fe_web: cannot bind socket …", "… for proxy 'web' …"). */
export function blamedListener(output: string, names: Iterable<string>): string | undefined {
  for (const n of names) if (new RegExp(`(?:proxy|frontend|backend|for) '?(?:${FRONTEND_PREFIX})?${n.replace(/[.]/g, '\\.')}'?[: ]`).test(output)) return n;
  return undefined;
}

/**
 * Converge HAProxy to the model: start the master when it is not running, else reload it. Resolves
 * `reloaded: false` when the bytes did not change and the reload was not forced.
 */
export async function renderAndReload(ctx: ReloadContext, model: ListenerModel): Promise<ReloadVerdict> {
  const running = runningRenders(model);
  const rejected = new Map<string, DockstackError>();
  const proposed = new Map<string, ListenerRender>();
  for (const [name, st] of model) if (st.want) proposed.set(name, { name, spec: st.want.spec, slots: layoutForReload(st.slots, st.want.servers, ctx.minSlots) });
  const changed = [...model.keys()].filter((n) => JSON.stringify(proposed.get(n)) !== JSON.stringify(running.get(n)));

  // Make-before-break per listener: start from what runs, add each change that works on its own.
  let chosen = new Map(running);
  for (const n of changed) {
    const p = proposed.get(n);
    if (!p) chosen.delete(n);
    else {
      const moved = !running.has(n) || listenKey(running.get(n)!.spec.listen) !== listenKey(p.spec.listen);
      const conflict = moved ? await listenConflict(ctx, n, p, running, new Map([...chosen].filter(([o]) => o !== n))) : undefined;
      if (conflict) rejected.set(n, conflict);
      else chosen.set(n, p);
    }
  }
  let text: string;
  try {
    text = await check(ctx, chosen);
  } catch (err) {
    if (!(err instanceof HaproxyError)) throw err;
    const ok = new Map(running);
    for (const n of changed.filter((c) => !rejected.has(c))) {
      const trial = new Map(ok);
      if (chosen.has(n)) trial.set(n, chosen.get(n)!);
      else trial.delete(n);
      try {
        await check(ctx, trial);
        ok.clear();
        for (const [k, v] of trial) ok.set(k, v);
      } catch (e) {
        // HAProxy refuses this listener's config on its own: the same spec will be refused again.
        const refused = e instanceof HaproxyError ? new TerminalError(e.message, { cause: e, hint: 'change the Subscription spec' }) : undefined;
        rejected.set(n, refused ?? (e instanceof DockstackError ? e : new HaproxyError(`rendering listener ${n}`, { cause: e })));
      }
    }
    chosen = ok;
    text = await check(ctx, chosen).catch((e: unknown) => {
      throw new HaproxyError('validating the last good listeners', { output: (e as HaproxyError).output ?? '', cause: err });
    });
  }
  for (const [n, e] of rejected) ctx.event('listener-rejected', `HAProxy cannot take listener ${n}: ${e.message}`);

  const previous = await readFile(ctx.proc.configPath, 'utf8').catch(() => undefined);
  const wrote = await writeFileAtomic(ctx.proc.configPath, text);
  if (!wrote && !ctx.force && ctx.proc.pid !== undefined) return { reloaded: false, running: chosen, rejected };
  try {
    if (ctx.proc.pid === undefined) await ctx.proc.start();
    else await ctx.proc.reload();
  } catch (err) {
    if (previous !== undefined) await writeFileAtomic(ctx.proc.configPath, previous).catch(() => undefined);
    const e = err instanceof HaproxyError ? err : new HaproxyError('reloading HAProxy', { cause: err });
    const blamed = blamedListener(e.output, changed.filter((n) => chosen.has(n)));
    if (blamed === undefined) throw e;
    // HAProxy named the listener that broke it: the others go ahead without it.
    rejected.set(blamed, new ListenerConflictError(blamed, chosen.get(blamed)!.spec.listen, 'another process (HAProxy could not bind it)', e));
    ctx.event('listener-rejected', `HAProxy could not start listener ${blamed}: ${e.output.trim().split('\n').slice(-3).join(' | ')}`);
    const fallback = new Map(chosen);
    if (running.has(blamed)) fallback.set(blamed, running.get(blamed)!);
    else fallback.delete(blamed);
    const retry = await check(ctx, fallback);
    await writeFileAtomic(ctx.proc.configPath, retry);
    if (ctx.proc.pid === undefined) await ctx.proc.start();
    else await ctx.proc.reload();
    return { reloaded: true, running: fallback, rejected };
  }
  return { reloaded: true, running: chosen, rejected };
}
