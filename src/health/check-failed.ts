import { DockstackError } from '../errors.ts';

/** A health check found its target down; the message says why ("GET /health: status 503"). */
export class CheckFailed extends DockstackError {
  constructor(message: string, opts: { cause?: unknown; context?: Record<string, unknown> } = {}) {
    super('E_CHECK_FAILED', message, opts);
  }
}

/**
 * The short reason of an I/O error: the errno code for socket errors ("ECONNREFUSED"), which is
 * what an operator greps for, otherwise the message (server replies such as "Access denied ...").
 */
export function reasonOf(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z0-9_]+$/.test(code) && !code.startsWith('ER_')) return code;
    return err.message || err.name;
  }
  return String(err);
}
