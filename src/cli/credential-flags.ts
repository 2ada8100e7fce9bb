/**
 * Agent credentials without putting them in `ps`: each secret flag also reads an environment
 * variable (commander's .env()) and a `--NAME-file PATH` form (Docker/Kubernetes secrets). Error
 * messages name the flag, never the value.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '../errors.ts';

/** The secret from `value` (flag or env) or else the content of `file` (one trailing newline dropped). */
export function credential(flag: string, value: string | undefined, file: string | undefined): string | undefined {
  if (value !== undefined && file !== undefined) throw new UsageError(`${flag} and ${flag}-file: give one of them`);
  if (file === undefined) return value;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`${flag}-file: reading ${file}: ${(err as NodeJS.ErrnoException).code ?? 'failed'}`);
  }
  const secret = text.replace(/\r?\n$/, '');
  if (secret === '' || /[\r\n]/.test(secret)) throw new UsageError(`${flag}-file: ${file} must hold the secret on one line`);
  return secret;
}

/** The bytes of the file a `--NAME-file` flag names (a certificate or key): errors name the flag and path, never the content. */
export function credentialFile(flag: string, file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag}: reading ${file}: ${(err as NodeJS.ErrnoException).code ?? 'failed'}`);
  }
}
