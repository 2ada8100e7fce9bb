import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadPath, parseManifestBytes, parseManifestText } from '../src/manifest/load.ts';
import { MAX_MANIFEST_BYTES } from '../src/manifest/parse.ts';
import { validateFiles } from '../src/manifest/validate-files.ts';

const BAD = 'test/fixtures/bad';
const GOOD = 'test/fixtures/good';
const svc = (name: string, port: number | string = 1) =>
  `apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  path: /services/${name}\n  port: ${port}\n`;

describe('bad corpus', async () => {
  const expected = JSON.parse(await readFile(join(BAD, 'expected.json'), 'utf8')) as Record<string, string[]>;
  const files = (await readdir(BAD)).filter((f) => f !== 'expected.json').sort();

  it('has an expectation for every case and at least 200 cases', () => {
    assert.ok(files.length >= 200, `only ${files.length} cases`);
    assert.deepEqual(files, Object.keys(expected).sort());
    for (const [f, errs] of Object.entries(expected)) assert.ok(errs.length > 0, `${f} expects no error`);
  });

  for (const f of files) {
    it(f, async () => {
      const r = parseManifestBytes(await readFile(join(BAD, f)), f);
      assert.deepEqual(r.errors.map((e) => e.message), expected[f]);
      for (const e of r.errors) assert.match(e.message, new RegExp(`^${f.replace(/\./g, '\\.')}:\\d+:\\d+[ :]`), 'every error is located');
    });
  }
});

describe('parseManifestText', () => {
  it('refuses a mapping or sequence used as a key, in its document alone, located, with no Node warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const bad = svc('b').replace('spec:\n', 'spec:\n  ? [a, b]\n  : x\n');
      const r = parseManifestText(`${svc('a')}---\n${bad}---\n${svc('c')}`, 'k.yaml');
      assert.deepEqual(r.manifests.map((m) => m.key), ['service/a', 'service/c']);
      assert.deepEqual(r.errors.map((e) => e.message), ['k.yaml:14:5 spec: a mapping key must be a scalar (text or a number), not a sequence']);
      assert.deepEqual([...r.errorKeys.values()], ['service/b'], 'the error names its object, whose last good manifest then stays in force');
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings, []);
  });

  it('keeps the good documents next to a bad one and names the failed key', () => {
    const r = parseManifestText(`${svc('a')}---\n${svc('b', 'x')}---\n${svc('c')}`, 'f.yaml');
    assert.equal(r.fatal, false);
    assert.deepEqual(r.manifests.map((m) => [m.key, m.index, m.position.line]), [['service/a', 0, 1], ['service/c', 2, 17]]);
    assert.deepEqual([...new Set(r.errorKeys.values())], ['service/b']);
    assert.equal(r.errors.length, 1);
    assert.equal(r.errorKeys.get(r.errors[0]!), 'service/b');
  });

  it('makes a file with a YAML syntax error fatal', () => {
    const r = parseManifestText(`${svc('a')}---\nx: [1\n`, 'f.yaml');
    assert.equal(r.fatal, true);
    assert.deepEqual(r.manifests, []);
    assert.equal(r.errors.length, 1);
  });

  it('fills defaults from the schema', () => {
    const r = parseManifestText(svc('a'), 'f.yaml');
    const m = r.manifests[0]?.manifest;
    assert.equal(m?.kind, 'Service');
    assert.deepEqual(m.kind === 'Service' ? [m.spec.checks, m.spec.maintenance] : undefined, [[], false]);
  });

  it('refuses a file over the size limit with one located error', () => {
    const big = `# ${'x'.repeat(MAX_MANIFEST_BYTES)}\n`;
    for (const r of [parseManifestText(big, 'big.yaml'), parseManifestBytes(Buffer.from(big), 'big.yaml')]) {
      assert.equal(r.fatal, true);
      assert.deepEqual(r.errors.map((e) => e.message), [`big.yaml:1:1: file is ${MAX_MANIFEST_BYTES + 3} bytes, larger than the ${MAX_MANIFEST_BYTES}-byte limit`]);
    }
  });

  it('survives deep nesting and a large billion-laughs quickly', () => {
    const started = Date.now();
    const deep = parseManifestText(`a: ${'{'.repeat(200_000)}\n`, 'deep.yaml');
    assert.deepEqual(deep.errors.map((e) => e.message), ['deep.yaml:1:68: nesting deeper than 64 levels']);
    let block = '';
    for (let i = 0; i < 1400; i++) block += `${' '.repeat(i)}- \n`;
    const nested = parseManifestText(block, 'block.yaml');
    assert.equal(nested.fatal, true);
    assert.ok(nested.errors.length >= 1 && nested.errors.length <= 20, `${nested.errors.length} errors`);
    let laughs = 'a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
    for (let i = 1; i < 30; i++) laughs += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    const r = parseManifestText(laughs, 'lol.yaml');
    assert.match(r.errors[0]?.message ?? '', /^lol\.yaml:1:1: cannot expand document: Excessive alias count/);
    assert.ok(Date.now() - started < 5000, 'hostile input is handled fast');
  });
});

describe('loadPath and validateFiles', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dockstack-load-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the good fixtures and the examples without errors', async () => {
    for (const path of [GOOD, 'manifests']) {
      const results = await loadPath(path);
      assert.ok(results.length >= 3, 'results.length >= 3');
      assert.deepEqual(validateFiles(results).map((e) => e.message), []);
    }
    const keys = (await loadPath(GOOD)).flatMap((r) => r.manifests.map((m) => m.key));
    assert.ok(keys.includes('service/bom') && keys.includes('service/json-svc') && keys.includes('subscription/mysql'), keys.join());
  });

  it('reports a name duplicated across files on the later file only', async () => {
    await writeFile(join(dir, 'a.yaml'), svc('db'));
    await writeFile(join(dir, 'b.yaml'), `# moved\n${svc('db', 2)}`);
    await writeFile(join(dir, '.hidden.yaml'), svc('db', 3));
    await writeFile(join(dir, 'notes.txt'), 'not a manifest');
    const results = await loadPath(dir);
    assert.deepEqual(results.map((r) => r.file), [join(dir, 'a.yaml'), join(dir, 'b.yaml')]);
    assert.deepEqual(validateFiles(results).map((e) => e.message), [
      `${join(dir, 'b.yaml')}:2:1 metadata.name: duplicate Service "db": already defined at ${join(dir, 'a.yaml')}:1:1`,
    ]);
  });

  it('turns a missing path into one fatal result', async () => {
    const [r] = await loadPath(join(dir, 'nope.yaml'));
    assert.equal(r?.fatal, true);
    assert.match(r?.errors[0]?.message ?? '', /nope\.yaml: reading path: ENOENT/);
  });
});
