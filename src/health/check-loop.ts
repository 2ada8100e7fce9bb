import { describeError } from '../errors.ts';
import type { HealthCheck } from './health-check.ts';
import { INITIAL_RISE_FALL, nextRiseFall, type RiseFallState } from './rise-fall.ts';

/** Timer functions, injectable so rise/fall logic is testable without waiting. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What one check last saw, as reported on the status endpoint. */
export interface CheckStatus {
  type: string;
  target: string;
  healthy: boolean;
  lastResult: 'pass' | 'fail' | 'none';
  lastError?: string;
  latencyMs?: number;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
  /** ISO 8601 time the last result arrived. */
  lastCheckAt?: string;
}

/** How often a check runs and how many results flip it. */
export interface LoopTiming {
  readonly intervalMs: number;
  readonly rise: number;
  readonly fall: number;
}

/**
 * Runs one check forever: first at once, then `intervalMs` after the previous run started (later if
 * it is still running: runs of one check never overlap), folding results through rise/fall.
 * `onResult` is called after every result; `stop()` aborts the run in flight and resolves when
 * nothing is pending.
 */
export class CheckLoop {
  private state: RiseFallState = INITIAL_RISE_FALL;
  private last: Pick<CheckStatus, 'lastResult' | 'lastError' | 'latencyMs' | 'lastCheckAt'> = { lastResult: 'none' };
  private timer: unknown;
  private inFlight: { promise: Promise<void>; abort: AbortController } | undefined;
  private stopped = false;

  constructor(
    private readonly check: HealthCheck,
    private readonly timing: LoopTiming,
    private readonly timers: Timers,
    private readonly onResult: () => void,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** True once the check has risen, until it falls. */
  get up(): boolean {
    return this.state.up;
  }

  start(): void {
    if (!this.stopped && this.inFlight === undefined && this.timer === undefined) this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    const running = this.inFlight;
    running?.abort.abort();
    await running?.promise;
  }

  status(): CheckStatus {
    const { type, target } = this.check;
    const { up: healthy, consecutiveSuccesses, consecutiveFailures } = this.state;
    const s: CheckStatus = { type, target, healthy, lastResult: this.last.lastResult, consecutiveSuccesses, consecutiveFailures };
    if (this.last.lastError !== undefined) s.lastError = this.last.lastError;
    if (this.last.latencyMs !== undefined) s.latencyMs = this.last.latencyMs;
    if (this.last.lastCheckAt !== undefined) s.lastCheckAt = this.last.lastCheckAt;
    return s;
  }

  private run(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const abort = new AbortController();
    const started = performance.now();
    const promise = new Promise<void>((resolve) => resolve(this.check.check(abort.signal)))
      .then(
        () => this.record(started, undefined),
        (err: unknown) => this.record(started, err ?? new Error('check failed')),
      )
      .catch(this.onError);
    this.inFlight = { promise, abort };
  }

  private record(started: number, err: unknown): void {
    this.inFlight = undefined;
    if (this.stopped) return; // an aborted run says nothing about the target
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    this.state = nextRiseFall(this.state, err === undefined, this.timing);
    this.last = {
      lastResult: err === undefined ? 'pass' : 'fail',
      ...(err === undefined ? {} : { lastError: describeError(err) }),
      latencyMs,
      lastCheckAt: new Date().toISOString(),
    };
    this.timer = this.timers.setTimeout(() => this.run(), Math.max(0, this.timing.intervalMs - latencyMs));
    this.onResult();
  }
}
