/**
 * The HAProxy implementation of ProxyBackend. Membership changes (add, remove, weight,
 * maintenance) are runtime-API edits on pre-allocated server slots; a reload happens only when a
 * listener is added, removed or respecified, or its slots run out — coalesced, rate-limited, and
 * always rendering the current runtime state so a fresh worker starts right.
 *
 * Hostnames among the servers are resolved (dns.lookup) at apply time, because `set server addr`
 * needs an IP; they are re-resolved on every apply.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { HaproxyError } from '../errors.ts';
import { NAME_RE } from '../manifest/schema.ts';
import { addressOf } from '../registry/instance.ts';
import { configKey, slotName } from './config-render.ts';
import { HaproxyProcess } from './haproxy-process.ts';
import type { BackendServer, ProxyApplyResult, ProxyBackend, ServerStatus, SubscriptionSpec } from './proxy-backend.ts';
import { ReloadManager } from './reload-manager.ts';
import { parseShowStat, runAdmin, runAdminBatch, sendCommand, type StatRow } from './runtime-api.ts';
import { freeOps, planRuntime, type WantServer } from './slot-plan.ts';
import { fullSyncOps, renderAndReload, type ListenerState } from './reload-plan.ts';

export interface HaproxyProxyOptions {
  /** State directory for haproxy.cfg, sockets, pid and log. */
  readonly dir: string;
  /** Default "haproxy". */
  readonly haproxyBin?: string;
  /** 'runtime' (default): membership via the runtime API. 'reload': re-render and reload on every change (baseline). */
  readonly updates?: 'runtime' | 'reload';
  /** Minimum server slots per backend. Default 8. */
  readonly minSlots?: number;
  /** A removed server drains at most this long before its slot is freed. Default 30 s. */
  readonly drainTimeoutMs?: number;
  readonly reloadDebounceMs?: number;
  readonly minReloadIntervalMs?: number;
  readonly hardStopAfterMs?: number;
  readonly onReload?: (reasons: readonly string[]) => void;
  readonly onEvent?: (e: { type: string; message: string }) => void;
}

/** ProxyBackend driving one local HAProxy (master-worker) under `opts.dir`. */
export class HaproxyProxy implements ProxyBackend {
  private readonly listeners = new Map<string, ListenerState>();
  private readonly proc: HaproxyProcess;
  private readonly reloads: ReloadManager;
  private chain: Promise<unknown> = Promise.resolve();
  private lastGood = '';
  private closed = false;
  private drainTimer: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartDelayMs = 100;
  private lastRestartAt = 0;

  constructor(private readonly opts: HaproxyProxyOptions) {
    this.proc = new HaproxyProcess({ dir: opts.dir, bin: opts.haproxyBin ?? 'haproxy', onDied: (why) => this.died(why) });
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
    await mkdir(this.opts.dir, { recursive: true, mode: 0o700 });
    if (await this.proc.adopt()) {
      this.lastGood = await readFile(this.proc.configPath, 'utf8').catch(() => '');
      this.event('adopted', `adopted HAProxy master ${this.proc.pid}; listeners are re-rendered on the first apply`);
      return;
    }
    await this.serial(async () => {
      await renderAndReload(this.ctx(), this.listeners, 'start');
    });
  }

  async apply(name: string, spec: SubscriptionSpec, servers: readonly BackendServer[]): Promise<ProxyApplyResult> {
    if (!NAME_RE.test(name)) throw new HaproxyError(`applying listener ${JSON.stringify(name).slice(0, 80)}: unsafe name`);
    return this.converge(name, spec, servers, false);
  }

  private async converge(name: string, spec: SubscriptionSpec, servers: readonly BackendServer[], joined: boolean): Promise<ProxyApplyResult> {
    const want = await this.resolve(name, spec, servers);
    const step = await this.serial(async () => {
      const st = this.listeners.get(name) ?? { slots: [] };
      this.listeners.set(name, st);
      st.want = { spec, servers: want };
      st.error = undefined;
      if (!st.live) return { reason: `listener ${name} added` };
      if (configKey(st.live.spec) !== configKey(spec)) return { reason: `listener ${name} changed` };
      if (this.opts.updates === 'reload') return { reason: `servers of ${name} changed` };
      return this.runtimeUpdate(name, st, want);
    });
    if ('ops' in step) return { reloaded: false, reasons: [], runtimeOps: step.ops };
    const running = joined ? undefined : this.reloads.joinable(step.reason);
    if (running) {
      // The reload making this listener live is under way: once it is, the rest is runtime edits.
      await running;
      return this.converge(name, spec, servers, true);
    }
    const outcome = await this.reloads.request(step.reason);
    const err = this.listeners.get(name)?.error;
    if (err) throw err;
    return { reloaded: outcome.reloaded, reasons: outcome.reasons, runtimeOps: 0 };
  }

