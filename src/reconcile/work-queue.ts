/**
 * A level-based work queue in the manner of client-go's workqueue: a key is queued at most once
 * however many events arrive (dirty set), is never reconciled by two workers at once (processing
 * set: a key added while it runs is re-run once it finishes), and failures requeue with per-key
 * backoff. A newer desired state supersedes a running reconcile (see `supersede`). Bounded
 * concurrency comes from p-queue.
 */
import PQueue from 'p-queue';
import { AbortedError, TerminalError } from '../errors.ts';
import { Backoff } from '../backoff.ts';

export interface ReconcileResult {
  /** Reconcile again after this delay even if nothing changes (polling, drains). */
  requeueAfterMs?: number;
}

/** Reconcile `key` from fresh desired and observed state. Throw to retry with backoff; `signal` aborts at shutdown or when superseded. */
export type Reconciler<K extends string> = (key: K, signal: AbortSignal) => Promise<ReconcileResult | void>;

/** `superseded`: aborted for a newer desired state, and re-run at once (neither a failure nor a retry). */
export type Outcome = 'success' | 'requeue' | 'error' | 'terminal' | 'superseded';

/**
 * How long a reconcile runs before `supersede` may abort it. A reconcile normally finishes in
 * milliseconds (a register() p50 of 3.7 ms, a coalesced HAProxy reload well under a second: see
 * BENCHMARKS.md), so anything that outlives this is waiting on a call that stopped answering; and
 * however often a manifest is rewritten, every run gets this long to finish, so it cannot starve.
 */
export const SUPERSEDE_AFTER_MS = 1000;

export interface WorkQueueOptions<K extends string> {
  concurrency?: number;
  backoff?: Backoff;
  /** Called after every reconcile: one counter per outcome lives here. */
  onResult?: (key: K, outcome: Outcome, durationMs: number, err?: unknown) => void;
  setTimer?: (fn: () => void, ms: number) => NodeJS.Timeout;
  /** Default SUPERSEDE_AFTER_MS. */
  supersedeAfterMs?: number;
}

/** A running reconcile: its own abort (shutdown aborts them all), and a pending supersede. */
interface Run {
  readonly abort: AbortController;
  readonly started: number;
  superseded?: NodeJS.Timeout | true;
}

export class WorkQueue<K extends string> {
  private readonly dirty = new Set<K>();
  private readonly processing = new Map<K, Run>();
  private readonly delayed = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly queue: PQueue;
  private readonly backoff: Backoff;
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

  /**
   * Queue `key` because its desired state changed (manifest edited or deleted), and abort a
   * reconcile of it that is running once that run is SUPERSEDE_AFTER_MS old (at once if it is
   * already): the run's work is for a state no longer wanted, and it may be hung on a registry or
   * proxy call that only its deadline would end. Only desired-state changes do this, never watch
   * events, health flips or resyncs (those `add`): they say "look again", and a steady stream of
   * them must not keep a reconcile from finishing. A supersede aborts a run at most once.
   */
  supersede(key: K): void {
    this.add(key);
    const run = this.processing.get(key);
    if (!run || run.superseded !== undefined) return;
    const abort = (): void => {
      run.superseded = true;
      run.abort.abort(new AbortedError(`${key}: superseded by a newer desired state`));
    };
    const wait = run.started + (this.opts.supersedeAfterMs ?? SUPERSEDE_AFTER_MS) - performance.now();
    if (wait <= 0) return abort();
    run.superseded = (this.opts.setTimer ?? setTimeout)(abort, wait);
    run.superseded.unref?.();
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
    for (const run of this.processing.values()) run.abort.abort(new AbortedError('work queue shutting down'));
    await this.queue.onIdle();
  }

  private async run(key: K): Promise<void> {
    if (this.stopped) return;
    this.dirty.delete(key);
    const started = performance.now();
    const run: Run = { abort: new AbortController(), started };
    this.processing.set(key, run);
    try {
      const result = await this.reconcile(key, run.abort.signal);
      this.backoff.reset(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
      this.opts.onResult?.(key, result?.requeueAfterMs !== undefined ? 'requeue' : 'success', performance.now() - started);
    } catch (err) {
      // Superseded: the key is dirty and re-runs now, and its retry count stays as it was.
      const outcome = run.superseded === true && !this.stopped ? 'superseded' : err instanceof TerminalError ? 'terminal' : 'error';
      if (outcome === 'error' && !this.stopped) this.addAfter(key, this.backoff.next(key));
      this.opts.onResult?.(key, outcome, performance.now() - started, err);
    } finally {
      if (run.superseded !== true) clearTimeout(run.superseded);
      this.processing.delete(key);
      if (this.dirty.has(key) && !this.stopped) void this.queue.add(() => this.run(key));
    }
  }
}
