import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { HaproxyError } from '../src/errors.ts';
import { SubscriptionSpec } from '../src/manifest/schema.ts';
import { listenerSpecOf } from '../src/reconcile/listener-spec.ts';
import { configKey, renderConfig, slotCountFor, type ListenerRender } from '../src/haproxy/config-render.ts';
import { ReloadManager } from '../src/haproxy/reload-manager.ts';
import type { ReloadReason } from '../src/proxy/proxy.ts';
import { parseShowProc, parseShowStat, splitAnswers } from '../src/haproxy/runtime-api.ts';
import { freeOps, layoutForReload, planRuntime, trim } from '../src/haproxy/slot-plan.ts';
import { blamedListener, checkSample } from '../src/haproxy/render-and-reload.ts';

const spec = (over: Record<string, unknown> = {}) => listenerSpecOf(SubscriptionSpec.parse({ service: '/services/db', listen: { port: 3307 }, ...over }));
const listener = (over: Partial<ListenerRender> = {}): ListenerRender => ({
  name: 'db',
  spec: spec({ check: { type: 'mysql', user: 'haproxy_check' } }),
  slots: [{ ip: '10.0.0.1', port: 3306, weight: 1, admin: 'ready' }, undefined],
  ...over,
});

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ds-render-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What the real HAProxy 2.6 says about `text`. */
async function haproxyCheck(text: string): Promise<{ ok: boolean; output: string }> {
  const path = join(dir, 'check.cfg');
  await writeFile(path, text);
  return new Promise((resolve) =>
    execFile('haproxy', ['-c', '-f', path], (err, stdout, stderr) => resolve({ ok: !err, output: stdout + stderr })),
  );
}

