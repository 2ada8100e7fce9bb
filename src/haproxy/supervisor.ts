/**
 * Keeps HAProxy running: when the master dies unasked, restart it after a backoff (100 ms doubling
 * to 10 s, reset once a restart has held for 30 s). What a restart does is the owner's callback.
 */
import { Backoff } from '../backoff.ts';

export interface SupervisorOptions {
  /** Start HAProxy again; throws when it could not. */
  readonly restart: () => Promise<void>;
  readonly event: (type: string, message: string) => void;
  readonly delay?: (ms: number, fn: () => void) => NodeJS.Timeout;
  readonly now?: () => number;
}

export class Supervisor {
  private readonly backoff = new Backoff({ baseMs: 100, capMs: 10_000, jitter: 0 });
  private timer: NodeJS.Timeout | undefined;
  private lastRestartAt = -Infinity;
  private closed = false;

  constructor(private readonly opts: SupervisorOptions) {}

  /** HAProxy was seen gone (or a restart failed): schedule one restart. */
  died(why: string): void {
    if (this.closed || this.timer) return;
    this.opts.event('haproxy-died', why);
    const now = (this.opts.now ?? Date.now)();
    if (now - this.lastRestartAt > 30_000) this.backoff.reset('master');
    const delay = this.opts.delay ?? ((ms, fn) => setTimeout(fn, ms));
    this.timer = delay(this.backoff.next('master'), () => {
      this.timer = undefined;
      void this.run();
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async run(): Promise<void> {
    if (this.closed) return;
    try {
      await this.opts.restart();
      this.lastRestartAt = (this.opts.now ?? Date.now)();
    } catch (err) {
      this.opts.event('restart-failed', `restarting HAProxy: ${(err as Error).message}`);
      this.died('restart failed');
    }
  }
}
