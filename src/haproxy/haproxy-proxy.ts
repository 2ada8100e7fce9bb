/**
 * The HAProxy implementation of Proxy. Membership changes (add, remove, weight, maintenance) are
 * runtime-API edits: pre-allocated config slots first, dynamic servers past them, so no size of
 * membership needs a reload. A reload happens only when a listener is added, removed or
 * respecified (or the runtime state can no longer be trusted) — coalesced, rate-limited, and
 * always rendering the current membership so a fresh worker starts right.
 */
import { readFile } from 'node:fs/promises';
import { HaproxyError } from '../errors.ts';
import { NAME_RE } from '../manifest/schema.ts';
import { addressOf } from '../net/address.ts';
import type { ApplyResult, Endpoint, EndpointChange, EndpointStatus, ListenerSpec, Proxy, ReloadReason, SocketAddress } from '../proxy/proxy.ts';
import { configKey, renderConfig, slotName, type GlobalRender } from './config-render.ts';
import { secureStateDir } from './state-dir.ts';
import { DrainTracker, finishDrains } from './drain-tracker.ts';
import { HaproxyProcess } from './haproxy-process.ts';
import { commit, newListenerState, runningRenders, setSlot, shapeOf, trimSlots, wantOf, wantOne, type ListenerModel, type ListenerState } from './listener-model.ts';
import { ReloadManager, type ReloadOutcome, type RunResult } from './reload-manager.ts';
import { renderAndReload } from './render-and-reload.ts';
import { hasLuaSlots, LUA_FILE, writeLuaSlots } from './lua-slots.ts';
import { liveFields, runAdminBatch, sendCommand, serverStats } from './runtime-api.ts';
import { parseServersState, repairFromState } from './runtime-repair.ts';
import { keyOf, planChanges, type WantServer } from './slot-plan.ts';
import { StatsGuard } from './stats-guard.ts';
import { Supervisor } from './supervisor.ts';
import { writeFileAtomic } from '../atomic-write.ts';
import { throwIfAborted, within } from '../within.ts';

export interface HaproxyProxyOptions {
  /** State directory for haproxy.cfg, sockets, pid and log. */
  readonly dir: string;
  /** Default "haproxy". */
  readonly haproxyBin?: string;
  /** 'runtime' (default): the runtime API, config slots through dockstack.lua when HAProxy has Lua
   *  and the file could be written (else native commands, with a 'lua-unavailable' event);
   *  'native': HAProxy's own commands only; 'reload': re-render and reload on every change (baseline). */
  readonly updates?: 'runtime' | 'native' | 'reload';
  /** Minimum server slots per backend. Default 8. */
  readonly minSlots?: number;
  /** A removed server drains at most this long before its slot is freed. Default 30 s. */
  readonly drainTimeoutMs?: number;
  readonly reloadDebounceMs?: number;
  readonly minReloadIntervalMs?: number;
  readonly hardStopAfterMs?: number;
  /** Workers drop to this uid/gid after binding (see run-as.ts). */
  readonly runAs?: { readonly uid: number; readonly gid: number } | undefined;
  /** Access-log datagrams' target and the default for listeners whose spec does not say (none: no access logs). */
  readonly accessLog?: GlobalRender['accessLog'];
  readonly onReload?: (reasons: readonly ReloadReason[]) => void;
  readonly onEvent?: (e: { type: string; message: string }) => void;
}

const STATE: Record<string, EndpointStatus['state']> = { UP: 'up', DOWN: 'down', 'no check': 'unchecked', MAINT: 'maintenance', DRAIN: 'draining', NOLB: 'draining' };

/** What an apply does: runtime edits (done), or a reload to wait for. */
type Step = { readonly ops: number } | { readonly reason: ReloadReason; readonly done: Promise<ReloadOutcome> };

