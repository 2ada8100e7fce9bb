import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DockstackError, ERROR_CODES, describeError, ManifestError, RegistryError, UsageError } from '../src/errors.ts';

describe('errors', () => {
  test('describeError says what was being done, and nothing else when not told', () => {
    const err = new RegistryError('connection lost', { transient: true });
    assert.equal(describeError(err, 'creating znode /services/db'), 'creating znode /services/db: connection lost');
    assert.equal(describeError(err), 'connection lost');
    assert.equal(describeError('plain'), 'plain');
  });

  test('every error carries a code from the one list, a context and its cause', () => {
    const cause = new Error('EACCES');
    const errs = [new ManifestError('a.yaml', { line: 1, column: 2 }, 'spec.port', 'bad', cause), new RegistryError('x', { transient: false, cause }), new UsageError('u', { hint: 'h' })];
    for (const e of errs) {
      assert.ok(e instanceof DockstackError);
      assert.ok((ERROR_CODES as readonly string[]).includes(e.code), e.code);
      assert.equal(typeof e.context, 'object');
    }
    assert.equal(errs[0]!.cause, cause);
    assert.equal(errs[2]!.hint, 'h');
    assert.deepEqual(errs.map((e) => e.exitCode), [1, 1, 2], 'the CLI exits 1 unless the error says otherwise: a usage error exits 2, as kubectl does');
    assert.equal(new DockstackError('E_DIFF_FAILED', 'diff: x', { exitCode: 2 }).exitCode, 2);
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, 'no code listed twice');
  });
});
