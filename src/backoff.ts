/**
 * Per-key capped exponential backoff with jitter: base, 2×base, 4×base … capped, each ±20 %.
 * The random source is injectable so tests can assert exact delays.
 */
export interface BackoffOptions {
  baseMs?: number;
  capMs?: number;
  /** Fraction of the delay to spread either way; 0 disables jitter. */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  private readonly failures = new Map<string, number>();
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions = {}) {
    this.baseMs = opts.baseMs ?? 100;
    this.capMs = opts.capMs ?? 30_000;
    this.jitter = opts.jitter ?? 0.2;
    this.random = opts.random ?? Math.random;
  }

  /** Record a failure of `key` and return how long to wait before retrying it. */
  next(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const raw = Math.min(this.capMs, this.baseMs * 2 ** Math.min(n, 30));
    const spread = raw * this.jitter * (this.random() * 2 - 1);
    return Math.max(0, Math.round(Math.min(this.capMs, raw + spread)));
  }

  /** Consecutive failures of `key` so far. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Forget `key`'s failures (after a success, or when the key is gone). */
  reset(key: string): void {
    this.failures.delete(key);
  }
}