/** Proxy driving one local HAProxy (master-worker) under `opts.dir`. */
export class HaproxyProxy implements Proxy {
  private readonly model: ListenerModel = new Map();
  private readonly proc: HaproxyProcess;
  private readonly reloads: ReloadManager;
  private readonly supervisor: Supervisor;
  private readonly drains: DrainTracker;
  private readonly stats = new StatsGuard();
  private chain: Promise<unknown> = Promise.resolve();
  /** The running worker was not started from the model (adopted): the next reload must run. */
  private untrusted = false;
  /** Addresses an adopted config binds: held by our own HAProxy until the first reload. */
  private adoptedBinds = new Set<string>();
  /** Each backend's in-rotation servers when HAProxy was adopted, until its listener is applied. */
  private adoptedServers = new Map<string, SocketAddress[]>();
  private closed = false;
  /** The running worker has `dockstack slot` (lua-slots.ts); asked after every start and reload. */
  private lua = false;
  /** dockstack.lua is in the state dir, so the config lua-loads it; false: native commands only. */
  private luaFile = false;

  constructor(private readonly opts: HaproxyProxyOptions) {
    this.supervisor = new Supervisor({ restart: () => this.restart(), event: (t, m) => this.event(t, m) });
    // Measured: a first reload of a 16,384-slot config took over 10 s on a loaded 2-core machine; a
    // reload HAProxy itself fails is still seen at once (its failed-reload count).
    this.proc = new HaproxyProcess({ dir: opts.dir, bin: opts.haproxyBin ?? 'haproxy', readyTimeoutMs: 30_000, onDied: (why) => this.supervisor.died(why) });
    this.drains = new DrainTracker(() => this.serial(() => finishDrains(this.model, this.proc.adminSocket, this.stats, Date.now(), this.lua)));
    this.reloads = new ReloadManager({
      run: (reasons) => this.serial(() => this.reload(reasons)),
      debounceMs: opts.reloadDebounceMs ?? 50,
      minIntervalMs: opts.minReloadIntervalMs ?? 500,
    });
  }

  /** Reloads performed by this instance (not counting starts and restarts). */
  get reloadCount(): number {
    return this.reloads.count;
  }

  /** The HAProxy master's pid while it runs. */
  get masterPid(): number | undefined {
    return this.proc.pid;
  }

  /** Adopt a HAProxy left running under `dir` by a previous run, or write an empty config and start one. */
  async start(): Promise<void> {
    await secureStateDir(this.opts.dir);
    if (this.opts.updates !== 'native') {
      try {
        await writeLuaSlots(this.opts.dir);
        this.luaFile = true;
      } catch (err) {
        this.event('lua-unavailable', `cannot write ${LUA_FILE}: ${(err as Error).message}; rendering without lua-load, slots edited with native runtime-API commands`);
      }
    }
    if (await this.proc.adopt()) {
      this.lua = await this.hasLua();
      this.untrusted = true;
      const text = await readFile(this.proc.configPath, 'utf8').catch(() => '');
      this.adoptedBinds = new Set([...text.matchAll(/^ {2}bind (\S+)$/gm)].map((m) => m[1]!));
      // Read now, before any reload replaces the worker: a Subscription with no saved set serves these while the registry is unreachable.
      const state = await sendCommand(this.proc.adminSocket, 'show servers state').catch(() => '');
      for (const name of new Set([...state.matchAll(/^\d+ (\S+) /gm)].map((m) => m[1]!)))
        this.adoptedServers.set(name, parseServersState(state, name).flatMap((s) => (s && s.admin === 'ready' ? [{ host: s.ip, port: s.port }] : [])));
      this.event('adopted', `adopted HAProxy master ${this.proc.pid}; the first reload renders the current listeners`);
      return;
    }
    await this.serial(async () => commit(this.model, await renderAndReload(this.ctx(false), this.model)));
    this.lua = await this.hasLua();
  }

  adopted(name: string): readonly SocketAddress[] | undefined {
    const servers = this.adoptedServers.get(name);
    return servers?.length ? servers : undefined;
  }

