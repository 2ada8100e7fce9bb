/**
 * `dockstack validate PATH… [-R]` runs without commander (src/cli/validate-main.ts). Its output and
 * exit code must be the full CLI's, byte for byte: each case runs both ways, the full CLI reached by
 * putting the paths after `--` (to commander the same arguments; to the fast path not plain), and
 * the import recorder shows which of the two each run took.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { dockstackLoading } from './harness/imports.ts';
import { service, subscription } from './harness/static-source.ts';

const COMMANDER = '/node_modules/commander/';
let root: string;
let good: string;
let bad: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'dockstack-validate-fast-'));
  good = join(root, 'good');
  bad = join(root, 'bad');
  await mkdir(join(good, 'nested'), { recursive: true });
  await mkdir(join(bad, 'nested'), { recursive: true });
  await writeFile(join(good, 'api.yaml'), service('api', 'path: /api\nport: 8080'));
  await writeFile(join(good, 'nested', 'db.yaml'), subscription('db', 'service: /path/test\nlisten: { port: 13306 }'));
  await writeFile(join(bad, 'a.yaml'), subscription('db', 'service: /path/test\nlisten: { port: "abc" }'));
  await writeFile(join(bad, 'b.yaml'), `${service('web', 'path: /web\nport: 99999')}---\nkind: [unclosed\n`);
  await writeFile(join(bad, 'd.yaml'), service('cache', 'path: /cache\nport: 6379'));
  await writeFile(join(bad, 'nested', 'c.yaml'), service('cache', 'path: /cache2\nport: 6380'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Run `validate args` on the fast path and through the full CLI; both must print and exit alike. */
async function same(args: string[], expectCode: number, stdin?: string) {
  const isFlag = (a: string) => a === '-R' || a === '--recursive';
  const flags = args.filter(isFlag);
  const paths = args.filter((a) => !isFlag(a));
  const fast = await dockstackLoading(['validate', ...args], { stdin });
  const full = await dockstackLoading(['validate', ...flags, '--', ...paths], { stdin });
  assert.deepEqual(fast.urls.filter((u) => u.includes(COMMANDER)), [], 'the plain form ran without commander');
  assert.ok(full.urls.some((u) => u.includes(COMMANDER)), 'the -- form ran the full CLI');
  assert.deepEqual({ code: fast.code, stdout: fast.stdout, stderr: fast.stderr }, { code: full.code, stdout: full.stdout, stderr: full.stderr });
  assert.equal(fast.code, expectCode, fast.stderr);
  assert.ok(fast.stdout + fast.stderr, 'something was printed');
  return fast;
}

describe('validate: the fast path prints what the full CLI prints', () => {
  test('valid files and directories, with and without -R / --recursive', async () => {
    assert.equal((await same(['manifests/'], 0)).stdout.endsWith(' file(s) valid\n'), true);
    assert.equal((await same([good], 0)).stdout, '2 manifest(s) in 2 file(s) valid\n');
    await same(['-R', good, 'manifests/'], 0);
    await same([join(good, 'api.yaml'), '--recursive'], 0);
  });

  test('invalid manifests: located errors, a YAML syntax error, a name duplicated across files, exit 1', async () => {
    const r = await same([bad], 1);
    assert.match(r.stderr, /a\.yaml:7:19 spec\.listen\.port: /);
    assert.match(r.stderr, /b\.yaml:10:1: YAML syntax error/);
    assert.match(r.stderr, /nested\/c\.yaml:\S+ metadata\.name: duplicate Service "cache"/);
    await same(['-R', good, bad], 1);
  });

  test('missing paths (one named help, one empty), alone and among good ones', async () => {
    const r = await same([join(root, 'nope.yaml'), 'help', ''], 1);
    assert.match(r.stderr, /help: reading path: ENOENT/);
    await same([good, join(root, 'nope')], 1);
  });

  test('- reads stdin: valid, and invalid among files', async () => {
    await same(['-'], 0, service('web', 'path: /web\nport: 8080'));
    await same(['-', good], 1, service('web', 'path: /web\nport: "abc"'));
  });

  test('anything else goes to the full CLI: --help, no path, other flags, a path that looks like a flag', async () => {
    const cases: [string[], number, RegExp][] = [
      [['--help'], 0, /^Usage: dockstack validate /],
      [[], 2, /missing required argument 'paths'/],
      [['--frobnicate', good], 2, /unknown option '--frobnicate'/],
      [['-Rx', good], 2, /unknown option '-x'/],
      [['-h', good], 0, /^Usage: dockstack validate /],
    ];
    for (const [args, code, out] of cases) {
      const r = await dockstackLoading(['validate', ...args]);
      assert.ok(r.urls.some((u) => u.includes(COMMANDER)), `validate ${args.join(' ')} ran the full CLI`);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stdout + r.stderr, out);
    }
  });

  // The bundle runs validate's code through vm.Script with a cache made at build time (scripts/build.mjs,
  // src/cli/cached-commonjs.ts). V8 drops a cache that does not fit silently, so check it is taken,
  // by a node started as the binary is (no flags). Measured: 188 → 150 ms a run (BENCHMARKS.md).
  test('the built validate code compiles with its V8 code cache accepted', () => {
    const file = fileURLToPath(new URL('../dist/cli/validate-code.cjs', import.meta.url));
    const check = "const fs = require('node:fs'); const f = process.argv[1]; const s = new (require('node:vm').Script)(fs.readFileSync(f, 'utf8'), { filename: f, cachedData: fs.readFileSync(f + '.cache') }); process.stdout.write(String(s.cachedDataRejected));";
    assert.equal(execFileSync(process.execPath, ['-e', check, file], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }), 'false');
  });
});
