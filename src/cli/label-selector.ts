/**
 * kubectl's equality-based label selectors: `app=web,tier!=db,env,!canary` (`=`/`==` equal, `!=`
 * not equal, a bare key exists, `!key` absent); every term must hold.
 */
import { UsageError } from '../errors.ts';

type Labels = Readonly<Record<string, string>> | undefined;

const TERM_RE = /^(!?)([A-Za-z0-9][A-Za-z0-9._/-]*)(?:(==|=|!=)([A-Za-z0-9._-]*))?$/;

/** A predicate over an object's labels; throws UsageError for a selector it cannot read. */
export function parseSelector(selector: string): (labels: Labels) => boolean {
  const terms = selector.split(',').map((raw) => {
    const t = raw.trim();
    const m = TERM_RE.exec(t);
    if (!m || (m[1] && m[3])) throw new UsageError(`-l ${selector}: cannot read "${t}"`, { hint: 'e.g. -l app=web,tier!=db' });
    const [, not, key, op, value] = m as unknown as [string, string, string, string | undefined, string | undefined];
    if (!op) return (l: Labels) => (l?.[key] !== undefined) !== (not === '!');
    if (op === '!=') return (l: Labels) => l?.[key] !== value;
    return (l: Labels) => l?.[key] === value;
  });
  return (labels) => terms.every((t) => t(labels));
}
