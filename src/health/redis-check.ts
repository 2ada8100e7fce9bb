import type { Redis as RedisClient } from 'ioredis';
import { CheckFailed, reasonOf } from './check-failed.ts';
import { onAttemptEnd, type Attempt } from './deadline.ts';
import { formatTarget, type HealthCheck } from './health-check.ts';
import { libraryCheck } from './library-check.ts';

/** Options of a Redis check. */
export interface RedisCheckOptions {
  readonly password?: string | undefined;
  readonly timeoutMs: number;
}

/** A Redis check: connect (AUTH if a password is given), PING, expect PONG. */
export function redisCheck(host: string, port: number, opts: RedisCheckOptions): HealthCheck {
  return libraryCheck('redis', formatTarget(host, port), opts.timeoutMs, async () => (await import('ioredis')).Redis, (Redis, attempt) =>
    ping(Redis, host, port, opts, attempt),
  );
}

async function ping(Redis: typeof RedisClient, host: string, port: number, opts: RedisCheckOptions, attempt: Attempt): Promise<void> {
  const target = formatTarget(host, port);
  // One connection per check: no retries, reconnects or queueing, so failures surface at once.
  const client = new Redis({
    host,
    port,
    ...(opts.password === undefined ? {} : { password: opts.password }),
    lazyConnect: true,
    enableOfflineQueue: false,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    reconnectOnError: () => false,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    connectTimeout: opts.timeoutMs,
    commandTimeout: opts.timeoutMs,
    // disconnect() half-closes and waits this long before destroying: a hung server would hold us
    disconnectTimeout: 0,
  });
  let lastError: unknown;
  client.on('error', (err: unknown) => (lastError ??= err));
  onAttemptEnd(attempt, () => client.disconnect());
  attempt.step = `connecting to ${target}`;
  try {
    await client.connect();
  } catch (err) {
    // connect() rejects with "Connection is closed."; the 'error' event has the real reason
    throw new CheckFailed(`${attempt.step}: ${reasonOf(lastError ?? err)}`, { cause: lastError ?? err });
  }
  attempt.step = `PING ${target}`;
  let reply: string;
  try {
    reply = await client.ping();
  } catch (err) {
    const why = lastError ?? err;
    throw new CheckFailed(`${attempt.step}: ${reasonOf(why)}`, { cause: why });
  }
  if (reply !== 'PONG') throw new CheckFailed(`${attempt.step}: replied ${JSON.stringify(reply).slice(0, 80)}, expected PONG`);
}
