import assert from 'node:assert/strict';
import { CheckFailed } from '../../src/health/check-failed.ts';

/** Assert that a health check rejects with CheckFailed and a message matching `message`. */
export async function fails(p: Promise<void>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CheckFailed, `expected CheckFailed, got ${String(err)}`);
    assert.match(err.message, message);
    return true;
  });
}
