/**
 * kubectl's JSONPath templates: literal text with `{expression}` parts, `{range EXPR}…{end}`, and
 * quoted literals (`{"\n"}`). Each expression (`.items[*].metadata.name`, `..name`, `[0:2]`,
 * `[?(@.type=="Ready")]`) is evaluated by jsonpath-plus, whose default evaluator runs no script.
 * Results of one expression are joined by spaces, as kubectl prints them.
 */
import { JSONPath } from 'jsonpath-plus';
import { UsageError } from '../errors.ts';

type Node = { text: string } | { expr: string } | { range: string; body: Node[] };

/** Values that `expr` (".a.b", "{.a.b}", "$.a" or "@.a") selects in `data`. */
export function jsonPathValues(expr: string, data: unknown): unknown[] {
  let e = expr.trim();
  if (e.startsWith('{') && e.endsWith('}')) e = e.slice(1, -1).trim();
  if (e.startsWith('@')) e = e.slice(1);
  const path = e.startsWith('$') ? e : `$${e.startsWith('.') || e.startsWith('[') ? '' : '.'}${e}`;
  try {
    return JSONPath({ path, json: data as object, wrap: true, eval: 'safe' }) as unknown[];
  } catch (err) {
    throw new UsageError(`evaluating JSONPath "${expr}": ${(err as Error).message}`, { hint: 'e.g. -o jsonpath=\'{.items[*].metadata.name}\'' });
  }
}

/** Render a kubectl JSONPath template against `data`. Throws UsageError on an unbalanced template. */
export function renderJsonPath(template: string, data: unknown): string {
  return render(parse(template), data);
}

const text = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

function render(nodes: readonly Node[], data: unknown): string {
  let out = '';
  for (const n of nodes) {
    if ('text' in n) out += n.text;
    else if ('expr' in n) out += jsonPathValues(n.expr, data).map(text).join(' ');
    else for (const item of jsonPathValues(n.range, data)) out += render(n.body, item);
  }
  return out;
}

function parse(template: string): Node[] {
  const root: Node[] = [];
  const stack: Node[][] = [root];
  const top = () => stack.at(-1)!;
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      top().push({ text: template.slice(i) });
      break;
    }
    if (open > i) top().push({ text: template.slice(i, open) });
    const close = closing(template, open);
    const inner = template.slice(open + 1, close).trim();
    i = close + 1;
    const quoted = /^"((?:[^"\\]|\\.)*)"$/.exec(inner) ?? /^'([^']*)'$/.exec(inner);
    if (quoted) top().push({ text: JSON.parse(`"${quoted[1]!.replace(/^'|'$/g, '')}"`) as string });
    else if (inner === 'end') {
      if (stack.length === 1) throw new UsageError(`JSONPath template "${template}": {end} without {range}`);
      stack.pop();
    } else if (inner.startsWith('range ')) {
      const body: Node[] = [];
      top().push({ range: inner.slice(6), body });
      stack.push(body);
    } else top().push({ expr: inner });
  }
  if (stack.length > 1) throw new UsageError(`JSONPath template "${template}": {range} without {end}`);
  return root;
}

/** The `}` closing the `{` at `open`, skipping quoted strings and nested brackets. */
function closing(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === "'") {
      const end = s.indexOf(c, i + 1);
      if (end < 0) break;
      i = end;
    } else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i;
  }
  throw new UsageError(`JSONPath template "${s}": unbalanced braces`, { hint: 'e.g. -o jsonpath=\'{.items[*].metadata.name}\'' });
}