describe('renderConfig', () => {
  test('renders a mysql-checked tcp listener as a frontend and a backend with slots, accepted by haproxy -c', async () => {
    const text = renderConfig({ dir }, [listener()]);
    assert.match(text, /^frontend _fe_db\n  bind 127\.0\.0\.1:3307\n  mode tcp\n  timeout client 3600000ms\n  default_backend db\n\nbackend db\n  mode tcp\n  balance roundrobin\n  timeout connect 5000ms\n  timeout server 3600000ms$/m);
    assert.doesNotMatch(text, /^listen /m);
    assert.match(text, /^  option mysql-check user haproxy_check$/m);
    assert.match(text, /^  server s1 10\.0\.0\.1:3306 id 1 weight 1 check inter 2000 rise 2 fall 3$/m);
    assert.match(text, /^  server s2 127\.0\.0\.1:1 id 2 disabled check inter 2000 rise 2 fall 3$/m);
    assert.match(text, new RegExp(`stats socket ${dir}/admin\\.sock mode 600 level admin expose-fd listeners`));
    assert.match(text, /httpclient\.ssl\.verify none/);
    assert.match(text, /hard-stop-after \d+ms/);
    const r = await haproxyCheck(text);
    assert.ok(r.ok, r.output);
  });

  test('renders http checks with the 2.6 http-check syntax and idle-close-on-response', async () => {
    const s = spec({ mode: 'http', check: { type: 'http', path: '/health?x=1', hostHeader: 'db.example', interMs: 500, rise: 1, fall: 2 } });
    const text = renderConfig({ dir }, [listener({ spec: s, slots: [{ ip: '::1', port: 80, weight: 3, admin: 'maint' }] })]);
    // Listener-level options in the frontend, retries (and the rule that limits them) in the backend.
    assert.match(text, /^frontend _fe_db\n(  .*\n)*  option idle-close-on-response\n  default_backend db\n\nbackend db\n  mode http\n(  .*\n)*  retry-on conn-failure empty-response\n  http-request disable-l7-retry unless METH_GET\n/m);
    assert.match(text, /^  option httpchk\n  http-check send meth GET uri '\/health\?x=1' hdr Host db\.example$/m);
    assert.match(text, /^  option idle-close-on-response$/m);
    assert.match(text, /^  server s1 \[::1\]:80 id 1 weight 3 disabled check inter 500 rise 1 fall 2$/m);
    const r = await haproxyCheck(text);
    assert.ok(r.ok, r.output);
  });

  test('renders redis checks, no check for type none, and an empty config HAProxy accepts', async () => {
    assert.match(renderConfig({ dir }, [listener({ spec: spec({ check: { type: 'redis' } }) })]), /option redis-check/);
    const none = renderConfig({ dir }, [listener({ spec: spec({ check: { type: 'none' } }) })]);
    assert.doesNotMatch(none, /^  server .* check|check$/m);
    assert.doesNotMatch(renderConfig({ dir }, []), /^(listen|backend|frontend _fe_)/m);
    assert.ok((await haproxyCheck(renderConfig({ dir }, []))).ok, '(await haproxyCheck(renderConfig({ dir }, []))).ok');
  });

  test('rejects hostile values even when the schema was bypassed', () => {
    const hostile: ListenerRender[] = [
      listener({ name: 'db\n  stats enable' }),
      listener({ name: 'DB' }),
      listener({ name: '_fe_db' }),
      listener({ spec: { ...spec(), check: { kind: 'mysql', user: 'x\nlisten evil', intervalMs: 100, rise: 1, fall: 1 } } }),
      listener({ spec: { ...spec(), check: { kind: 'http', path: "/a' hdr X y", intervalMs: 100, rise: 1, fall: 1 } } }),
      listener({ spec: { ...spec(), check: { kind: 'http', path: '/a\n', intervalMs: 100, rise: 1, fall: 1 } } }),
      listener({ spec: { ...spec(), listen: { host: '127.0.0.1 ssl', port: 1 } } }),
      listener({ spec: { ...spec(), balance: 'round-robin\n  option x' as 'round-robin' } }),
      listener({ slots: [{ ip: 'evil.example\n', port: 1, weight: 1, admin: 'ready' }] }),
      listener({ slots: [{ ip: '10.0.0.1', port: 70000, weight: 1, admin: 'ready' }] }),
      // node's isIP takes a zone; HAProxy cannot resolve it, and a sampled `haproxy -c` may not see the line.
      listener({ slots: [{ ip: '::1', port: 1, weight: 1, admin: 'ready' }, { ip: 'fe80::1%lo', port: 1, weight: 1, admin: 'ready' }] }),
      listener({ spec: { ...spec(), timeouts: { connectMs: 1.5, clientMs: 1, serverMs: 1 } } }),
    ];
    for (const l of hostile) assert.throws(() => renderConfig({ dir }, [l]), HaproxyError, JSON.stringify(l).slice(0, 120));
    assert.throws(() => renderConfig({ dir: '/tmp/a b' }, []), HaproxyError);
    assert.throws(() => renderConfig({ dir }, [listener(), listener()]), /duplicate/);
  });

  test('configKey changes with the listener, not with Subscription fields that do not reach it', () => {
    assert.equal(configKey(spec()), configKey(spec({ maintenance: ['10.0.0.1:1'], defaultServers: ['10.0.0.2:2'] })));
    assert.notEqual(configKey(spec()), configKey(spec({ listen: { port: 3308 } })));
  });

  test('a failed bind is blamed on the listener whose frontend HAProxy names', () => {
    const out = '[ALERT]    (16632) : Binding [/d/h.cfg:7] for frontend _fe_web: cannot bind socket (Address already in use) for [127.0.0.1:45791]';
    assert.equal(blamedListener(out, ['db', 'we', 'web']), 'web');
    assert.equal(blamedListener(out, ['db', 'fe_web']), undefined);
  });

  test('source balancing hashes consistently, so dynamic servers can be added', async () => {
    const text = renderConfig({ dir }, [listener({ spec: spec({ balance: 'source' }) })]);
    assert.match(text, /balance source\n  hash-type consistent/);
    assert.ok((await haproxyCheck(text)).ok, '(await haproxyCheck(text)).ok');
  });
});

