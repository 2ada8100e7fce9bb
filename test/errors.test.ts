import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '../src/cli/config-file.ts';
import { DockstackError, ERROR_CODES, describeError, InstanceConflictError, ManifestError, RegistryError, UsageError } from '../src/errors.ts';

describe('errors', () => {
  test('describeError says what was being done, and nothing else when not told', () => {
    const err = new RegistryError('connection lost', { transient: true });
    assert.equal(describeError(err, 'creating znode /services/db'), 'creating znode /services/db: connection lost');
    assert.equal(describeError(err), 'connection lost');
    assert.equal(describeError('plain'), 'plain');
  });

  test('every error carries a code from the one list, a context and its cause', () => {
    const cause = new Error('EACCES');
    const errs = [new ManifestError('bad', { context: { file: 'a.yaml', position: { line: 1, column: 2 }, field: 'spec.port' }, cause }), new RegistryError('x', { transient: false, cause }), new UsageError('u', { hint: 'h' })];
    for (const e of errs) {
      assert.ok(e instanceof DockstackError, 'e instanceof DockstackError');
      assert.ok((ERROR_CODES as readonly string[]).includes(e.code), e.code);
      assert.equal(typeof e.context, 'object');
    }
    assert.equal(errs[0]!.cause, cause);
    assert.equal(errs[2]!.hint, 'h');
    assert.deepEqual(errs.map((e) => e.exitCode), [1, 1, 2], 'the CLI exits 1 unless the error says otherwise: a usage error exits 2, as kubectl does');
    assert.equal(new DockstackError('E_DIFF_FAILED', 'diff: x', { exitCode: 2 }).exitCode, 2);
    assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, 'no code listed twice');
  });

  test('every subclass is made (message, { cause, context, hint }); located and explained ones build their message from it', () => {
    const cause = new Error('EIO');
    const located = new ManifestError('expected integer 1–65535, got "x"', { context: { file: 'web.yaml', position: { line: 7, column: 9 }, field: 'spec.port' }, cause });
    assert.equal(located.message, 'web.yaml:7:9 spec.port: expected integer 1–65535, got "x"');
    assert.deepEqual([located.file, located.position, located.field, located.detail, located.cause], ['web.yaml', { line: 7, column: 9 }, 'spec.port', 'expected integer 1–65535, got "x"', cause]);
    assert.deepEqual(located.context, { file: 'web.yaml', position: { line: 7, column: 9 }, field: 'spec.port' });
    assert.equal(new ManifestError('reading file: EACCES', { context: { file: 'a.yaml' } }).message, 'a.yaml: reading file: EACCES');
    const conflict = new InstanceConflictError('registering /services/db/db-1', { context: { instanceId: 'db-1', holder: '10.0.0.2' } });
    assert.equal(conflict.message, "registering /services/db/db-1: instance id db-1 is held by another agent's live registration for 10.0.0.2");
    assert.deepEqual([conflict.code, conflict.transient, conflict.holder, conflict.exitCode], ['E_INSTANCE_CONFLICT', false, '10.0.0.2', 1]);
    assert.match(conflict.hint ?? '', /own instance id/);
    const config = new ConfigError('c.yaml:1:1: bad', { context: { file: 'c.yaml' } });
    assert.deepEqual([config.code, config.exitCode, config.message, config.context.file], ['E_CONFIG', 2, 'c.yaml:1:1: bad', 'c.yaml']);
  });
});
