import type { HealthCheckSpec } from '../manifest/schema.ts';
import { CheckLoop, type CheckStatus, type Timers } from './check-loop.ts';
import { createCheck } from './create-check.ts';
import type { HealthCheck } from './health-check.ts';

export type { CheckStatus, Timers } from './check-loop.ts';

/** Injection points for tests; production code passes none. */
export interface ServiceHealthOptions {
  timers?: Timers;
  /** Build checks from specs; default createCheck. */
  createCheck?: (spec: HealthCheckSpec, defaults: { host: string; port: number }) => HealthCheck;
  /** Receives errors thrown by onChange; default a process warning. */
  onError?: (err: unknown) => void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * The health of one service instance: all its checks ANDed, each with rise/fall applied. Healthy
 * at once when there are no checks; otherwise DOWN until every check has risen. `onChange` is
 * called only when the ANDed result flips, never after stop().
 */
export class ServiceHealth {
  private readonly loops: readonly CheckLoop[];
  private current: boolean;
  private started = false;
  private stopped = false;
  private readonly onError: (err: unknown) => void;

  constructor(
    checks: readonly HealthCheckSpec[],
    target: { host: string; port: number },
    private readonly onChange: (healthy: boolean) => void,
    opts: ServiceHealthOptions = {},
  ) {
    const make = opts.createCheck ?? createCheck;
    const timers = opts.timers ?? realTimers;
    this.onError = opts.onError ?? ((err) => process.emitWarning(err instanceof Error ? err : String(err)));
    this.loops = checks.map((spec) => new CheckLoop(make(spec, target), spec, timers, () => this.evaluate(), this.onError));
    this.current = this.loops.length === 0;
  }

  /** The ANDed result as of the last check result. */
  get healthy(): boolean {
    return this.current;
  }

  /** Run every check now, then on its interval. Idempotent; a no-op after stop(). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    for (const loop of this.loops) loop.start();
  }

  /** Abort checks in flight and cancel timers; resolves when nothing is pending. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops.map((loop) => loop.stop()));
  }

  /** One status per check, in spec order. */
  statuses(): CheckStatus[] {
    return this.loops.map((loop) => loop.status());
  }

  private evaluate(): void {
    if (this.stopped) return;
    const healthy = this.loops.every((loop) => loop.up);
    if (healthy === this.current) return;
    this.current = healthy;
    try {
      this.onChange(healthy);
    } catch (err) {
      this.onError(err);
    }
  }
}
