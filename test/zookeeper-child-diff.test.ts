import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diffChildren } from '../src/registry/zookeeper-watch.ts';

const diff = (prev: string[], children: string[]) => {
  const { added, gone } = diffChildren(prev, new Set(prev), children);
  return { added: [...added].sort(), gone: [...gone].sort() };
};

test('diffChildren: adds and removals in place, in any order, and a listing in another order altogether', () => {
  assert.deepEqual(diff(['a', 'b', 'c', 'd'], ['a', 'x', 'c', 'd', 'y']), { added: ['x', 'y'], gone: ['b'] });
  assert.deepEqual(diff(['a', 'b', 'c', 'd'], ['d', 'c', 'b', 'a']), { added: [], gone: [] });
  assert.deepEqual(diff(['a', 'b', 'c', 'd'], ['c', 'x', 'a']), { added: ['x'], gone: ['b', 'd'] });
  assert.deepEqual(diff(['a', 'b'], []), { added: [], gone: ['a', 'b'] });
  assert.deepEqual(diff([], ['a', 'b']), { added: ['a', 'b'], gone: [] });
  // Against Sets, over random shuffles, drops and adds.
  for (let r = 0; r < 200; r++) {
    const prev = Array.from({ length: 50 }, (_, i) => `n${i}`);
    const kept = prev.filter(() => Math.random() < 0.8);
    const children = [...kept, ...Array.from({ length: 5 }, (_, i) => `new${i}`)].sort(() => (r % 2 ? Math.random() - 0.5 : 0));
    const want = { added: children.filter((c) => !prev.includes(c)).sort(), gone: prev.filter((c) => !children.includes(c)).sort() };
    assert.deepEqual(diff(prev, children), want);
  }
});
