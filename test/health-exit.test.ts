import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { startMariaDB, type MariaDBServer } from './harness/mariadb.ts';
import { freePort } from './harness/ports.ts';
import { startRedis, type RedisServer } from './harness/redis.ts';

// The child runs checks against up, refused and accept-but-never-answer servers, then a
// ServiceHealth stopped mid-check, and must exit on its own: any socket, timer or client a check
// left behind would keep its event loop alive (the hung server never closes its side).
const src = (p: string) => pathToFileURL(resolve(import.meta.dirname, '..', 'src', p)).href;
const CHILD = `
import { createCheck } from '${src('health/create-check.ts')}';
import { ServiceHealth } from '${src('health/service-health.ts')}';
import { HealthCheckSpec } from '${src('manifest/schema.ts')}';
const { cases, hungPort } = JSON.parse(process.argv[2]);
const host = '127.0.0.1';
const results = await Promise.all(cases.map(async (c) => {
  const check = createCheck(HealthCheckSpec.parse(c.spec), { host, port: c.port });
  try { await check.check(new AbortController().signal); return { name: c.name, ok: true }; }
  catch (err) { return { name: c.name, ok: false, error: err.message }; }
}));
const specs = ['tcp', 'http', 'mysql', 'redis'].map((type) => HealthCheckSpec.parse({ type, intervalMs: 50, timeoutMs: 60000 }));
const health = new ServiceHealth(specs, { host, port: hungPort }, () => {});
health.start();
// Stop mid-check: once all four checks hold a connection to the hung server (bounded: 10 s).
const sockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;
for (let i = 0; i < 1000 && sockets() < specs.length; i++) await new Promise((r) => setTimeout(r, 10));
await health.stop();
const busy = () => process.getActiveResourcesInfo().filter((r) => /TCP|Timeout|Immediate/.test(r));
for (let i = 0; i < 100 && busy().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
console.log(JSON.stringify({ results, leftover: busy() }));
`;

let dir: string;
let db: MariaDBServer;
let redis: RedisServer;
let http: HttpServer;
let hung: Server;
const hungSockets = new Set<Socket>();
const listen = (srv: Server | HttpServer): Promise<number> =>
  new Promise((r) => srv.listen(0, '127.0.0.1', () => r((srv.address() as { port: number }).port)));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dockstack-health-exit-'));
  [db, redis] = await Promise.all([startMariaDB(), startRedis()]);
  http = createHttpServer((_req, res) => res.end('ok'));
  hung = createServer((s) => {
    hungSockets.add(s);
    s.on('close', () => hungSockets.delete(s));
  });
});

after(async () => {
  http?.closeAllConnections();
  for (const s of hungSockets) s.destroy();
  await Promise.all([
    db?.stop(),
    redis?.stop(),
    new Promise((r) => (http?.listening ? http.close(r) : r(undefined))),
    new Promise((r) => (hung?.listening ? hung.close(r) : r(undefined))),
    dir && rm(dir, { recursive: true, force: true }),
  ]);
});

it('a process running checks against up, down and hung servers exits by itself', async () => {
  const [httpPort, hungPort, refused] = await Promise.all([listen(http), listen(hung), freePort()]);
  // Hung servers time out after 300 ms; servers that answer get a deadline a loaded CI machine
  // meets (a 300 ms one there failed "http up" once, with the child still starting up).
  const t = { timeoutMs: 300 };
  const live = { timeoutMs: 10_000 };
  const cases = [
    { name: 'tcp up', port: httpPort, spec: { type: 'tcp', ...live } },
    { name: 'tcp down', port: refused, spec: { type: 'tcp', ...live } },
    { name: 'http up', port: httpPort, spec: { type: 'http', ...live } },
    { name: 'http down', port: refused, spec: { type: 'http', ...live } },
    { name: 'http hung', port: hungPort, spec: { type: 'http', ...t } },
    { name: 'mysql up', port: db.port, spec: { type: 'mysql', ...live } },
    { name: 'mysql denied', port: db.port, spec: { type: 'mysql', user: 'nobody', ...live } },
    { name: 'mysql down', port: refused, spec: { type: 'mysql', ...live } },
    { name: 'mysql hung', port: hungPort, spec: { type: 'mysql', ...t } },
    { name: 'redis up', port: redis.port, spec: { type: 'redis', ...live } },
    { name: 'redis down', port: refused, spec: { type: 'redis', ...live } },
    { name: 'redis hung', port: hungPort, spec: { type: 'redis', ...t } },
  ];
  const script = join(dir, 'child.mts');
  await writeFile(script, CHILD);
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify({ cases, hungPort })], {
    cwd: resolve(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  // Generous bound, only so a leak fails the test instead of hanging it.
  const deadlineMs = 30_000;
  const exit = await new Promise<{ code: number | null; timedOut: boolean }>((done) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ code: null, timedOut: true });
    }, deadlineMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, timedOut: false });
    });
  });
  assert.equal(exit.timedOut, false, `child still running after ${deadlineMs} ms; stdout: ${stdout} stderr: ${stderr}`);
  assert.equal(exit.code, 0, stderr);
  const out = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    results: { name: string; ok: boolean; error?: string }[];
    leftover: string[];
  };
  assert.deepEqual(out.leftover, [], 'handles left after every check settled');
  const byName = Object.fromEntries(out.results.map((r) => [r.name, r]));
  for (const name of ['tcp up', 'http up', 'mysql up', 'redis up']) assert.equal(byName[name]?.ok, true, `${name}: ${byName[name]?.error}`);
  for (const name of ['tcp down', 'http down', 'mysql down', 'redis down']) assert.match(byName[name]?.error ?? 'passed', /ECONNREFUSED/, name);
  for (const name of ['http hung', 'mysql hung', 'redis hung']) assert.match(byName[name]?.error ?? 'passed', /timed out after 300 ms/, name);
  assert.match(byName['mysql denied']?.error ?? 'passed', /Access denied/);
});
