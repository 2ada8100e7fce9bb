/**
 * `passwordFrom: {file: PATH}` or `{env: NAME}`: a check password kept out of the manifest. It is
 * resolved at every check attempt, so a rotated secret file is picked up on the next check (the file
 * is tiny and read with a bound); a missing file or variable fails that Service's check, saying
 * which reference, never any content.
 */
import { readFileSync } from 'node:fs';
import { CheckFailed } from './check-failed.ts';
import type { HealthCheck } from './health-check.ts';

export type SecretRef = { readonly file: string } | { readonly env: string };

const MAX_SECRET_BYTES = 4096;

/** The secret `ref` names now. Throws CheckFailed naming the reference when it cannot be read. */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const v = env[ref.env];
    if (v === undefined) throw new CheckFailed(`passwordFrom.env: variable ${ref.env} is not set`);
    return v;
  }
  let text: string;
  try {
    text = readFileSync(ref.file, 'utf8');
  } catch (err) {
    throw new CheckFailed(`passwordFrom.file: reading ${ref.file}: ${(err as NodeJS.ErrnoException).code ?? 'failed'}`);
  }
  if (text.length > MAX_SECRET_BYTES) throw new CheckFailed(`passwordFrom.file: ${ref.file} is larger than ${MAX_SECRET_BYTES} bytes`);
  return text.replace(/\r?\n$/, '');
}

/** A check that resolves `ref` at each attempt and runs `make(password)`'s check with it. */
export function withSecret(ref: SecretRef, type: string, target: string, make: (password: string) => HealthCheck): HealthCheck {
  return { type, target, check: (signal) => make(resolveSecret(ref)).check(signal) };
}
