/**
 * The fast path of the manifest parse: a text that uses none of YAML's rarer features, read by
 * js-yaml (measured 4-6× faster than `yaml` on the scale bench's 1,000 manifests). It gives only
 * values and each document's position; `yaml` stays the parser of record. Any text this path does
 * not take, and every text with an error, is parsed again by `yaml` (parse.ts), which locates the
 * errors; test/plain-yaml.test.ts checks that both paths agree.
 */
import jsyaml from 'js-yaml';
import type { Position } from '../errors.ts';

export interface PlainDocument {
  /** The document's value: null for an empty document. */
  readonly data: unknown;
  /** Where its contents start (what yaml-locate's nodePosition gives for the document). */
  readonly position: Position;
}

/**
 * What the fast path declines, by a scan of the text (conservative: a match inside a quoted string
 * only costs the slow path):
 * - tags (`!`), anchors (`&`) and aliases (`*`): js-yaml has no bound on alias expansion, and a
 *   tag can select a type the `yaml` schema lacks;
 * - directives (`%` starting a line): `%YAML 1.1` changes `yaml`'s schema;
 * - tabs, and carriage returns not ending a line: the two parsers read some of them differently
 *   (a tab after a value at the end of a line; a lone CR inside a quoted string);
 * - explicit keys (`? `) and flow collections used as keys (`]:`, `}:`): js-yaml turns a
 *   collection key into a different string than `yaml` does.
 * Then `oneEntryPerLine` declines any scalar or flow collection that spans lines.
 */
const DECLINED = /[!&*\t]|\r(?!\n)|^%|[\]}][ \t]*:|(?:^|[\s,[{])\?(?:\s|$)/m;

// YAML 1.2's core schema, as `yaml` resolves it (its schema/core), for plain scalars. js-yaml's own
// CORE_SCHEMA also reads 0b…, 1_000 and 0755-style numbers, which `yaml` leaves strings. One type
// per tag: js-yaml keeps only the last of several types with the same tag.
const scalar = (tag: string, test: RegExp, construct: (s: string) => unknown) =>
  new jsyaml.Type(`tag:yaml.org,2002:${tag}`, { kind: 'scalar', resolve: (s: string | null) => test.test(s ?? ''), construct: (s: string | null) => construct(s ?? '') });
const CORE_1_2 = jsyaml.FAILSAFE_SCHEMA.extend({
  implicit: [
    scalar('null', /^(?:~|[Nn]ull|NULL)?$/, () => null),
    scalar('bool', /^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/, (s) => s[0] === 't' || s[0] === 'T'),
    scalar('int', /^(?:0o[0-7]+|[-+]?[0-9]+|0x[0-9a-fA-F]+)$/, (s) => (s[1] === 'o' ? parseInt(s.slice(2), 8) : s[1] === 'x' ? parseInt(s.slice(2), 16) : parseInt(s, 10))),
    scalar('float', /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+|[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*))$/, (s) => {
      const tail = s.slice(-3).toLowerCase();
      return tail === 'inf' ? (s[0] === '-' ? -Infinity : Infinity) : tail === 'nan' ? NaN : parseFloat(s);
    }),
  ],
});

/** The documents of `src`, or undefined when the slow path must read it (declined, or any error). */
export function plainDocuments(src: string): PlainDocument[] | undefined {
  if (DECLINED.test(src) || !oneEntryPerLine(src)) return undefined;
  const positions: Position[] = [];
  let depth = 0;
  let docs: unknown[];
  try {
    docs = jsyaml.loadAll(src, null, {
      schema: CORE_1_2,
      // Each document's top node opens at depth 0, after the document start and any comments.
      listener(event, state) {
        if (event === 'close') depth--;
        else if (depth++ === 0) positions.push({ line: state.line + 1, column: state.position - state.lineStart + 1 });
      },
    });
  } catch {
    return undefined;
  }
  if (docs.length !== positions.length || !docs.every(stringKeysAgree)) return undefined;
  return docs.map((data, i) => ({ data: data ?? null, position: positions[i]! }));
}

// js-yaml names a null key "null" and `yaml` names it "": a key spelled "null" goes the slow way.
function stringKeysAgree(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) return value.every(stringKeysAgree);
  for (const k in value) if (k === 'null' || !stringKeysAgree((value as Record<string, unknown>)[k])) return false;
  return true;
}

/**
 * Whether every line is blank, a comment, a document marker, or one entry (`key: value`, `key:`,
 * `- value`, `- key: value`) whose value ends on that line: no block scalar (`|`, `>`), no quoted
 * scalar, flow collection or plain scalar continued on the next line. Those are where js-yaml is
 * laxer than `yaml` about indentation (a continuation line at column 1 of a quoted scalar, say).
 */
function oneEntryPerLine(src: string): boolean {
  let start = 0;
  while (start < src.length) {
    let end = src.indexOf('\n', start);
    if (end < 0) end = src.length;
    if (!simpleLine(src, start, end)) return false;
    start = end + 1;
  }
  return true;
}

function simpleLine(src: string, from: number, to: number): boolean {
  let i = from;
  if ((src.startsWith('---', i) || src.startsWith('...', i)) && (i + 3 >= to || /\s/.test(src[i + 3]!))) i += 3;
  let entry = i > from; // a marker line is complete by itself
  let valueStart = true; // at the start of a value: a block scalar indicator here is declined
  let content = false; // anything but blanks and a comment
  let depth = 0;
  for (; i < to; i++) {
    const c = src[i]!;
    if (c === ' ' || c === '\r') continue; // (tabs are declined before this scan)
    if (c === '#' && (i === from || /\s/.test(src[i - 1]!))) break;
    if (c === '#' && /['"\]},]/.test(src[i - 1]!)) return false; // `yaml` wants a space before that comment, js-yaml does not
    content = true;
    if (valueStart && depth === 0 && (c === '|' || c === '>')) return false;
    if (c === '-' && valueStart && depth === 0 && (i + 1 >= to || /\s/.test(src[i + 1]!))) {
      entry = true;
      continue;
    }
    valueStart = false;
    if (c === "'" || c === '"') {
      const close = closingQuote(src, i, to);
      if (close < 0) return false;
      i = close;
    } else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ':' && depth === 0 && (i + 1 >= to || /\s/.test(src[i + 1]!))) {
      entry = true;
      valueStart = true;
    }
  }
  // A line with content that is neither an entry nor a marker continues the previous line's scalar.
  return depth === 0 && (entry || !content);
}

/** The index of the quote closing the one at `at` on this line, or -1. */
function closingQuote(src: string, at: number, to: number): number {
  const q = src[at];
  for (let i = at + 1; i < to; i++) {
    if (q === '"' && src[i] === '\\') i++;
    else if (src[i] === q) {
      if (q === "'" && src[i + 1] === "'") i++;
      else return i;
    }
  }
  return -1;
}
