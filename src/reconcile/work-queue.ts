/**
 * A level-based work queue in the manner of client-go's workqueue: a key is queued at most once
 * however many events arrive (dirty set), is never reconciled by two workers at once (processing
 * set: a key added while it runs is re-run once it finishes), and failures requeue with per-key
 * backoff. Bounded concurrency comes from p-queue.
 */
import PQueue from 'p-queue';
import { AbortedError, TerminalError } from '../errors.ts';
import { Backoff } from '../backoff.ts';

export interface ReconcileResult {
  /** Reconcile again after this delay even if nothing changes (polling, drains). */
  requeueAfterMs?: number;
}

/** Reconcile `key` from fresh desired and observed state. Throw to retry with backoff; `signal` aborts at shutdown. */
export type Reconciler<K extends string> = (key: K, signal: AbortSignal) => Promise<ReconcileResult | void>;

export type Outcome = 'success' | 'requeue' | 'error' | 'terminal';

export interface WorkQueueOptions<K extends string> {
  concurrency?: number;
  backoff?: Backoff;
  /** Called after every reconcile: one counter per outcome lives here. */
  onResult?: (key: K, outcome: Outcome, durationMs: number, err?: unknown) => void;
  setTimer?: (fn: () => void, ms: number) => NodeJS.Timeout;
}

export class WorkQueue<K extends string> {
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly delayed = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly queue: PQueue;
  private readonly backoff: Backoff;
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(
    private readonly reconcile: Reconciler<K>,
    private readonly opts: WorkQueueOptions<K> = {},
  ) {
    this.queue = new PQueue({ concurrency: opts.concurrency ?? 4 });
    this.backoff = opts.backoff ?? new Backoff();
  }

  /** Queue `key` for reconciliation now (deduplicated). */
  add(key: K): void {
    if (this.stopped || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (!this.processing.has(key)) void this.queue.add(() => this.run(key));
  }

  /** Queue `key` after `ms`; an earlier pending delay for the key wins. */
  addAfter(key: K, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const prev = this.delayed.get(key);
    if (prev && prev.at <= at) return;
    if (prev) clearTimeout(prev.timer);
    const timer = (this.opts.setTimer ?? setTimeout)(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.delayed.set(key, { at, timer });
  }

  /** Consecutive failures of `key`. */
  retries(key: K): number {
    return this.backoff.retries(key);
  }

  /** Keys waiting to run (not counting delayed retries). */
  get depth(): number {
    return this.dirty.size;
  }

  /** Resolves when nothing is queued or running (delayed retries excluded). */
  async idle(): Promise<void> {
    await this.queue.onIdle();
  }

  /** Stop taking work, abort running reconciles, wait for them to finish. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.queue.clear();
    this.dirty.clear();
    this.abort.abort(new AbortedError('work queue shutting down'));
    await this.queue.onIdle();
  }

  private async run(key: K): Promise<void> {
    if (this.stopped) return;
    this.dirty.delete(key);
    this.processing.add(key);
    const started = performance.now();
    try {
      const result = await this.reconcile(key, this.abort.signal);
      this.backoff.reset(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
      this.opts.onResult?.(key, result?.requeueAfterMs !== undefined ? 'requeue' : 'success', performance.now() - started);
    } catch (err) {
      const terminal = err instanceof TerminalError;
      if (!terminal && !this.stopped) this.addAfter(key, this.backoff.next(key));
      this.opts.onResult?.(key, terminal ? 'terminal' : 'error', performance.now() - started, err);
    } finally {
      this.processing.delete(key);
      if (this.dirty.has(key) && !this.stopped) void this.queue.add(() => this.run(key));
    }
  }
}
