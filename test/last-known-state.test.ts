/**
 * The last-known-backends state file on a real filesystem: round trip across instances (a
 * restart), TTL, bounded size, and a corrupt, truncated or foreign file reported once and ignored.
 */
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LastKnownState, MAX_STATE_BYTES } from '../src/reconcile/last-known-state.ts';
import { tempDir } from './harness/fs.ts';

let dir: { path: string; cleanup: () => Promise<void> };
before(async () => (dir = await tempDir('ds-last-known')));
after(() => dir.cleanup());

const A = [{ host: '10.0.0.1', port: 3306 }, { host: '10.0.0.3', port: 3306, weight: 5 }];

test('a set written by one instance is read by the next, with the time it was seen', async () => {
  const file = join(dir.path, 'rt', 'state.json');
  const first = new LastKnownState({ file, now: () => 1_000_000 });
  first.set('subscription/db', '/services/db', A);
  first.set('subscription/empty', '/services/e', []);
  await first.flush();
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const next = new LastKnownState({ file, now: () => 1_000_000 + 60_000 });
  await next.load();
  assert.deepEqual(next.get('subscription/db', '/services/db'), { path: '/services/db', servers: A, seenAt: 1_000_000, fromFile: true });
  assert.equal(next.get('subscription/db', '/services/other'), undefined, 'another path is another set');
  assert.equal(next.get('subscription/empty', '/services/e'), undefined, 'empty sets are never stored');
});

test('a set older than the TTL is not used', async () => {
  const file = join(dir.path, 'ttl.json');
  let now = 0;
  const s = new LastKnownState({ file, ttlMs: 1000, now: () => now });
  s.set('subscription/db', '/services/db', A);
  await s.flush();
  now = 999;
  const fresh = new LastKnownState({ file, ttlMs: 1000, now: () => now });
  await fresh.load();
  assert.ok(fresh.get('subscription/db', '/services/db'), "fresh.get('subscription/db', '/services/db')");
  now = 1001;
  assert.equal(fresh.get('subscription/db', '/services/db'), undefined);
});

test('a corrupt, truncated or foreign file is reported once with its path and ignored', async () => {
  const good = new LastKnownState({ file: join(dir.path, 'good.json') });
  good.set('subscription/db', '/services/db', A);
  await good.flush();
  const text = await readFile(join(dir.path, 'good.json'), 'utf8');
  const cases: Array<[string, string, RegExp]> = [
    ['truncated.json', text.slice(0, text.length / 2), /not JSON/],
    ['foreign.json', JSON.stringify({ kind: 'Something', version: 1 }), /not a DockStack state file/],
    ['badserver.json', text.replace('10.0.0.1', 'evil host;\\n'), /invalid server/],
    ['binary.json', '\u0000\u0001\u0002', /not JSON/],
  ];
  for (const [name, body, why] of cases) {
    const file = join(dir.path, name);
    await writeFile(file, body);
    const problems: string[] = [];
    const s = new LastKnownState({ file, onProblem: (m) => problems.push(m) });
    await s.load();
    assert.equal(problems.length, 1, name);
    assert.match(problems[0]!, why);
    assert.ok(problems[0]!.includes(file), 'names the path');
    assert.equal(s.get('subscription/db', '/services/db'), undefined);
    // A registry answer then replaces the bad file.
    s.set('subscription/db', '/services/db', A);
    await s.flush();
    const again = new LastKnownState({ file, onProblem: (m) => problems.push(m) });
    await again.load();
    assert.equal(problems.length, 1);
    assert.ok(again.get('subscription/db', '/services/db'), "again.get('subscription/db', '/services/db')");
  }
});

test('the file stays within its bound: the oldest sets are dropped', async () => {
  const file = join(dir.path, 'big.json');
  let now = 0;
  const s = new LastKnownState({ file, now: () => now });
  const servers = Array.from({ length: 500 }, (_, i) => ({ host: `10.1.${i >> 8}.${i & 255}`, port: 1000 + i }));
  for (let k = 0; k < 300; k++) {
    now = k;
    s.set(`subscription/s${k}`, `/services/s${k}`, servers);
  }
  await s.flush();
  const size = (await stat(file)).size;
  assert.ok(size <= MAX_STATE_BYTES, `${size} bytes`);
  const back = new LastKnownState({ file, now: () => now });
  await back.load();
  assert.ok(back.get('subscription/s299', '/services/s299'), 'the newest set is kept');
  assert.equal(back.get('subscription/s0', '/services/s0'), undefined, 'the oldest set was dropped');
});
