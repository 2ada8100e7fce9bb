/**
 * Bounded HTTP client loads through a listener on 127.0.0.1: short connections (one request per
 * TCP connection, raw sockets so the client costs little CPU) and keep-alive requests (node's
 * http.Agent). Every request counts as ok (status 200 and a body) or failed, with the reason.
 */
import { Agent, get } from 'node:http';
import { createConnection } from 'node:net';
import { now } from '../stats.ts';

export interface LoadStats {
  ok: number;
  failed: number;
  readonly errors: Map<string, number>;
  readonly latencies: number[];
}

export interface LoadOptions {
  readonly port: number;
  readonly workers: number;
  /** Checked before each request; the load ends when it returns true. */
  readonly stop: () => boolean;
  /** Hard bound: no request starts after this long. */
  readonly maxMs: number;
  readonly timeoutMs?: number;
}

/** Empty counters; pass them to a load to watch it progress. */
export const newStats = (): LoadStats => ({ ok: 0, failed: 0, errors: new Map(), latencies: [] });

function record(stats: LoadStats, t0: number, error: string | undefined): void {
  if (error === undefined) {
    stats.ok++;
    stats.latencies.push(now() - t0);
  } else {
    stats.failed++;
    stats.errors.set(error, (stats.errors.get(error) ?? 0) + 1);
  }
}

async function loop(opts: LoadOptions, one: () => Promise<string | undefined>, stats: LoadStats): Promise<void> {
  const deadline = now() + opts.maxMs;
  while (!opts.stop() && now() < deadline) {
    const t0 = now();
    record(stats, t0, await one());
  }
}

/** One request on a fresh connection; resolves with undefined on success or the failure reason. */
function shortRequest(port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = createConnection(port, '127.0.0.1');
    let got = '';
    let settled = false;
    const done = (err: string | undefined) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve(err);
    };
    sock.setTimeout(timeoutMs, () => done('timeout'));
    sock.on('connect', () => sock.write('GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n'));
    sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
    sock.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    sock.on('close', () => {
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(got)?.[1];
      const body = got.slice(got.indexOf('\r\n\r\n') + 4);
      done(status === '200' && body.length > 0 ? undefined : `status ${status ?? 'none'}`);
    });
  });
}

export async function shortConnections(opts: LoadOptions, stats = newStats()): Promise<LoadStats> {
  const timeout = opts.timeoutMs ?? 5000;
  await Promise.all(Array.from({ length: opts.workers }, () => loop(opts, () => shortRequest(opts.port, timeout), stats)));
  return stats;
}

export async function keepAliveRequests(opts: LoadOptions, stats = newStats()): Promise<LoadStats> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.workers });
  const one = () =>
    new Promise<string | undefined>((resolve) => {
      const req = get({ host: '127.0.0.1', port: opts.port, path: '/', agent, timeout: opts.timeoutMs ?? 5000 }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve(res.statusCode === 200 && body.length > 0 ? undefined : `status ${res.statusCode}`));
        res.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
  try {
    await Promise.all(Array.from({ length: opts.workers }, () => loop(opts, one, stats)));
  } finally {
    agent.destroy();
  }
  return stats;
}

/** "ECONNRESET ×3, status 503 ×1", or "none". */
export function describeErrors(stats: LoadStats): string {
  if (stats.errors.size === 0) return 'none';
  return [...stats.errors].map(([k, v]) => `${k} ×${v}`).join(', ');
}
