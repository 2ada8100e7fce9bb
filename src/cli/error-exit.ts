/** How an error that ends a command is shown and which exit status it gives (main.ts, validate-main.ts). */
import { DockstackError } from '../errors.ts';
import { ExitCode } from './exit-code.ts';

/** Render any error as one clear line (plus a hint); stack traces only with DOCKSTACK_DEBUG. */
export function formatError(err: unknown): string {
  if (err instanceof DockstackError) return `error: ${err.message}${err.hint ? `\nhint: ${err.hint}` : ''}`;
  if (err instanceof Error) return process.env.DOCKSTACK_DEBUG ? String(err.stack) : `error: ${err.message}`;
  return `error: ${String(err)}`;
}

/** The exit status for `err`, printed to stderr first unless it is an ExitCode (its command printed already). */
export function reportError(err: unknown): number {
  if (err instanceof ExitCode) return err.code;
  process.stderr.write(`${formatError(err)}\n`);
  return err instanceof DockstackError ? err.exitCode : 1;
}
