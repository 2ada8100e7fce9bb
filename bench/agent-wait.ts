/**
 * Waiting on an in-process agent's status without polling: the status store calls back on every
 * change, so a wait ends at the change that satisfies it (bounded by a timeout).
 */
import type { Agent } from '../src/agent.ts';
import type { ObjectKey } from '../src/object-key.ts';
import { now } from './stats.ts';

/** Resolve with now() at the first status change (or at once) after which `done()` holds. */
export function untilStatus(agent: Agent, done: (key: ObjectKey | undefined) => boolean, timeoutMs: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    if (done(undefined)) return resolve(now());
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`${what}: not reached within ${timeoutMs} ms`));
    }, timeoutMs);
    const unsubscribe = agent.status.subscribe((key) => {
      if (!done(key)) return;
      clearTimeout(timer);
      unsubscribe();
      resolve(now());
    });
  });
}

export const isTrue = (agent: Agent, key: ObjectKey, type: string): boolean => agent.status.condition(key, type)?.status === 'True';

/** The object's spec generation has been acted on and its condition `type` is True. */
export function applied(agent: Agent, key: ObjectKey, generation: number, type = 'Ready'): boolean {
  return (agent.status.get(key)?.observedGeneration ?? 0) >= generation && isTrue(agent, key, type);
}
