/**
 * Coalesced, rate-limited reloads. Callers request a reload with a reason; requests arriving
 * within the debounce window (or while a reload runs, or before the minimum interval since the
 * last one has passed) share one reload, which receives all their reasons.
 */
import { HaproxyError } from '../errors.ts';
import { describeReason, type ReloadReason } from '../proxy/proxy.ts';

const same = (a: ReloadReason, b: ReloadReason) => a.cause === b.cause && a.listener === b.listener;

export interface ReloadManagerOptions {
  /**
   * Performs one reload for the given reasons (HaproxyProxy renders from its current model);
   * resolves whether HAProxy was reloaded and which listeners it could not take, and why.
   */
  readonly run: (reasons: readonly ReloadReason[]) => Promise<RunResult>;
  /** Quiet time collected before acting, so a burst of applies becomes one reload. Default 50 ms. */
  readonly debounceMs?: number;
  /** Minimum time between the end of one reload and the start of the next. Default 500 ms. */
  readonly minIntervalMs?: number;
  readonly now?: () => number;
}

export interface RunResult {
  readonly reloaded: boolean;
  readonly rejected: ReadonlyMap<string, Error>;
}

/** The outcome a request shares with the others coalesced into the same reload. */
export interface ReloadOutcome extends RunResult {
  readonly reasons: readonly ReloadReason[];
}

interface Waiter {
  resolve: (outcome: ReloadOutcome) => void;
  reject: (err: unknown) => void;
}

/** Queue of reload requests: at most one reload runs at a time, pending ones are merged. */
export class ReloadManager {
  private reasons: ReloadReason[] = [];
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastEnd = -Infinity;
  private closed = false;
  /** Reloads performed so far (runs that found identical bytes do not count). */
  count = 0;

  constructor(private readonly opts: ReloadManagerOptions) {}

  /** Ask for a reload; resolves with the reasons of the reload that carried this one, rejects with its error. */
  request(reason: ReloadReason): Promise<ReloadOutcome> {
    if (this.closed) return Promise.reject(new HaproxyError(`reloading HAProxy (${describeReason(reason)}): the proxy is closed`));
    if (!this.reasons.some((r) => same(r, reason))) this.reasons.push(reason);
    const p = new Promise<ReloadOutcome>((resolve, reject) => this.waiters.push({ resolve, reject }));
    this.schedule();
    return p;
  }

  /** Reject pending requests and stop scheduling. A running reload finishes. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const waiters = this.waiters.splice(0);
    this.reasons = [];
    for (const w of waiters) w.reject(new HaproxyError('reloading HAProxy: the proxy was closed'));
  }

  private schedule(): void {
    if (this.timer || this.running || this.closed || this.waiters.length === 0) return;
    const now = (this.opts.now ?? Date.now)();
    const wait = Math.max(this.opts.debounceMs ?? 50, this.lastEnd + (this.opts.minIntervalMs ?? 500) - now);
    this.timer = setTimeout(() => void this.fire(), wait);
  }

  private async fire(): Promise<void> {
    this.timer = undefined;
    const reasons = this.reasons.splice(0);
    const waiters = this.waiters.splice(0);
    this.running = true;
    try {
      const result = await this.opts.run(reasons);
      if (result.reloaded) this.count++;
      for (const w of waiters) w.resolve({ ...result, reasons });
    } catch (err) {
      for (const w of waiters) w.reject(err);
    } finally {
      this.running = false;
      this.lastEnd = (this.opts.now ?? Date.now)();
      this.schedule();
    }
  }
}
