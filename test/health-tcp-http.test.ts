import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HealthCheckSpec } from '../src/manifest/schema.ts';
import { fails } from './harness/check-assert.ts';
import { createCheck } from '../src/health/create-check.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';

const host = '127.0.0.1';
let http: HttpServer;
let httpPort: number;
let hung: Server;
let hungPort: number;
const hungSockets = new Set<Socket>();

const check = (spec: Record<string, unknown>, port: number) =>
  createCheck(HealthCheckSpec.parse({ timeoutMs: 2000, ...spec }), { host, port });


const listen = (srv: Server | HttpServer): Promise<number> =>
  new Promise((resolve) => srv.listen(0, host, () => resolve((srv.address() as { port: number }).port)));

before(async () => {
  http = createHttpServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/ok') res.end('all good');
    else if (url === '/fail') res.writeHead(503).end('down');
    else if (url === '/redirect') res.writeHead(302, { location: '/ok' }).end();
    else if (url === '/teapot') res.writeHead(418).end();
    else if (url === '/big') res.end(`${'x'.repeat(100 * 1024)}needle`);
    else if (url === '/host') res.writeHead(req.headers.host === 'svc.example' ? 200 : 404).end();
    else if (url === '/slow') return; // accepts the request, never answers
    else res.writeHead(404).end();
  });
  httpPort = await listen(http);
  hung = createServer((s) => {
    hungSockets.add(s);
    s.resume(); // read (and drop) requests so a client close is seen
    s.on('close', () => hungSockets.delete(s));
  });
  hungPort = await listen(hung);
});

after(async () => {
  http.closeAllConnections();
  for (const s of hungSockets) s.destroy();
  await Promise.all([new Promise((r) => http.close(r)), new Promise((r) => hung.close(r))]);
});

describe('tcp check', () => {
  it('passes when the port accepts', async () => {
    const c = check({ type: 'tcp' }, httpPort);
    assert.equal(c.type, 'tcp');
    assert.equal(c.target, `${host}:${httpPort}`);
    await c.check(new AbortController().signal);
  });

  it('fails with ECONNREFUSED on a closed port', async () => {
    const port = await freePort();
    await fails(check({ type: 'tcp' }, port).check(new AbortController().signal), new RegExp(`^connecting to 127\\.0\\.0\\.1:${port}: ECONNREFUSED$`));
  });

  it('goes down when the server stops listening', async () => {
    const srv = createServer((s) => s.destroy());
    const port = await listen(srv);
    const c = check({ type: 'tcp' }, port);
    await c.check(new AbortController().signal);
    await new Promise((r) => srv.close(r));
    await fails(c.check(new AbortController().signal), /ECONNREFUSED/);
  });

  it('fails at once when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await fails(check({ type: 'tcp' }, httpPort).check(ac.signal), /aborted$/);
  });

  it('uses spec.host and spec.port over the service address', async () => {
    const c = createCheck(HealthCheckSpec.parse({ type: 'tcp', host, port: httpPort }), { host: '192.0.2.1', port: 1 });
    assert.equal(c.target, `${host}:${httpPort}`);
    await c.check(new AbortController().signal);
  });
});

describe('http check', () => {
  const run = (spec: Record<string, unknown>) => check({ type: 'http', ...spec }, httpPort).check(new AbortController().signal);

  it('passes on 200 and on 3xx by default', async () => {
    await run({ path: '/ok' });
    await run({ path: '/redirect' });
  });

  it('fails on 503 and 418 by default, saying the status', async () => {
    await fails(run({ path: '/fail' }), /^GET \/fail: status 503$/);
    await fails(run({ path: '/teapot' }), /^GET \/teapot: status 418$/);
  });

  it('accepts exactly the statuses in expectStatus', async () => {
    await run({ path: '/teapot', expectStatus: [418] });
    await fails(run({ path: '/ok', expectStatus: [204] }), /status 200, expected 204/);
    await fails(run({ path: '/redirect', expectStatus: [200] }), /status 302/);
  });

  it('checks expectBody within the first 64 KiB', async () => {
    await run({ path: '/ok', expectBody: 'good' });
    await fails(run({ path: '/ok', expectBody: 'bad' }), /body does not contain "bad"/);
    await fails(run({ path: '/big', expectBody: 'needle' }), /read 65536 bytes/);
    await run({ path: '/big', expectBody: 'xxx' });
  });

  it('sends hostHeader as Host', async () => {
    await run({ path: '/host', hostHeader: 'svc.example' });
    await fails(run({ path: '/host' }), /status 404/);
  });

  it('fails with ECONNREFUSED on a closed port', async () => {
    const port = await freePort();
    await fails(check({ type: 'http', path: '/health' }, port).check(new AbortController().signal), new RegExp(`^GET /health: connecting to 127\\.0\\.0\\.1:${port}: ECONNREFUSED$`));
  });

  it('times out on a server that accepts the request and never answers', async () => {
    await fails(run({ path: '/slow', timeoutMs: 150 }), /^GET \/slow: waiting for the response: timed out after 150 ms$/);
  });

  it('stops at once when aborted', async () => {
    const ac = new AbortController();
    const p = check({ type: 'http', path: '/slow', timeoutMs: 60_000 }, httpPort).check(ac.signal);
    setImmediate(() => ac.abort());
    await fails(p, /aborted$/);
  });
});

describe('a server that accepts and never answers', () => {
  for (const type of ['http', 'mysql', 'redis'] as const) {
    it(`fails the ${type} check by timeout, and the connection is closed`, async () => {
      const before = hungSockets.size;
      await fails(check({ type, timeoutMs: 150 }, hungPort).check(new AbortController().signal), /timed out after 150 ms$/);
      // the check closed its side, so the server sees the socket close
      await eventually(() => assert.equal(hungSockets.size, before), { timeoutMs: 5000 });
    });
  }

  it('passes the tcp check: accepting is all a TCP check can observe', async () => {
    await check({ type: 'tcp', timeoutMs: 150 }, hungPort).check(new AbortController().signal);
  });
});
