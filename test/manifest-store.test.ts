import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FileResult } from '../src/manifest/file-result.ts';
import { ManifestStore } from '../src/manifest/manifest-store.ts';
import type { ObjectKey } from '../src/object-key.ts';
import { parseManifestText } from '../src/manifest/parse.ts';

const svc = (name: string, port: number | string, extra = '') =>
  `apiVersion: dockstack.io/v1alpha1\nkind: Service\nmetadata:\n  name: ${name}\n${extra}spec:\n  path: /services/${name}\n  port: ${port}\n`;
const snap = (files: Record<string, string>): Map<string, FileResult> =>
  new Map(Object.entries(files).map(([f, text]) => [f, parseManifestText(text, f)]));
const port = (s: ManifestStore, key: ObjectKey) => {
  const m = s.get(key)?.manifest;
  return m?.kind === 'Service' ? m.spec.port : undefined;
};

describe('ManifestStore', () => {
  it('adds, reports changes and deletes with the file', () => {
    const s = new ManifestStore();
    assert.deepEqual(s.update(snap({ 'a.yaml': svc('db', 1) })), ['service/db']);
    assert.equal(s.get('service/db')?.generation, 1);
    assert.equal(s.get('service/db')?.file, 'a.yaml');
    assert.deepEqual(s.update(snap({ 'a.yaml': svc('db', 1) })), [], 'identical snapshot changes nothing');
    assert.deepEqual(s.update(new Map()), ['service/db']);
    assert.equal(s.get('service/db'), undefined);
    assert.deepEqual(s.keys(), []);
  });

  it('keeps the last good version while a document fails, with its errors', () => {
    const s = new ManifestStore();
    s.update(snap({ 'a.yaml': svc('db', 1) }));
    assert.deepEqual(s.update(snap({ 'a.yaml': svc('db', 'abc') })), ['service/db']);
    assert.equal(port(s, 'service/db'), 1);
    assert.deepEqual(s.errors('service/db').map((e) => e.message), ['a.yaml:7:9 spec.port: expected integer 1–65535, got "abc"']);
    assert.deepEqual(s.update(snap({ 'a.yaml': svc('db', 2) })), ['service/db']);
    assert.equal(port(s, 'service/db'), 2);
    assert.equal(s.get('service/db')?.generation, 2);
    assert.deepEqual(s.errors('service/db'), []);
  });

  it('keeps the last good version while a document holds a collection as a key (YAML with no JSON form)', () => {
    const s = new ManifestStore();
    s.update(snap({ 'a.yaml': svc('db', 1) }));
    assert.deepEqual(s.update(snap({ 'a.yaml': svc('db', 2, '  annotations: {[a, b]: x}\n') })), ['service/db']);
    assert.equal(port(s, 'service/db'), 1, 'the last good manifest stays in force');
    assert.deepEqual(s.errors('service/db').map((e) => e.message), ['a.yaml:5:17 metadata.annotations: a mapping key must be a scalar (text or a number), not a sequence']);
  });

  it('keeps the last good version while a document\'s aliases expand past the limit', () => {
    const s = new ManifestStore();
    s.update(snap({ 'a.yaml': svc('db', 1) }));
    let bomb = '  annotations:\n    a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 8; i++) bomb += `    a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
    assert.deepEqual(s.update(snap({ 'a.yaml': svc('db', 2, bomb) })), ['service/db']);
    assert.equal(port(s, 'service/db'), 1, 'the last good manifest stays in force');
    assert.match(s.errors('service/db').map((e) => e.message).join(), /^a\.yaml:1:1: cannot expand document: Excessive alias count/);
  });

  it('keeps the last good version while its document names no object (not a mapping), and only then', () => {
    const s = new ManifestStore();
    s.update(snap({ 'a.yaml': `${svc('web', 1)}---\n${svc('db', 1)}` }));
    const broken = `${svc('web', 2)}---\n- apiVersion: dockstack.io/v1alpha1\n  kind: Service\n`;
    assert.deepEqual(s.update(snap({ 'a.yaml': broken })), ['service/db', 'service/web']);
    assert.equal(port(s, 'service/db'), 1, 'db stays in force: its document may be the broken one');
    assert.deepEqual(s.errors('service/db').map((e) => e.message), ['a.yaml:9:1: expected a mapping with apiVersion, kind, metadata and spec, got a list']);
    assert.equal(port(s, 'service/web'), 2, 'the valid document is applied');
    assert.deepEqual(s.unattributedErrors(), [], 'the error is shown on the object it may belong to');
    // Moved to another file meanwhile: the fresh copy wins, nothing is held back.
    s.update(snap({ 'a.yaml': broken, 'b.yaml': svc('db', 3) }));
    assert.deepEqual([port(s, 'service/db'), s.get('service/db')?.file], [3, 'b.yaml']);
    assert.deepEqual(s.errors('service/db'), []);
    assert.equal(s.unattributedErrors().length, 1, 'with no object left to hold, the error is the file\'s own');
    // Fixed by deleting the broken document: db goes with it.
    s.update(snap({ 'a.yaml': svc('web', 2) }));
    assert.equal(s.get('service/db'), undefined);
  });

  it('records a failing new key with no manifest in force', () => {
    const s = new ManifestStore();
    assert.deepEqual(s.update(snap({ 'a.yaml': svc('db', 0) })), ['service/db']);
    assert.equal(s.get('service/db'), undefined);
    assert.deepEqual(s.keys(), ['service/db']);
    assert.equal(s.errors('service/db').length, 1);
  });

  it('keeps everything a fatal file provided', () => {
    const s = new ManifestStore();
    s.update(snap({ 'a.yaml': `${svc('x', 1)}---\n${svc('y', 2)}` }));
    const changed = s.update(snap({ 'a.yaml': `${svc('x', 1)}---\nbroken: [\n` }));
    assert.deepEqual(changed, ['service/x', 'service/y'], 'their errors changed');
    assert.deepEqual(s.list().map((m) => m.key), ['service/x', 'service/y']);
    assert.match(s.errors('service/y')[0]?.message ?? '', /^a\.yaml:\d+:\d+: YAML syntax error/);
    assert.deepEqual(s.unattributedErrors(), []);
    s.update(snap({ 'a.yaml': `${svc('x', 1)}---\n${svc('y', 2)}`, 'new.yaml': 'x: "' }));
    assert.equal(s.unattributedErrors().length, 1, 'a new unparseable file has no key');
  });

  it('gives a duplicate to the file that had it first, the error to the other', () => {
    const s = new ManifestStore();
    s.update(snap({ 'b.yaml': svc('db', 2) }));
    s.update(snap({ 'a.yaml': svc('db', 1), 'b.yaml': svc('db', 2) }));
    assert.equal(s.get('service/db')?.file, 'b.yaml');
    assert.deepEqual(s.errors('service/db').map((e) => e.message), [
      'a.yaml:1:1 metadata.name: duplicate Service "db": already defined at b.yaml:1:1',
    ]);
    const fresh = new ManifestStore();
    fresh.update(snap({ 'b.yaml': svc('db', 2), 'a.yaml': svc('db', 1) }));
    assert.equal(fresh.get('service/db')?.file, 'a.yaml', 'sorted order when neither had it');
    assert.equal(port(fresh, 'service/db'), 1);
    s.update(snap({ 'a.yaml': svc('db', 1) }));
    assert.equal(s.get('service/db')?.file, 'a.yaml', 'the survivor takes over when the first goes');
    assert.deepEqual(s.errors('service/db'), []);
  });

  it('bumps generation only when the spec changes', () => {
    const s = new ManifestStore();
    s.update(snap({ 'a.yaml': svc('db', 1) }));
    assert.deepEqual(s.update(snap({ 'a.yaml': svc('db', 1, '  labels: {team: x}\n') })), ['service/db']);
    assert.equal(s.get('service/db')?.generation, 1);
    assert.equal(s.get('service/db')?.manifest.metadata.labels?.['team'], 'x');
    s.update(snap({ 'a.yaml': svc('db', 5, '  labels: {team: x}\n') }));
    assert.equal(s.get('service/db')?.generation, 2);
    s.update(new Map());
    s.update(snap({ 'a.yaml': svc('db', 6) }));
    assert.equal(s.get('service/db')?.generation, 3, 'generations never go back after a delete');
  });

  it('lists by kind and attributes keyless errors', () => {
    const s = new ManifestStore();
    const sub = 'apiVersion: dockstack.io/v1alpha1\nkind: Subscription\nmetadata: {name: db}\nspec: {service: /services/db, listen: {port: 9}}\n';
    s.update(snap({ 'a.yaml': `${svc('db', 1)}---\n${sub}---\n- not a map\n` }));
    assert.deepEqual(s.list('Subscription').map((m) => m.key), ['subscription/db']);
    assert.deepEqual(s.list('Service').map((m) => m.key), ['service/db']);
    assert.deepEqual(s.unattributedErrors().map((e) => e.message), ['a.yaml:14:1: expected a mapping with apiVersion, kind, metadata and spec, got a list']);
  });
});
