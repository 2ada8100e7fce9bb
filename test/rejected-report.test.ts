import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ordinal } from '../src/ordinal.ts';
import type { Rejected } from '../src/registry/registry.ts';
import { REJECTED_SHOWN, shownRejections } from '../src/reconcile/rejected-report.ts';

const sortedSlice = (now: readonly Rejected[], n: number) =>
  [...now].sort((a, b) => ordinal(a.key, b.key) || ordinal(a.reason, b.reason)).slice(0, n);

test('shownRejections lists the first REJECTED_SHOWN by key then reason, as a full sort would, with the total count', () => {
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  // Duplicate keys with different reasons, exact duplicates, fewer and more than the limit, in random order.
  for (const size of [0, 1, 5, REJECTED_SHOWN - 1, REJECTED_SHOWN, REJECTED_SHOWN + 1, 2_000]) {
    const now = Array.from({ length: size }, () => ({ key: `/services/web/n_${String(rand(size * 2 + 1)).padStart(10, '0')}`, reason: `invalid port ${rand(3)}` }));
    const got = shownRejections(now);
    assert.equal(got.rejectedCount, size);
    assert.deepEqual(got.rejected, sortedSlice(now, REJECTED_SHOWN), `size ${size}`);
  }
  const now = [{ key: 'b', reason: 'x' }, { key: 'a', reason: 'y' }, { key: 'a', reason: 'x' }];
  assert.deepEqual(shownRejections(now, 2).rejected, [{ key: 'a', reason: 'x' }, { key: 'a', reason: 'y' }]);
  assert.deepEqual(shownRejections(now, 0).rejected, []);
});
