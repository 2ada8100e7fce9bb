import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileStemOf, isKeyOf, keyOf, kindLabelOf, nameOf, parseKey, toKey } from '../src/object-key.ts';

describe('object keys', () => {
  test('make and parse round-trip for both kinds, names with dots and dashes included', () => {
    for (const kind of ['Service', 'Subscription'] as const) {
      for (const name of ['db', 'a.b-c_d', 'x'.repeat(63)]) {
        const key = keyOf(kind, name);
        assert.deepEqual(parseKey(key), { kind, name });
        assert.equal(toKey(key), key);
        assert.equal(nameOf(key), name);
        assert.equal(isKeyOf(kind, key), true);
        assert.equal(isKeyOf(kind === 'Service' ? 'Subscription' : 'Service', key), false);
      }
    }
    assert.equal(keyOf('Service', 'web'), 'service/web');
    assert.equal(keyOf('Subscription', 'db'), 'subscription/db');
    assert.equal(kindLabelOf('subscription/db'), 'subscription');
    assert.equal(fileStemOf('service/web'), 'service-web');
  });

  test('anything else is not a key', () => {
    for (const s of ['', 'service/', 'subscription', 'Service/web', 'pod/web', '/web', 'servicex/web']) {
      assert.equal(parseKey(s), undefined, s);
      assert.equal(toKey(s), undefined, s);
          }
  });
});