  async apply(name: string, spec: ListenerSpec, endpoints: readonly Endpoint[], signal?: AbortSignal): Promise<ApplyResult> {
    if (!NAME_RE.test(name)) throw new HaproxyError(`applying listener ${JSON.stringify(name).slice(0, 80)}: unsafe name`);
    const want = wantOf(name, endpoints);
    this.adoptedServers.delete(name);
    return this.converge(name, signal, () => {
      const st = this.model.get(name) ?? newListenerState();
      this.model.set(name, st);
      const changes: [string, WantServer | undefined][] = [];
      for (const s of st.slots) if (s && !want.has(keyOf(s))) changes.push([keyOf(s), undefined]);
      for (const [k, w] of want) changes.push([k, w]);
      st.want = { spec, servers: want };
      return { st, changes };
    });
  }

  async update(name: string, change: EndpointChange, signal?: AbortSignal): Promise<ApplyResult> {
    const set = change.set.map((e) => wantOne(name, e));
    const removed = change.removed.map((a) => addressOf(a));
    return this.converge(name, signal, () => {
      const st = this.model.get(name);
      if (!st?.want) throw new HaproxyError(`updating listener ${name}: it was never applied`);
      const changes: [string, WantServer | undefined][] = [];
      for (const k of removed) st.want.servers.delete(k), changes.push([k, undefined]);
      for (const w of set) st.want.servers.set(keyOf(w), w), changes.push([keyOf(w), w]);
      return { st, changes };
    });
  }

  /**
   * Record the new want (`edit`, run holding the chain), then edit HAProxy live, or wait for the reload it
   * needs. An abort only ends the wait: the want is in the model, so the reload still renders it.
   */
  private async converge(name: string, signal: AbortSignal | undefined, edit: () => { st: ListenerState; changes: Iterable<readonly [string, WantServer | undefined]> }): Promise<ApplyResult> {
    throwIfAborted(signal);
    const step = await within(this.serial(async (): Promise<Step> => {
      const { st, changes } = edit();
      const spec = st.want!.spec;
      const reason = (cause: ReloadReason['cause']) => ({ reason: { cause, listener: name }, done: this.reloads.request({ cause, listener: name }) });
      // Requested while holding the chain: the reload cannot start before this want is in the model, so it renders it.
      if (!st.live) return reason('listener-added');
      if (configKey(st.live.spec) !== configKey(spec)) return reason('listener-changed');
      if (this.opts.updates === 'reload') return reason('every-change');
      return this.runtimeUpdate(name, st, changes);
    }), { signal });
    if ('ops' in step) return { reloaded: false, reasons: [], runtimeOps: step.ops };
    const outcome = await within(step.done, { signal });
    const err = outcome.rejected.get(name);
    if (err) throw err;
    return { reloaded: outcome.reloaded, reasons: outcome.reasons, runtimeOps: 0 };
  }

  async remove(name: string, signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const step = await within(this.serial(async () => {
      const st = this.model.get(name);
      if (!st?.live) {
        this.model.delete(name);
        return undefined;
      }
      st.want = undefined;
      // Stop new connections now; the reload that drops the listener lets the old worker finish the rest.
      const ops = st.slots.flatMap((s, i) => (s && s.admin !== 'maint' ? [`set server ${name}/${slotName(i)} state drain`] : []));
      await runAdminBatch(this.proc.adminSocket, ops).catch(() => undefined);
      // Wrapped: an async function returning the promise would make the chain wait for the reload it runs.
      return { done: this.reloads.request({ cause: 'listener-removed', listener: name }) };
    }), { signal });
    if (step) await within(step.done, { signal });
  }

  async status(name: string): Promise<readonly EndpointStatus[]> {
    const st = this.model.get(name);
    if (!st?.live) return [];
    const rows = await this.stats.read(() => serverStats(this.proc.adminSocket, name));
    return st.slots.flatMap((s, i) => {
      const row = s && rows.get(slotName(i));
      if (!s || !row) return [];
      const word = row.status ?? '';
      const detail = row.check_status ? `${word} ${row.check_status}` : word;
      // "UP 1/3" is still up (going down), "DOWN 1/2" still down (coming up).
      const state = STATE[word] ?? STATE[word.split(' ')[0]!] ?? 'down';
      return [{ address: addressOf({ host: s.ip, port: s.port }), state, weight: Number(row.weight), detail, ...liveFields(row) }];
    });
  }