describe('slot planning', () => {
  const w = (port: number, extra: Partial<{ weight: number; maint: boolean }> = {}) => ({ ip: '10.0.0.1', port, weight: 1, maint: false, ...extra });

  test('slot counts grow geometrically from minSlots, four steps per doubling', () => {
    assert.deepEqual([0, 8, 9, 17, 100, 8193, 10_000, 16_384].map((n) => slotCountFor(n, 8)), [8, 8, 10, 20, 112, 10_240, 10_240, 16_384]);
  });

  const shape = (rendered: number, checks: boolean, lua = false) => ({ backend: 'db', rendered, checkArgs: checks ? ' check inter 100 rise 1 fall 1' : '', lua });

  test('planRuntime fills, drains, reweights and holds in maint', () => {
    const first = planRuntime(shape(3, true), [undefined, undefined, undefined], [w(1), w(2)], { now: 0, drainMs: 100 });
    assert.deepEqual(first.ops, [
      'set server db/s1 addr 10.0.0.1 port 1', 'set weight db/s1 1', 'enable health db/s1', 'set server db/s1 state ready',
      'set server db/s2 addr 10.0.0.1 port 2', 'set weight db/s2 1', 'enable health db/s2', 'set server db/s2 state ready',
    ]);
    const second = planRuntime(shape(3, false), first.slots, [w(2, { weight: 5, maint: true }), w(3)], { now: 10, drainMs: 100 });
    assert.deepEqual(second.ops, [
      'set server db/s1 state drain', 'set weight db/s2 5', 'set server db/s2 state maint',
      'set server db/s3 addr 10.0.0.1 port 3', 'set weight db/s3 1', 'set server db/s3 state ready',
    ]);
    assert.equal(second.slots[0]?.drainUntil, 110);
    assert.deepEqual(planRuntime(shape(3, false), second.slots, [w(1), w(2), w(3)], { now: 0, drainMs: 1 }).ops, [
      'set server db/s1 state ready', 'set weight db/s2 1', 'set server db/s2 state ready',
    ]);
  });

  test('past the config slots, planRuntime adds dynamic servers; freeing one deletes it', () => {
    const full = [{ ip: '10.0.0.1', port: 1, weight: 1, admin: 'drain' as const }];
    const p = planRuntime(shape(1, true), full, [w(2, { weight: 3 }), w(3, { maint: true })], { now: 0, drainMs: 1 });
    assert.deepEqual(p.ops, [
      'add server db/s2 10.0.0.1:2 id 2 weight 3 check inter 100 rise 1 fall 1', 'enable health db/s2', 'set server db/s2 state ready',
      'add server db/s3 10.0.0.1:3 id 3 weight 1 check inter 100 rise 1 fall 1', 'enable health db/s3',
    ]);
    assert.equal(p.slots.length, 3);
    assert.deepEqual(freeOps(shape(1, true), 2), ['set server db/s3 state maint', 'disable health db/s3', 'del server db/s3']);
    assert.deepEqual(freeOps(shape(1, false), 0), ['set server db/s1 state maint']);
    assert.deepEqual(trim([p.slots[0], undefined, undefined], 1).length, 1);
    const untouched = planRuntime(shape(1, true), p.slots, [w(2, { weight: 3 }), w(3, { maint: true })], { now: 0, drainMs: 1 });
    assert.deepEqual(untouched.ops, [], 'unchanged servers get no commands');
  });

  test('with dockstack.lua loaded, a config slot edit is one `dockstack slot`; dynamic servers keep the native commands', () => {
    const first = planRuntime(shape(2, true, true), [undefined, undefined], [w(1), w(2), w(3, { maint: true })], { now: 0, drainMs: 100 });
    assert.deepEqual(first.ops, [
      'dockstack slot db/s1 10.0.0.1 1 1 ready on', 'dockstack slot db/s2 10.0.0.1 2 1 ready on',
      'add server db/s3 10.0.0.1:3 id 3 weight 1 check inter 100 rise 1 fall 1', 'enable health db/s3',
    ]);
    const second = planRuntime(shape(2, false, true), first.slots, [w(2, { weight: 5 }), w(3)], { now: 0, drainMs: 100 });
    assert.deepEqual(second.ops, ['dockstack slot db/s1 - - - drain -', 'dockstack slot db/s2 - - 5 ready -', 'set server db/s3 state ready']);
    assert.deepEqual(freeOps(shape(2, true, true), 0), ['dockstack slot db/s1 - - - maint off']);
    assert.deepEqual(freeOps(shape(2, true, true), 2), ['set server db/s3 state maint', 'disable health db/s3', 'del server db/s3']);
  });

  test('splitAnswers attributes each answer of a batch to its command', () => {
    const text = "IP changed from '127.0.0.1' to '127.0.0.2'\n\nInvalid addr 'fe80::1%lo'\n\n\nNo such server.\n\nNew server registered.\n\n\n";
    assert.deepEqual(splitAnswers(text, 6), ["IP changed from '127.0.0.1' to '127.0.0.2'", "Invalid addr 'fe80::1%lo'", '', 'No such server.', 'New server registered.', '']);
    assert.equal(splitAnswers(text, 5), undefined);
    assert.equal(splitAnswers('truncated', 1), undefined);
    // Measured on 2.6: `del server` ends its answer without the blank line.
    assert.deepEqual(splitAnswers('\nServer deleted.\n\nServer deleted.\n', 4), ['', 'Server deleted.', '', 'Server deleted.']);
  });

  test('checkSample keeps the first empty slot and the first server line of each kind (family, admin state, weight)', () => {
    const v4 = (n: number, admin: 'ready' | 'drain' | 'maint' = 'ready', weight = 1) => ({ ip: `10.0.0.${n}`, port: 80, weight, admin });
    const v6 = { ip: '2001:db8::1', port: 80, weight: 1, admin: 'ready' as const };
    const slots = [v4(1), v4(2), undefined, v4(3, 'maint'), v4(4, 'drain'), v4(5, 'ready', 7), v6, { ...v6, ip: '2001:db8::2' }, undefined, v4(6)];
    assert.deepEqual(checkSample(slots), [v4(1), undefined, v4(3, 'maint'), v4(5, 'ready', 7), v6]);
    assert.equal(checkSample(Array.from({ length: 10_240 }, (_, i) => (i < 10_000 ? v4(i % 250) : undefined))).length, 2);
  });

  test('layoutForReload keeps slot positions, drops drains and grows', () => {
    const slots = [{ ip: '10.0.0.1', port: 1, weight: 1, admin: 'drain' as const }, { ip: '10.0.0.1', port: 2, weight: 1, admin: 'ready' as const }];
    const next = layoutForReload(slots, Array.from({ length: 9 }, (_, i) => w(i + 2)), 8);
    assert.equal(next.length, 10);
    assert.equal(next[1]?.port, 2);
    assert.equal(next[0]?.port, 3);
    assert.equal(next.filter(Boolean).length, 9);
  });
});

