import { request, type IncomingMessage } from 'node:http';
import { StringDecoder } from 'node:string_decoder';
import { CheckFailed, reasonOf } from './check-failed.ts';
import { withDeadline, type Attempt } from './deadline.ts';
import { formatTarget, type HealthCheck } from './health-check.ts';

/** How much of a body is searched for `expectBody`: health pages are small, attackers are not. */
export const MAX_BODY_BYTES = 64 * 1024;

/** What an HTTP check asks for; defaults as in the manifest schema. */
export interface HttpCheckOptions {
  readonly path: string;
  readonly hostHeader?: string | undefined;
  /** Accepted statuses; default any 2xx or 3xx. */
  readonly expectStatus?: readonly number[] | undefined;
  /** A substring the first MAX_BODY_BYTES of the body must contain. */
  readonly expectBody?: string | undefined;
  readonly timeoutMs: number;
}

/** An HTTP GET check: up on an accepted status (and body, if asked). Redirects are not followed. */
export function httpCheck(host: string, port: number, opts: HttpCheckOptions): HealthCheck {
  const target = formatTarget(host, port);
  return {
    type: 'http',
    target,
    check: (signal) =>
      withDeadline(`GET ${opts.path}: connecting to ${target}`, opts.timeoutMs, signal, (attempt) =>
        get(host, port, opts, attempt),
      ),
  };
}

function get(host: string, port: number, opts: HttpCheckOptions, attempt: Attempt): Promise<void> {
  const what = `GET ${opts.path}`;
  return new Promise((resolve, reject) => {
    const fail = (reason: string, cause?: unknown): void => reject(new CheckFailed(`${what}: ${reason}`, { cause }));
    const req = request({
      host,
      port,
      path: opts.path,
      method: 'GET',
      agent: false, // a fresh connection per check, closed after it: no pooled sockets left behind
      signal: attempt.signal,
      headers: {
        ...(opts.hostHeader === undefined ? {} : { host: opts.hostHeader }),
        'user-agent': 'dockstack-health-check',
        accept: '*/*',
        connection: 'close',
      },
    });
    req.on('socket', (socket) => socket.once('connect', () => (attempt.step = `${what}: waiting for the response`)));
    req.on('error', (err) => {
      if (attempt.signal.aborted) return; // the deadline already reported why
      reject(new CheckFailed(`${attempt.step}: ${reasonOf(err)}`, { cause: err }));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const accepted = opts.expectStatus ? opts.expectStatus.includes(status) : status >= 200 && status < 400;
      if (!accepted) {
        res.destroy();
        const wanted = opts.expectStatus ? `, expected ${opts.expectStatus.join(' or ')}` : '';
        fail(`status ${status}${wanted}`);
      } else if (opts.expectBody === undefined) {
        res.destroy();
        resolve();
      } else {
        attempt.step = `${what}: reading the body`;
        readUntil(res, opts.expectBody).then((found) => {
          if (found.ok) resolve();
          else fail(`status ${status} but the body does not contain ${JSON.stringify(opts.expectBody)} (read ${found.bytes} bytes)`);
        }, (err: unknown) => fail(`reading the body: ${reasonOf(err)}`, err));
      }
    });
    req.end();
  });
}

/** Read `res` until `needle` appears, the body ends, or MAX_BODY_BYTES were read; then destroy it. */
function readUntil(res: IncomingMessage, needle: string): Promise<{ ok: boolean; bytes: number }> {
  return new Promise((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    let text = '';
    let bytes = 0;
    const finish = (ok: boolean): void => {
      res.destroy();
      resolve({ ok, bytes });
    };
    res.on('data', (chunk: Buffer) => {
      const room = MAX_BODY_BYTES - bytes;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      bytes += part.length;
      text += decoder.write(part);
      if (text.includes(needle)) finish(true);
      else if (bytes >= MAX_BODY_BYTES) finish(false);
    });
    res.on('end', () => finish((text + decoder.end()).includes(needle)));
    res.on('error', reject);
    res.on('close', () => {
      if (!res.complete) reject(new Error('connection closed before the body ended'));
    });
  });
}