  /** Stop managing HAProxy; by default stop it too (`keepServing` leaves it serving for a later run to adopt). */
  async close(opts: { keepServing?: boolean } = {}): Promise<void> {
    this.closed = true;
    this.reloads.close();
    this.supervisor.close();
    this.drains.stop();
    await this.chain.catch(() => undefined);
    if (opts.keepServing) this.proc.detach();
    else await this.proc.stop();
  }

  /** Run HAProxy operations one at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private ctx(force: boolean) {
    const o = this.opts;
    const held: ReadonlySet<string> = this.adoptedBinds;
    return { dir: o.dir, proc: this.proc, minSlots: o.minSlots ?? 8, hardStopAfterMs: o.hardStopAfterMs, runAs: o.runAs, accessLog: o.accessLog, lua: this.luaFile, force, held, event: (t: string, m: string) => this.event(t, m) };
  }

  private async reload(reasons: readonly ReloadReason[]): Promise<RunResult> {
    if (this.closed) throw new HaproxyError('reloading HAProxy: the proxy is closed');
    const force = this.untrusted || [...this.model.values()].some((st) => st.diverged);
    const verdict = await renderAndReload(this.ctx(force), this.model);
    commit(this.model, verdict);
    if (verdict.reloaded) {
      this.lua = await this.hasLua();
      this.untrusted = false;
      this.adoptedBinds = new Set();
      this.opts.onReload?.(reasons);
      this.event('reload', `reloaded HAProxy: ${reasons.map((r) => `${r.cause} ${r.listener}`).join('; ')}`);
    }
    return verdict;
  }

  /** Runtime-API edits for a membership change, or the reload to wait for when HAProxy's state is no longer known. */
  private async runtimeUpdate(name: string, st: ListenerState, changes: Iterable<readonly [string, WantServer | undefined]>): Promise<Step> {
    const p = planChanges(shapeOf(name, st, this.lua), st, changes, { now: Date.now(), drainMs: this.opts.drainTimeoutMs ?? 30_000 });
    if (p.ops.length === 0) return { ops: 0 };
    let why: string | undefined;
    try {
      const refused = await runAdminBatch(this.proc.adminSocket, p.ops);
      if (refused.length) why = refused.map((r) => `"${r.command}": ${r.answer}`).join('; ');
    } catch (err) {
      why = (err as Error).message;
    }
    for (const [i, slot] of p.edits) setSlot(st, i, slot);
    trimSlots(st);
    if (st.draining.size) this.drains.watch();
    if (why === undefined) return { ops: p.ops.length };
    // A partly applied batch: converge from what HAProxy really holds; failing that, a forced
    // reload renders the wanted state into a fresh worker.
    this.event('runtime-error', `updating ${name} through the runtime API: ${why}`);
    try {
      const ops = await repairFromState(this.proc.adminSocket, name, st, this.opts.drainTimeoutMs ?? 30_000, this.lua);
      trimSlots(st);
      if (st.draining.size) this.drains.watch();
      this.event('runtime-repaired', `converged ${name} from HAProxy's own state with ${ops} commands`);
      return { ops: p.ops.length + ops };
    } catch (err) {
      this.event('runtime-error', `${(err as Error).message}; reloading`);
    }
    st.diverged = true;
    const reason: ReloadReason = { cause: 'runtime-diverged', listener: name };
    return { reason, done: this.reloads.request(reason) };
  }

  /** Start HAProxy again from the model's running listeners, dynamic servers rendered as config slots. */
  private async restart(): Promise<void> {
    await this.serial(async () => {
      if (this.closed || this.proc.pid !== undefined) return;
      const running = runningRenders(this.model);
      await writeFileAtomic(this.proc.configPath, renderConfig(this.ctx(false), [...running.values()]));
      await this.proc.start();
      this.lua = await this.hasLua();
      commit(this.model, { reloaded: true, running, rejected: new Map() });
    });
    this.event('haproxy-restarted', `restarted HAProxy (master ${this.proc.pid})`);
  }

  private async hasLua(): Promise<boolean> {
    return this.luaFile && (await hasLuaSlots(this.proc.adminSocket));
  }

  private event(type: string, message: string): void {
    this.opts.onEvent?.({ type, message });
  }
}
