/**
 * The one timeout race: wait for `work`, but no longer than `ms` and no longer than `signal`.
 * The timer and the abort listener are always released. The work itself goes on (a promise cannot
 * be cancelled); work that can stop early is handed the same signal.
 */
import { AbortedError } from './errors.ts';

export interface WithinOptions<T> {
  /** Give up after this long (no deadline when absent). */
  readonly ms?: number | undefined;
  /** What the wait settles with at the deadline: a value, or throw the timeout's error. Default: throw. */
  readonly onTimeout?: () => T;
  /** Give up when this aborts: rejects with its reason (an AbortedError when the reason is not an Error). */
  readonly signal?: AbortSignal | undefined;
}

export function within<T>(work: Promise<T>, opts: WithinOptions<T>): Promise<T> {
  const { ms, signal } = opts;
  if (signal?.aborted) {
    work.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => settle(() => reject(abortReason(signal!)));
    const settle = (fn: () => void): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    if (ms !== undefined) {
      timer = setTimeout(() => settle(() => {
        try {
          resolve(opts.onTimeout ? opts.onTimeout() : Promise.reject(new Error(`timed out after ${ms} ms`)));
        } catch (err) {
          reject(err);
        }
      }), ms);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then((v) => settle(() => resolve(v)), (err: unknown) => settle(() => reject(err)));
  });
}

/** Throw the abort's reason when `signal` has aborted: a check between steps of a reconcile. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new AbortedError('aborted', { cause: signal.reason });
}
