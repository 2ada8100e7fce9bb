import type mysqlLib from 'mysql2';
import { CheckFailed, reasonOf } from './check-failed.ts';
import { onAttemptEnd, type Attempt } from './deadline.ts';
import { formatTarget, type HealthCheck } from './health-check.ts';
import { libraryCheck } from './library-check.ts';
import { openSocket } from './tcp-check.ts';

/** Who a MySQL check logs in as. */
export interface MysqlCheckOptions {
  readonly user: string;
  readonly password?: string | undefined;
  /** Count "access denied" as up: the server did answer the handshake. */
  readonly acceptAuthError: boolean;
  readonly timeoutMs: number;
}

/** Server replies that prove a live server refusing this login (1045, 1698 no password, 1130 host). */
const AUTH_ERRORS = new Set(['ER_ACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR', 'ER_HOST_NOT_PRIVILEGED']);

/**
 * A MySQL/MariaDB check like HAProxy's mysql-check: connect, complete the handshake as `user`
 * (no query, so the user needs no grants), then send QUIT so the server logs no aborted connection.
 */
export function mysqlCheck(host: string, port: number, opts: MysqlCheckOptions): HealthCheck {
  return libraryCheck('mysql', formatTarget(host, port), opts.timeoutMs, async () => (await import('mysql2')).default, (mysql, attempt) =>
    handshake(mysql, host, port, opts, attempt),
  );
}

async function handshake(mysql: typeof mysqlLib, host: string, port: number, opts: MysqlCheckOptions, attempt: Attempt): Promise<void> {
  // our own socket, destroyed when the attempt ends: mysql2's close() only half-closes it
  const socket = await openSocket(host, port, attempt);
  const what = `handshake with ${formatTarget(host, port)} as ${opts.user}`;
  attempt.step = what;
  await new Promise<void>((resolve, reject) => {
    const conn = mysql.createConnection({
      stream: socket,
      user: opts.user,
      ...(opts.password === undefined ? {} : { password: opts.password }),
      connectTimeout: opts.timeoutMs,
    });
    onAttemptEnd(attempt, () => conn.destroy());
    const failed = (err: unknown): void => {
      const code = (err as { code?: unknown }).code;
      if (opts.acceptAuthError && typeof code === 'string' && AUTH_ERRORS.has(code)) resolve();
      else reject(new CheckFailed(`${what}: ${reasonOf(err)}`, { cause: err }));
    };
    conn.on('error', failed); // fatal errors after connect, or with no callback pending
    conn.connect((err) => {
      if (err) return failed(err);
      conn.end(); // writes COM_QUIT now; the socket itself is destroyed as the attempt ends
      resolve();
    });
  });
}
