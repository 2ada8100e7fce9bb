import { connect, type Socket } from 'node:net';
import { CheckFailed, reasonOf } from './check-failed.ts';
import { onAttemptEnd, withDeadline, type Attempt } from './deadline.ts';
import { formatTarget, type HealthCheck } from './health-check.ts';

/**
 * Open a TCP connection to host:port; resolves once connected. The socket is destroyed when the
 * attempt ends, so callers may use it but never need to close it.
 */
export function openSocket(host: string, port: number, attempt: Attempt): Promise<Socket> {
  const target = formatTarget(host, port);
  attempt.step = `connecting to ${target}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    onAttemptEnd(attempt, () => socket.destroy());
    socket.once('connect', () => resolve(socket));
    socket.once('error', (err) => reject(new CheckFailed(`connecting to ${target}: ${reasonOf(err)}`, { cause: err })));
    // 'error' may fire again after a failed connect; keep a listener so it is never unhandled
    socket.on('error', () => {});
  });
}

/** A TCP connect check: up when the target accepts a connection, which is closed at once. */
export function tcpCheck(host: string, port: number, timeoutMs: number): HealthCheck {
  const target = formatTarget(host, port);
  return {
    type: 'tcp',
    target,
    check: (signal) =>
      withDeadline(`connecting to ${target}`, timeoutMs, signal, async (attempt) => {
        await openSocket(host, port, attempt);
      }),
  };
}
