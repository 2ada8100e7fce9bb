/**
 * The manifest parse's fast path (js-yaml, src/manifest/plain-yaml.ts) against the parser of
 * record (`yaml`): every fixture, and generated manifests in every scalar style, parse to the same
 * result (values, positions, document indices, located errors) with it and without it.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { FileResult } from '../src/manifest/file-result.ts';
import { parseManifestBytes, parseManifestText } from '../src/manifest/parse.ts';
import { plainDocuments } from '../src/manifest/plain-yaml.ts';

const comparable = (r: FileResult) => ({
  file: r.file,
  fatal: r.fatal,
  manifests: r.manifests,
  errors: r.errors.map((e) => [e.message, r.errorKeys.get(e)]),
});

/** Both paths' results for `text`, and whether the fast path produced the result. */
function bothWays(text: string, file = 'f.yaml') {
  const fast = parseManifestText(text, file);
  const slow = parseManifestText(text, file, { plain: false });
  return { fast: comparable(fast), slow: comparable(slow), plain: plainDocuments(text) !== undefined && fast.errors.length === 0 };
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (/\.(ya?ml|json)$/.test(e.name)) out.push(p);
  }
  return out;
}

describe('manifest fast path', () => {
  test('every fixture and example parses the same with and without it', async () => {
    const files = (await Promise.all(['test/fixtures/good', 'test/fixtures/bad', 'manifests'].map(filesUnder))).flat();
    assert.ok(files.length > 200, `only ${files.length} files`);
    let plain = 0;
    for (const f of files) {
      const bytes = await readFile(f);
      const fast = parseManifestBytes(bytes, f);
      // The bytes path decodes first; the text path is what both share from there.
      const slow = fast.fatal && fast.manifests.length === 0 && fast.errors.some((e) => /binary content|larger than/.test(e.message)) ? fast : parseManifestText(new TextDecoder().decode(bytes), f, { plain: false });
      assert.deepEqual(comparable(fast), comparable(slow), f);
      if (fast.errors.length === 0 && fast.manifests.length > 0) plain++;
    }
    assert.ok(plain >= 10, `only ${plain} files of valid manifests`);
  });

  test('declines what it cannot read as `yaml` does, and `yaml` then decides', () => {
    const doc = (spec: string, meta = '') => `apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata:\n  name: a\n${meta}spec:\n  path: /s\n${spec}`;
    const cases: [string, string][] = [
      ['an alias', doc('  port: &p 80\n  weight: *p\n')],
      ['a tag', doc('  port: !!int "80"\n')],
      ['a YAML 1.1 directive', `%YAML 1.1\n---\n${doc('  port: 80\n  maintenance: yes\n')}`],
      ['a null label key', doc('  port: 80\n', '  labels: {~: x}\n')],
      ['a key spelled null', doc('  port: 80\n', '  annotations: {"null": x}\n')],
      ['a flow-collection key', doc('  port: 80\n', '  annotations: {[a]: x}\n')],
      ['an explicit key', doc('  port: 80\n', '  annotations:\n    ? a\n    : x\n')],
    ];
    for (const [what, text] of cases) {
      assert.equal(plainDocuments(text), undefined, what);
      const { fast, slow } = bothWays(text);
      assert.deepEqual(fast, slow, what);
    }
    // Read as `yaml` reads it: `<<` is a key like any other in YAML 1.2 (an unknown field here).
    assert.deepEqual(bothWays(doc('  <<: {port: 80}\n  port: 80\n')).fast, bothWays(doc('  <<: {port: 80}\n  port: 80\n')).slow);
    assert.match(parseManifestText(doc('  <<: {port: 80}\n  port: 80\n'), 'f.yaml').errors[0]?.message ?? '', /spec\["<<"\]: unknown field/);
    // The one that yaml accepts: the key is the string "null", and it is valid.
    assert.deepEqual(parseManifestText(doc('  port: 80\n', '  annotations: {"null": x}\n'), 'f.yaml').manifests[0]?.manifest.metadata.annotations, { null: 'x' });
  });

  test('reads YAML 1.2 core scalars as `yaml` does, not as js-yaml`s own schema does', () => {
    const docs = plainDocuments('a: [0b1, 1_000, 0755, 0o17, 0x1F, +5, 1e3, .5, -.inf, .NaN, ~, Null, yes, On, tRue, True, 2001-12-14]\n');
    assert.deepEqual(docs?.[0]?.data, { a: ['0b1', '1_000', 755, 15, 31, 5, 1000, 0.5, -Infinity, NaN, null, null, 'yes', 'On', 'tRue', true, '2001-12-14'] });
  });

  test('gives each manifest the position `yaml` gives it', () => {
    const m = (name: string) => `apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata: {name: ${name}}\nspec: {path: /s, port: 1}\n`;
    const flow = '{apiVersion: dockstack.io/v1alpha1, kind: Service, metadata: {name: f}, spec: {path: /s, port: 1}}\n';
    const text = `# head\n---\n\n  # c\n${m('a')}--- # x\n---\n${m('b').replace(/^(?=.)/gm, '  ')}...\n--- ${flow}---\n\n${m('c')}`;
    for (const t of [text, text.replace(/\n/g, '\r\n')]) {
      const { fast, slow, plain } = bothWays(t);
      assert.ok(plain, 'the fast path read it');
      assert.deepEqual(fast.manifests.map((x) => [x.key, x.index, x.position]), slow.manifests.map((x) => [x.key, x.index, x.position]));
      assert.deepEqual(fast.manifests.map((x) => x.position.line), [5, 11, 16, 19]);
    }
  });

  const CASES = Number(process.env.PLAIN_YAML_CASES ?? 3000);
  test(`${CASES} generated and mutated manifests parse the same both ways`, () => {
    let seed = Number(process.env.PLAIN_YAML_SEED ?? 1);
    let fastValid = 0;
    for (let i = 0; i < CASES; i++) {
      const text = generated(() => {
        // mulberry32: a small seeded generator, so a failure names a reproducible case.
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      });
      const { fast, slow, plain } = bothWays(text);
      assert.deepEqual(fast, slow, `case ${i}:\n${text}`);
      if (plain && fast.manifests.length > 0) fastValid++;
    }
    // The generator must reach the fast path often, or this test would hold nothing to account.
    assert.ok(fastValid > CASES / 5, `only ${fastValid} of ${CASES} cases went the fast way`);
  });
});