describe('parsers', () => {
  test('parseShowProc reads master, workers and old workers', () => {
    const text = [
      '#<PID>          <type>          <reloads>       <uptime>        <version>',
      '6401            master          2 [failed: 1]   0d00h00m06s     2.6.12',
      '# workers', '6447            worker          0               0d00h00m03s     2.6.12',
      '# old workers', '6404            worker          1               0d00h00m03s     2.6.12', '# programs', '',
    ].join('\n');
    assert.deepEqual(parseShowProc(text), [
      { pid: 6401, type: 'master', reloads: 2, failedReloads: 1 },
      { pid: 6447, type: 'worker', reloads: 0 },
      { pid: 6404, type: 'old-worker', reloads: 1 },
    ]);
  });

  test('parseShowStat keys rows by header and rejects garbage', () => {
    const rows = parseShowStat('# pxname,svname,status,\ndb,s1,UP,\ndb,BACKEND,UP,\n');
    assert.deepEqual(rows[0], { pxname: 'db', svname: 's1', status: 'UP' });
    assert.throws(() => parseShowStat('Unknown command'), HaproxyError);
  });
});

describe('ReloadManager', () => {
  test('coalesces a burst into one reload carrying every reason, and reports failures to all', async () => {
    const runs: ReloadReason[][] = [];
    let fail = false;
    const m = new ReloadManager({
      debounceMs: 5,
      minIntervalMs: 0,
      run: async (reasons) => {
        runs.push([...reasons]);
        if (fail) throw new HaproxyError('boom');
        return { reloaded: true, rejected: new Map() };
      },
    });
    const added = (listener: string) => ({ cause: 'listener-added' as const, listener });
    const outcomes = await Promise.all(['a', 'b', 'c', 'a'].map((r) => m.request(added(r))));
    assert.deepEqual(runs, [['a', 'b', 'c'].map(added)]);
    assert.deepEqual(outcomes[3], { reloaded: true, rejected: new Map(), reasons: ['a', 'b', 'c'].map(added) });
    fail = true;
    await assert.rejects(Promise.all([m.request(added('x')), m.request(added('y'))]), /boom/);
    assert.equal(runs.length, 2);
    assert.equal(m.count, 1);
    m.close();
    await assert.rejects(m.request(added('z')), /closed/);
  });
});