  async remove(name: string): Promise<void> {
    const drained = await this.serial(async () => {
      const st = this.listeners.get(name);
      if (!st?.want && !st?.live) return false;
      st.want = undefined;
      // Stop new connections now; the reload that drops the listener lets the old worker finish the rest.
      for (const [i, s] of st.slots.entries())
        if (s && s.admin !== 'maint') await runAdmin(this.proc.adminSocket, `set server ${name}/${slotName(i)} state drain`).catch(() => undefined);
      return true;
    });
    if (drained) await this.reloads.request(`listener ${name} removed`);
  }

  async status(name: string): Promise<readonly ServerStatus[]> {
    const st = this.listeners.get(name);
    if (!st?.live) return [];
    const rows = await this.serverRows(name);
    return st.slots.flatMap((s, i) => {
      const row = s && rows.get(slotName(i));
      if (!s || !row) return [];
      const out: ServerStatus = { address: row.addr || addressOf({ host: s.ip, port: s.port }), status: row.status ?? '', weight: Number(row.weight) };
      return [row.check_status ? { ...out, checkStatus: row.check_status } : out];
    });
  }

  /** Stop managing HAProxy; by default stop it too (`stopHaproxy: false` leaves it serving for a later run to adopt). */
  async close(opts: { stopHaproxy?: boolean } = {}): Promise<void> {
    this.closed = true;
    this.reloads.close();
    clearInterval(this.drainTimer);
    clearTimeout(this.restartTimer);
    await this.chain.catch(() => undefined);
    if (opts.stopHaproxy === false) this.proc.detach();
    else await this.proc.stop();
  }

  /** Run HAProxy operations one at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  private ctx() {
    return {
      dir: this.opts.dir,
      proc: this.proc,
      minSlots: this.opts.minSlots ?? 8,
      hardStopAfterMs: this.opts.hardStopAfterMs,
      lastGood: () => this.lastGood,
      setLastGood: (text: string) => (this.lastGood = text),
      event: (type: string, message: string) => this.event(type, message),
    };
  }

  private async reload(reasons: readonly string[]): Promise<boolean> {
    if (this.closed) throw new HaproxyError('reloading HAProxy: the proxy is closed');
    const wasLive = new Set([...this.listeners].filter(([, st]) => st.live).map(([n]) => n));
    const reloaded = await renderAndReload(this.ctx(), this.listeners, 'reload');
    if (!reloaded) {
      // Identical bytes, yet a listener became live: an adopted HAProxy whose runtime state may differ from its file.
      for (const [name, st] of this.listeners)
        if (st.live && !wasLive.has(name)) await runAdminBatch(this.proc.adminSocket, fullSyncOps(name, st));
    } else {
      this.opts.onReload?.(reasons);
      this.event('reload', `reloaded HAProxy: ${reasons.join('; ')}`);
    }
    return reloaded;
  }

  /** Runtime-API edits for a membership change, or the reason a reload is needed instead. */
  private async runtimeUpdate(name: string, st: ListenerState, want: readonly WantServer[]): Promise<{ ops: number } | { reason: string }> {
    const checks = st.live!.spec.check.type !== 'none';
    const plan = () => planRuntime(name, st.slots, want, { now: Date.now(), drainMs: this.opts.drainTimeoutMs ?? 30_000, checks });
    let p = plan();
    if (!p) {
      await this.finishDrains();
      p = plan();
    }
    if (!p) return { reason: `listener ${name} needs more than ${st.slots.length} server slots` };
    try {
      await runAdminBatch(this.proc.adminSocket, p.ops);
    } catch (err) {
      // The runtime state is now unknown: a reload renders the wanted state and resets it.
      this.event('runtime-error', `updating ${name} through the runtime API: ${(err as Error).message}`);
      return { reason: `runtime update of ${name} failed` };
    }
    st.slots = [...p.slots];
    if (p.slots.some((s) => s?.admin === 'drain')) this.watchDrains();
    return { ops: p.ops.length };
  }

