import { CheckFailed } from './check-failed.ts';

/**
 * One attempt of a check. `signal` aborts on timeout, on the caller's abort, and when the attempt
 * settles: implementations tie every socket/client they open to it, so resources are released in
 * all paths. `step` says what is being done now; a timeout reads "<step>: timed out after N ms".
 */
export interface Attempt {
  readonly signal: AbortSignal;
  step: string;
}

/**
 * Run `fn` under a deadline of `timeoutMs` and the caller's `signal`. Settles no later than the
 * deadline (or the abort) whatever `fn` does, rejecting with CheckFailed; a late rejection of `fn`
 * is swallowed. Always aborts the attempt's signal before returning.
 */
export async function withDeadline<T>(
  step: string,
  timeoutMs: number,
  signal: AbortSignal,
  fn: (attempt: Attempt) => Promise<T>,
): Promise<T> {
  if (signal.aborted) throw new CheckFailed(`${step}: aborted`, { cause: signal.reason });
  const ac = new AbortController();
  const attempt: Attempt = { signal: ac.signal, step };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort = (): void => {};
  const interrupted = new Promise<never>((_, reject) => {
    const fail = (why: string, cause?: unknown): void => {
      const err = new CheckFailed(`${attempt.step}: ${why}`, { cause });
      reject(err);
      ac.abort(err);
    };
    timer = setTimeout(() => fail(`timed out after ${timeoutMs} ms`), timeoutMs);
    onAbort = () => fail('aborted', signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  interrupted.catch(() => {}); // only observed through the race below
  let work: Promise<T>;
  try {
    work = fn(attempt);
  } catch (err) {
    work = Promise.reject(err);
  }
  work.catch(() => {}); // after a timeout, fn's own failure (socket destroyed) is expected noise
  try {
    return await Promise.race([work, interrupted]);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    if (!ac.signal.aborted) ac.abort(new CheckFailed(`${attempt.step}: attempt finished`));
  }
}

/** Call `release` when the attempt ends (immediately if it already has). */
export function onAttemptEnd(attempt: Attempt, release: () => void): void {
  if (attempt.signal.aborted) release();
  else attempt.signal.addEventListener('abort', release, { once: true });
}
