/**
 * Probes through a HAProxy listener with fresh connections to greeting backends
 * (test/harness/backends.ts): when does `name` start, or stop, answering? Bounded by time.
 */
import { whoAnswers } from '../../test/harness/backends.ts';
import { now } from '../stats.ts';

const ask = (port: number): Promise<string> => whoAnswers(port).catch((err: unknown) => `error: ${String(err)}`);

/** The time (performance.now) at which a fresh connection through `port` first reached `name`. */
export async function untilAnswers(port: number, name: string, timeoutMs: number): Promise<number> {
  const deadline = now() + timeoutMs;
  while (now() < deadline) {
    const t = now();
    if ((await ask(port)) === name) return t;
  }
  throw new Error(`${name} not reached through port ${port} within ${timeoutMs} ms`);
}

/**
 * The start time of the first of `streak` consecutive connections that did not reach `name`. With
 * round robin over `streak` servers, one of them would reach it while it is still in rotation.
 */
export async function untilGone(port: number, name: string, timeoutMs: number, streak = 2): Promise<number> {
  const deadline = now() + timeoutMs;
  let first: number | undefined;
  let count = 0;
  while (now() < deadline) {
    const t = now();
    const who = await ask(port);
    if (who === name || who.startsWith('error')) {
      first = undefined;
      count = 0;
      continue;
    }
    first ??= t;
    if (++count >= streak) return first;
  }
  throw new Error(`${name} still answering through port ${port} after ${timeoutMs} ms`);
}
