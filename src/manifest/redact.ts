/**
 * Secrets in manifests (check passwords) never leave the agent as written: every view that can be
 * read — the status API, hence `get -o yaml|json` and `describe` — shows this fixed placeholder.
 * A fixed string, not a hash: a hash of a short password is a dictionary lookup away.
 */
export const REDACTED = '<redacted>';

const SECRET_KEYS = new Set(['password']);

/** A deep copy of `value` with every secret-named key's value replaced by REDACTED. */
export function redactSecrets<T>(value: T): T {
  if (Array.isArray(value)) return value.map(redactSecrets) as T;
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.has(k) && v !== undefined ? REDACTED : redactSecrets(v);
  return out as T;
}

/** True when a parsed manifest carries an inline secret (so its file must not be world-readable). */
export function hasInlineSecret(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasInlineSecret);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => (SECRET_KEYS.has(k) && typeof v === 'string') || hasInlineSecret(v));
}