  private watchDrains(): void {
    if (this.drainTimer || this.closed) return;
    this.drainTimer = setInterval(() => void this.serial(() => this.finishDrains()).catch(() => undefined), 500);
    this.drainTimer.unref();
  }

  /** Free draining slots that have no sessions left or whose drain time is up. */
  private async finishDrains(): Promise<void> {
    const draining = [...this.listeners].filter(([, st]) => st.live && st.slots.some((s) => s?.admin === 'drain'));
    if (draining.length === 0) {
      clearInterval(this.drainTimer);
      this.drainTimer = undefined;
      return;
    }
    const now = Date.now();
    for (const [name, st] of draining) {
      const checks = st.live!.spec.check.type !== 'none';
      const rows = await this.serverRows(name);
      const done = [...st.slots.keys()].filter((i) => {
        const s = st.slots[i];
        return s?.admin === 'drain' && (rows.get(slotName(i))?.scur === '0' || now >= (s.drainUntil ?? 0));
      });
      await runAdminBatch(this.proc.adminSocket, done.flatMap((i) => freeOps(name, i, checks)));
      for (const i of done) st.slots[i] = undefined;
    }
  }

  /**
   * `show stat` rows of backend `name`'s servers by server name. Filtered by HAProxy and indexed:
   * with 16k slots, scanning every row of every proxy per slot was quadratic.
   */
  private async serverRows(name: string): Promise<Map<string, StatRow>> {
    const rows = parseShowStat(await sendCommand(this.proc.adminSocket, `show stat ${name} 4 -1`));
    return new Map(rows.filter((r) => r.pxname === name).map((r) => [r.svname ?? '', r]));
  }

  private died(why: string): void {
    if (this.closed || this.restartTimer) return;
    this.event('haproxy-died', why);
    if (Date.now() - this.lastRestartAt > 30_000) this.restartDelayMs = 100;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart();
    }, this.restartDelayMs);
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, 10_000);
  }

  /** Start HAProxy again from the last good config, then re-apply every slot through the runtime API. */
  private async restart(): Promise<void> {
    if (this.closed) return;
    try {
      await this.serial(async () => {
        if (this.closed || this.proc.pid !== undefined) return;
        await this.proc.start();
        this.lastRestartAt = Date.now();
        for (const [name, st] of this.listeners) {
          if (!st.live) continue;
          st.slots = st.slots.map((s) => (s?.admin === 'drain' ? undefined : s));
          await runAdminBatch(this.proc.adminSocket, fullSyncOps(name, st));
        }
      });
      this.event('haproxy-restarted', `restarted HAProxy (master ${this.proc.pid})`);
    } catch (err) {
      this.event('restart-failed', `restarting HAProxy: ${(err as Error).message}`);
      if (this.proc.pid === undefined) this.died('restart failed');
    }
  }

  private async resolve(name: string, spec: SubscriptionSpec, servers: readonly BackendServer[]): Promise<WantServer[]> {
    const out = new Map<string, WantServer>();
    for (const s of servers) {
      const weight = s.weight ?? 1;
      if (!Number.isInteger(weight) || weight < 0 || weight > 256) throw new HaproxyError(`applying ${name}: weight ${weight} of ${addressOf(s)} is not 0–256`);
      let ip = s.host;
      if (isIP(s.host) === 0) {
        try {
          ip = (await lookup(s.host)).address;
        } catch (err) {
          this.event('resolve-failed', `resolving ${s.host} for ${name}: ${(err as Error).message}; server skipped`);
          continue;
        }
      }
      const maint = s.maintenance === true || spec.maintenance.includes(addressOf(s));
      const w: WantServer = { ip, port: s.port, weight, maint };
      out.set(addressOf({ host: ip, port: s.port }), w);
    }
    return [...out.values()];
  }

  private event(type: string, message: string): void {
    this.opts.onEvent?.({ type, message });
  }
}