const TAME = ['plain', 'two words', 'a.b-c_d', 'http://x/y', 'ünï ✓', "it's", 'quote"s'];
const STRINGS = ['plain', 'two words', 'a:b', 'a: b', 'a #b', 'x#y', '-dash', '- item', 'http://x/y?z=1', 'ünï ✓', '1_000', '0b1', '017', '0o17', '0x1F', '+5', '1e3', '.5', '.inf', 'NaN', '~', 'null', 'nULL', 'yes', 'on', 'True', 'tRUE', '2001-12-14', '12:30:00', '', ' lead', 'trail ', 'tab\there', 'quote"s', "it's", 'back\\slash', 'a\nb', 'a\n\nb', 'end\n', 'x\u2028y', '%pct', '@at', '`tick', '|pipe', '>gt', '[br', '{br', ',comma', '?q', 'q?', '#hash', '...', '---', 'a\r\nb', 'a\rb', '\\n', 'x\u0085y', 'x\u00a0y', 'x\ufeffy'];
const KEYS = ['app', 'a.b/c', 'k-1', '1', '0x1', 'true', '~', 'null', '"null"', '""', "'q'", 'k k', '"a\\tb"', 'ü'];

function generated(rnd: () => number): string {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number) => rnd() < p;
  // Most choices tame, some wild: the cases that matter are the ones the fast path still reads.
  const wild = rnd() * 0.4;
  const either = <T,>(tame: readonly T[], all: readonly T[]): T => pick(chance(wild) ? all : tame);
  const ind = pick(['  ', '    ', ' ']);
  const styled = (s: string, depth: number): string => {
    const pad = ind.repeat(depth + 1);
    switch (either(['plain', 'single', 'double'], ['plain', 'single', 'double', 'double-escapes', 'literal', 'folded', 'multiline'])) {
      case 'plain':
        return s;
      case 'single':
        return `'${s.replace(/'/g, "''")}'`;
      case 'double':
        return JSON.stringify(s);
      case 'double-escapes':
        return `"${[...s].map((c) => (chance(0.3) ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0').slice(-2)}` : c === '"' || c === '\\' ? `\\${c}` : c)).join('')}${pick(['', '\\t', '\\u00e9', '\\/', '\\N', '\\_', '\\ ', '\\\n' + pad])}"`;
      case 'literal':
      case 'folded':
        return `${chance(0.5) ? '|' : '>'}${pick(['', '-', '+', '2', '-2'])}${chance(0.2) ? ' # c' : ''}\n${s.split('\n').map((l) => pad + l).join('\n')}`;
      default:
        return s.replace(/ /g, () => (chance(0.5) ? `\n${pad}` : ' '));
    }
  };
  const comment = () => (chance(0.15) ? pick([' # c', ' #', '  # x: y']) : '');
  const map = (entries: [string, string][], depth: number, flow: boolean): string =>
    flow
      ? `{${entries.map(([k, v]) => `${k}: ${v.includes('\n') ? JSON.stringify(v) : v}`).join(', ')}}`
      : entries.map(([k, v]) => `\n${ind.repeat(depth + 1)}${k}:${v.startsWith('\n') ? '' : ' '}${v}${comment()}`).join('');
  const value = (depth: number) => styled(either(TAME, STRINGS), depth);
  const strings = (depth: number) => {
    const entries = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => [either(['app', 'a.b/c', 'k-1'], KEYS), value(depth + 1)] as [string, string]);
    return map(chance(wild) ? entries : entries.filter(([k], i) => entries.findIndex(([j]) => j === k) === i), depth, chance(0.3));
  };
  const doc = (n: number): string => {
    const kind = chance(0.5) ? 'Service' : 'Subscription';
    const name = chance(0.9) ? `n${n}` : styled(pick(['n', 'N', 'a b', '1']), 1);
    const meta: [string, string][] = [['name', name]];
    if (chance(0.5)) meta.push(['labels', strings(1)]);
    if (chance(0.5)) meta.push(['annotations', strings(1)]);
    const port = either(['80', '0x50', '+80'], ['80', '"80"', "'80'", '0x50', '0o120', '80.0', '+80', '8_0', '080', '8e1', '65536', '!!int 80']);
    const bool = either(['true', 'false'], ['true', 'false', 'True', 'FALSE', 'yes', '"true"', '~']);
    const spec: [string, string][] =
      kind === 'Service'
        ? [['path', pick(['/s', "'/s/a'", '"/s/b"', '/s # c'])], ['port', port], ...(chance(0.3) ? [['maintenance', bool] as [string, string]] : []), ...(chance(0.3) ? [['checks', pick(['[]', '[{type: tcp}]', `\n${ind}${ind}- type: http\n${ind}${ind}${ind}path: ${pick(['/h', '"/h?x"', '/a b'])}`])] as [string, string]] : [])]
        : [['service', '/s'], ['listen', chance(0.5) ? `{port: ${port}}` : `\n${ind}${ind}port: ${port}`], ...(chance(0.3) ? [['failStatic', bool] as [string, string]] : []), ...(chance(0.3) ? [['defaultServers', pick(['["127.0.0.1:1"]', "['[::1]:80']", '[a:1, b:2]'])] as [string, string]] : [])];
    const flowMeta = chance(0.2) && !meta.some(([, v]) => v.includes('\n'));
    return `apiVersion: dockstack.io/v1alpha1${comment()}\nkind: ${kind}\nmetadata:${flowMeta ? ` ${map(meta, 0, true)}` : map(meta, 0, false)}\nspec:${map(spec, 0, false)}\n`;
  };
  const docs = Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, n) => doc(n));
  let text = (chance(0.2) ? pick(['# head\n', '---\n', '--- # c\n', '\n\n']) : '') + docs.join(pick(['---\n', '...\n---\n', '---\n---\n', '--- # x\n']));
  if (chance(0.1)) text = text.replace(/\n/g, '\r\n');
  // Mutations: the texts a slip of the hand makes.
  for (let m = chance(wild) ? 1 + Math.floor(rnd() * 3) : 0; m > 0; m--) {
    const at = Math.floor(rnd() * text.length);
    const op = pick(['delete', 'insert', 'indent', 'dedent', 'duplicate-line', 'tab']);
    if (op === 'delete') text = text.slice(0, at) + text.slice(at + 1);
    else if (op === 'insert') text = text.slice(0, at) + pick([':', ' ', '-', '#', '"', "'", '[', ']', '{', '}', ',', '|', '>', '\n', '\r', '?', '@', '%', '\\', '\u0085']) + text.slice(at);
    else if (op === 'tab') text = text.slice(0, at) + '\t' + text.slice(at);
    else {
      const start = text.lastIndexOf('\n', at) + 1;
      const end = text.indexOf('\n', at) < 0 ? text.length : text.indexOf('\n', at) + 1;
      const line = text.slice(start, end);
      text = text.slice(0, start) + (op === 'indent' ? ` ${line}` : op === 'dedent' ? line.replace(/^ /, '') : line + line) + text.slice(end);
    }
  }
  return text;
}
