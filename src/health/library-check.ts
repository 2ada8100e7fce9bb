import { withDeadline, type Attempt } from './deadline.ts';
import type { HealthCheck } from './health-check.ts';

/**
 * A check built on a client library (mysql2, ioredis) that is loaded when the check is configured,
 * not at agent start (each costs ~20 MB of RSS), and awaited before the deadline starts so the
 * first check does not pay for module loading.
 */
export function libraryCheck<L>(
  type: string,
  target: string,
  timeoutMs: number,
  load: () => Promise<L>,
  run: (lib: L, attempt: Attempt) => Promise<void>,
): HealthCheck {
  const lib = load();
  lib.catch(() => undefined); // a load failure surfaces from the first check, not as an unhandled rejection
  return {
    type,
    target,
    check: async (signal) => {
      const loaded = await lib;
      return withDeadline(`connecting to ${target}`, timeoutMs, signal, (attempt) => run(loaded, attempt));
    },
  };
}
