/**
 * The per-path budget the etcd listing and watch share (pure: no server): entries in key order until
 * one does not fit, then only keys; watch events count against the same budget and a delete frees it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PathBudget } from '../src/registry/etcd-range.ts';

const strip = (k: string) => k.replace(/^\/dockstack/, '');

test('a listing admits entries until one does not fit; every later one is rejected, even a small one', () => {
  const b = new PathBudget({ maxEntries: 10, maxBytes: 100 }, strip);
  assert.equal(b.admit('/dockstack/p/a', 60), true);
  assert.equal(b.admit('/dockstack/p/b', 60), false);
  assert.equal(b.full(), true);
  assert.equal(b.admit('/dockstack/p/c', 1), false, 'key order decides, not size');
  assert.deepEqual(b.rejected.map((r) => r.key), ['/p/b', '/p/c']);
  assert.match(b.rejected[0]!.reason, /^over the 100-byte limit of a path/);
  assert.equal(b.entries, 3);
});

test('watch events: growth is rejected, a delete frees room for the next put, an update is re-measured', () => {
  const b = new PathBudget({ maxEntries: 3, maxBytes: 100 }, strip);
  b.admit('/dockstack/p/a', 50);
  assert.equal(b.update('/dockstack/p/b', 40), undefined);
  assert.match(b.update('/dockstack/p/c', 20)?.reason ?? '', /^over the 100-byte limit of a path$/);
  assert.equal(b.update('/dockstack/p/a', undefined), undefined);
  assert.equal(b.update('/dockstack/p/c', 20), undefined, 'room freed by the delete');
  assert.match(b.update('/dockstack/p/b', 90)?.reason ?? '', /byte limit/, 'b is re-measured without its old 40 bytes: 20 + 90 > 100');
  assert.equal(b.update('/dockstack/p/d', 70), undefined, 'the rejected b holds no bytes');
  assert.deepEqual(b.update('/dockstack/p/e', 1), { key: '/p/e', reason: 'past the 3-entry limit of a path' });
});
