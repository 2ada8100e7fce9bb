import { isIP } from 'node:net';

/**
 * One health check of one target. `check` resolves when the target is up and rejects with
 * CheckFailed ("down, because …") otherwise. It never outlives its timeout or `signal`, and
 * leaves no socket, timer or listener behind in any outcome.
 */
export interface HealthCheck {
  readonly type: string;
  /** "host:port" ("[v6]:port" for IPv6 literals). */
  readonly target: string;
  check(signal: AbortSignal): Promise<void>;
}

/** "host:port", bracketing IPv6 literals. */
export function formatTarget(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
