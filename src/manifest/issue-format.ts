/**
 * Turns zod issues into user-facing details in one voice: "expected X, got Y",
 * "required field is missing", "unknown field". Schema-level messages (schema.ts) win over these.
 */
import type { z } from 'zod';

/** A short, bounded rendering of a user value for an error message. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

const list = (values: readonly unknown[]): string =>
  values.length === 1 ? JSON.stringify(values[0]) : `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;

/** Per-parse zod error map: used only where schema.ts gives no message of its own. */
export const issueMessage: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${iss.expected === 'object' ? 'a mapping' : iss.expected === 'array' ? 'a list' : iss.expected}, got ${describeValue(iss.input)}`;
    case 'invalid_value':
      return `expected ${list(iss.values)}, got ${describeValue(iss.input)}`;
    case 'invalid_union': {
      const disc = 'discriminator' in iss ? iss.discriminator : undefined;
      const options = 'options' in iss ? iss.options : undefined;
      if (typeof disc === 'string' && Array.isArray(options)) {
        const input = iss.input;
        const v = input !== null && typeof input === 'object' ? (input as Record<string, unknown>)[disc] : undefined;
        return `expected ${list(options)}, got ${describeValue(v)}`;
      }
      return 'matches none of the allowed shapes';
    }
    case 'too_big':
      return iss.origin === 'array' ? `expected at most ${String(iss.maximum)} items` : `expected at most ${String(iss.maximum)}`;
    case 'too_small':
      return iss.origin === 'array' ? `expected at least ${String(iss.minimum)} items` : `expected at least ${String(iss.minimum)}`;
    case 'invalid_key':
      return iss.issues[0]?.message ?? 'invalid key';
    default:
      return undefined;
  }
};
