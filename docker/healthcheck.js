// HEALTHCHECK: GET /readyz on the agent's status API (DOCKSTACK_STATUS_ADDR); exit 0 only on 200
// (HAProxy running and the initial sync complete; /healthz answers earlier, before HAProxy starts).
// Plain JS with no dependencies: it runs once per interval, so it must start fast.
import { request } from 'node:http';

const addr = process.env.DOCKSTACK_STATUS_ADDR || '127.0.0.1:7070';
const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(addr);
if (!m) {
  console.error(`healthcheck: DOCKSTACK_STATUS_ADDR: expected host:port, got "${addr}"`);
  process.exit(1);
}
const host = m[1] ?? m[2];
const req = request({ host: host === '0.0.0.0' ? '127.0.0.1' : host, port: Number(m[3]), path: '/readyz', timeout: 2000 }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on('timeout', () => req.destroy(new Error('timed out')));
req.on('error', (err) => {
  console.error(`healthcheck: GET http://${addr}/readyz: ${err.message}`);
  process.exit(1);
});
req.end();
