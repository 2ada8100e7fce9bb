/**
 * GET /metrics/haproxy: HAProxy's built-in Prometheus exporter (PROMEX: haproxy_process_*,
 * haproxy_frontend_*, haproxy_backend_*, haproxy_server_* series), read from the unix socket the
 * rendered config binds in the HAProxy state directory and passed through unchanged. Bounded by a
 * timeout; 503 with the reason when HAProxy does not answer.
 */
import { request } from 'node:http';
import type { ServerResponse } from 'node:http';

export function haproxyMetricsRoute(socketPath: string, timeoutMs = 5000): (pathname: string, res: ServerResponse) => boolean {
  return (pathname, res) => {
    if (pathname !== '/metrics/haproxy') return false;
    const fail = (why: string) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end(`reading HAProxy's Prometheus exporter at ${socketPath}: ${why}\n`);
    };
    const req = request({ socketPath, path: '/metrics', timeout: timeoutMs }, (up) => {
      if (up.statusCode !== 200) {
        up.resume();
        return fail(`HTTP ${up.statusCode}`);
      }
      res.writeHead(200, { 'content-type': up.headers['content-type'] ?? 'text/plain; version=0.0.4' });
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => fail(err.message));
    req.end();
    return true;
  };
}
