/**
 * The dashboard in a real browser (Debian's headless Chromium via playwright-core) against a real
 * agent with a real HAProxy 2.6 and a watched manifest directory: a backend that HAProxy's check
 * marks DOWN, and its return, show on the open page without a reload; a bad manifest's located
 * error shows; without a token the page has no control and the API refuses writes; with one, the
 * page's maintenance button works only with the right token; the manifests are a git checkout, and
 * the revision in force and an object's failing revision show live. Leaves a screenshot in ARTIFACTS.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { MemoryRegistry } from '../src/registry/memory-registry.ts';
import { startAgent, type RunningAgent } from '../src/run-agent.ts';
import { answering, startTcpBackend, type TestBackend } from './harness/backends.ts';
import { ARTIFACTS, launchBrowser, type TestBrowser } from './harness/browser.ts';
import { eventually } from './harness/eventually.ts';
import { freePort } from './harness/ports.ts';
import { service, StaticSource, subscription } from './harness/static-source.ts';

let dir: string;
let manifests: string;
let running: RunningAgent;
let browser: TestBrowser;
let page: Page;
let a: TestBackend;
let b: TestBackend;
let listenPort: number;
const git = (...args: string[]) => execFileSync('git', ['-C', manifests, '-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { encoding: 'utf8' }).trim();

const backendState = (sub: string, address: string) => page.locator(`[data-object="subscription/${sub}"] [data-backend="${address}"] .state`);
async function shows(sub: string, address: string, state: string): Promise<void> {
  await eventually(async () => assert.equal(await backendState(sub, address).textContent({ timeout: 1000 }), state), { timeoutMs: 20_000 });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-dash-'));
  manifests = join(dir, 'manifests');
  await mkdir(manifests);
  [a, b] = [await startTcpBackend('a'), await startTcpBackend('b')];
  listenPort = await freePort();
  await writeFile(join(manifests, 'web-a.yaml'), service('web-a', `path: /services/web\nport: ${a.port}\nchecks:\n  - { type: tcp, intervalMs: 500 }`));
  await writeFile(join(manifests, 'web-b.yaml'), service('web-b', `path: /services/web\nport: ${b.port}`));
  await writeFile(join(manifests, 'web.yaml'), subscription('web', `service: /services/web\nlisten: { port: ${listenPort} }\ncheck: { type: tcp, interMs: 200, rise: 1, fall: 1 }`));
  await writeFile(join(manifests, 'cache.yaml'), subscription('cache', `service: /services/cache\nlisten: { port: ${await freePort()} }\ndefaultServers: ["127.0.0.1:${a.port}"]\ncheck: { type: none }`));
  git('init', '-q');
  git('add', '.');
  git('commit', '-qm', 'one');
  running = await startAgent({ manifestsDir: manifests, registry: new MemoryRegistry(), host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'haproxy', haproxyDir: join(dir, 'haproxy') });
  await eventually(async () => assert.deepEqual([...(await answering(listenPort, 6))].sort(), ['a', 'b']), { timeoutMs: 30_000 });
  browser = await launchBrowser();
  page = await browser.context.newPage();
});
after(async () => {
  await browser?.close();
  await running?.stop();
  await Promise.all([a, b].map((x) => x?.close()));
  await rm(dir, { recursive: true, force: true });
});

describe('dashboard', () => {
  test('serves the page, its script and style from the agent, with a CSP that allows nothing else', async () => {
    const res = await fetch(`http://${running.statusAddr}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    for (const asset of ['/dashboard.js', '/dashboard.css']) assert.equal((await fetch(`http://${running.statusAddr}${asset}`)).status, 200, asset);
  });

  test('a backend that HAProxy marks DOWN, and its return, show without a reload', async () => {
    const failed: string[] = [];
    page.on('requestfailed', (r) => failed.push(r.url()));
    page.on('pageerror', (e) => failed.push(String(e)));
    await page.goto(`http://${running.statusAddr}/`);
    const bAddr = `127.0.0.1:${b.port}`;
    await shows('web', `127.0.0.1:${a.port}`, 'UP');
    await shows('web', bAddr, 'UP');
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));

    const port = b.port;
    await b.close();
    await shows('web', bAddr, 'DOWN');
    assert.match((await page.locator('[data-object="subscription/web"] .updown').textContent()) ?? '', /^1\/2 up$/);
    assert.match((await page.locator(`[data-object="subscription/web"] [data-backend="${bAddr}"]`).textContent()) ?? '', /L4CON/);

    b = await startTcpBackend('b', port);
    await shows('web', bAddr, 'UP');
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page was not reloaded');
    assert.deepEqual(failed, []);
  });

  test('shows defaults as the source of a Subscription with nothing registered, and Services with their checks', async () => {
    await eventually(async () => assert.match((await page.locator('[data-object="subscription/cache"] .card-head').textContent({ timeout: 1000 })) ?? '', /defaults/));
    assert.match((await page.locator('[data-object="service/web-a"]').textContent()) ?? '', new RegExp(`127\\.0\\.0\\.1:${a.port}.*tcp 127\\.0\\.0\\.1:${a.port} · pass`));
  });

  test("a bad manifest's located error shows, beside a DOWN backend (screenshot)", async () => {
    const port = b.port;
    await b.close();
    await writeFile(join(manifests, 'bad.yaml'), subscription('bad', `service: /services/bad\nlisten: { port: 70000 }`));
    await eventually(async () => assert.match((await page.locator('#errors').textContent({ timeout: 1000 })) ?? '', /subscription\/bad .*bad\.yaml:7:\d+ spec\.listen\.port: /), { timeoutMs: 20_000 });
    await shows('web', `127.0.0.1:${port}`, 'DOWN');
    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    b = await startTcpBackend('b', port);
    await rm(join(manifests, 'bad.yaml'));
    await eventually(async () => assert.equal(await page.locator('#errors').isHidden(), true), { timeoutMs: 20_000 });
  });

  test('the revision in force in the header; a new revision that fails shows beside the one in force, without a reload', async () => {
    await page.evaluate(() => Object.assign(window, { sameDocument: true }));
    const first = git('rev-parse', 'HEAD').slice(0, 12);
    const revision = () => page.locator('#revision').textContent({ timeout: 1000 });
    await eventually(async () => assert.equal(await revision(), `revision ${first}`), { timeoutMs: 20_000 });
    assert.match((await page.locator('[data-object="service/web-b"] .source').textContent()) ?? '', new RegExp(`/web-b\\.yaml:1:1 @ ${first}$`));

    await writeFile(join(manifests, 'web-b.yaml'), service('web-b', `path: /services/web\nport: eighty`));
    git('commit', '-qam', 'two: breaks web-b');
    const second = git('rev-parse', 'HEAD').slice(0, 12);
    const failed = page.locator('[data-object="service/web-b"] .failed-revision');
    await eventually(async () => {
      assert.equal(await revision(), `revision ${second}`);
      assert.equal(await failed.textContent({ timeout: 1000 }), `revision ${second} invalid`);
    }, { timeoutMs: 20_000 });
    assert.match((await failed.getAttribute('title')) ?? '', new RegExp(`does not validate; ${first} stays in force$`));
    assert.match((await page.locator('#errors').textContent()) ?? '', new RegExp(`service/web-b \\(revision ${second}\\) .*web-b\\.yaml:\\d+:\\d+ spec\\.port: `));

    await writeFile(join(manifests, 'web-b.yaml'), service('web-b', `path: /services/web\nport: ${b.port}\nweight: 2`));
    git('commit', '-qam', 'three: fixes web-b');
    const third = git('rev-parse', 'HEAD').slice(0, 12);
    await eventually(async () => {
      assert.equal(await failed.count(), 0);
      assert.match((await page.locator('[data-object="service/web-b"] .source').textContent({ timeout: 1000 })) ?? '', new RegExp(`@ ${third}$`));
    }, { timeoutMs: 20_000 });
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page was not reloaded');
  });

  test('without a token: no control on the page, and the API refuses a write from it', async () => {
    assert.equal(await page.locator('button, input, textarea, select, form').count(), 0);
    const status = await page.evaluate(async () => (await fetch('/api/v1/subscriptions/web/maintenance', { method: 'POST', body: '{"backend":"127.0.0.1:1","on":true}' })).status);
    assert.equal(status, 403);
  });
});

describe('dashboard with a token', () => {
  test('offers drain and maintenance; a write needs the right token', async () => {
    const source = new StaticSource();
    const ro = await startAgent({ manifestsDir: dir, registry: new MemoryRegistry(), host: '127.0.0.1', statusAddr: '127.0.0.1:0', proxy: 'none', haproxyDir: join(dir, 'tok'), source, statusToken: 'tok-1' });
    try {
      source.set('s.yaml', service('api', 'path: /services/api\nport: 9001'));
      source.set('sub.yaml', subscription('api', `service: /services/api\nlisten: { port: ${await freePort()} }`));
      const p = await browser.context.newPage();
      await p.goto(`http://${ro.statusAddr}/`);
      const maint = p.locator('[data-object="subscription/api"] [data-backend="127.0.0.1:9001"] button');
      await maint.waitFor({ timeout: 20_000 });
      assert.equal(await p.locator('[data-object="service/api"] button').textContent(), 'Drain');

      await p.fill('#token', 'wrong');
      await maint.click();
      await eventually(async () => assert.match((await p.locator('#toast').textContent()) ?? '', /refused \(401\)/));
      assert.equal(await p.locator('[data-object="subscription/api"] [data-backend="127.0.0.1:9001"] .state').textContent(), 'PENDING', 'no proxy reports it');

      await p.fill('#token', 'tok-1');
      await maint.click();
      await eventually(async () => assert.equal(await p.locator('[data-object="subscription/api"] [data-backend="127.0.0.1:9001"] .state').textContent({ timeout: 1000 }), 'MAINT'), { timeoutMs: 20_000 });
      assert.equal(await maint.textContent(), 'Release');
      await p.close();
    } finally {
      await ro.stop();
    }
  });
});
