/**
 * `get -o FORMAT` as kubectl spells it: wide | yaml | json | name | jsonpath=TEMPLATE |
 * custom-columns=HEADER:EXPR,… ; plus --no-headers and --sort-by=EXPR. A list is the kubectl
 * `{kind: List, items: […]}` to JSONPath and JSON, a named object the object itself.
 */
import type { ObjectView } from '../agent.ts';
import { UsageError } from '../errors.ts';
import { keyOf } from '../object-key.ts';
import { renderTable, type LiveBackends } from './output.ts';
import { terminalSafe } from './terminal-safe.ts';
import { ordinal } from '../ordinal.ts';

export interface OutputOptions {
  readonly output?: string;
  readonly noHeaders?: boolean;
  readonly sortBy?: string;
}

const HINT = 'use -o wide|yaml|json|name|jsonpath=TEMPLATE|custom-columns=HEADER:EXPR,...';

/** Throws UsageError for a format `get` does not know, before anything is fetched. */
export function checkOutput(output: string | undefined): void {
  if (output === undefined || ['wide', 'yaml', 'json', 'name'].includes(output)) return;
  if (/^(jsonpath|custom-columns)=./s.test(output)) return;
  throw new UsageError(`-o ${output}: unknown output format`, { hint: HINT });
}

/** Order `items` by the value `expr` selects in each (numbers numerically, the rest as text). */
export async function sortItems(items: readonly ObjectView[], expr: string): Promise<ObjectView[]> {
  const { jsonPathValues } = await import('./jsonpath.ts');
  const key = (v: ObjectView) => jsonPathValues(expr, v)[0];
  return [...items].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return ordinal(String(x ?? ''), String(y ?? ''));
  });
}

/** Prints `items` (one object when `single`); `header` false for watch updates after the first. */
export type Format = (items: readonly ObjectView[], single: boolean, header: boolean, live?: LiveBackends) => string;

/**
 * The printer for `opts`. yaml and jsonpath-plus load only for the formats that use them: a table
 * needs neither, and loading them was ~200 KB of code for every `get`.
 */
export async function formatter(opts: OutputOptions): Promise<Format> {
  const o = opts.output;
  const data = (items: readonly ObjectView[], single: boolean) => (single ? items[0] : { apiVersion: 'v1', kind: 'List', items });
  if (o === 'json') return (items, single) => `${JSON.stringify(data(items, single), null, 2)}\n`;
  if (o === 'yaml') {
    const { default: YAML } = await import('yaml');
    return (items, single) => (single ? YAML.stringify(items[0]) : items.map((i) => `---\n${YAML.stringify(i)}`).join(''));
  }
  if (o === 'name') return (items) => items.map((i) => `${keyOf(i.kind, i.metadata.name)}\n`).join('');
  if (o?.startsWith('jsonpath=')) {
    const { renderJsonPath } = await import('./jsonpath.ts');
    const template = o.slice('jsonpath='.length);
    return (items, single) => renderJsonPath(template, data(items, single));
  }
  if (o?.startsWith('custom-columns=')) {
    const { jsonPathValues } = await import('./jsonpath.ts');
    const spec = o.slice('custom-columns='.length);
    return (items, _single, header) => customColumns(jsonPathValues, items, spec, header && !opts.noHeaders);
  }
  return (items, _single, header, live) => renderTable(items, o === 'wide', header && !opts.noHeaders, live);
}

function customColumns(jsonPathValues: (expr: string, v: unknown) => unknown[], items: readonly ObjectView[], spec: string, header: boolean): string {
  const cols = spec.split(',').map((c) => {
    const i = c.indexOf(':');
    if (i <= 0 || i === c.length - 1) throw new UsageError(`-o custom-columns: "${c}" is not HEADER:EXPR`, { hint: 'e.g. -o custom-columns=NAME:.metadata.name,READY:.status.conditions[?(@.type=="Ready")].status' });
    return { head: c.slice(0, i), expr: c.slice(i + 1) };
  });
  const rows = items.map((v) =>
    cols.map(({ expr }) => {
      const vals = jsonPathValues(expr, v);
      return vals.length === 0 ? '<none>' : terminalSafe(vals.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(','));
    }),
  );
  const all = header ? [cols.map((c) => c.head), ...rows] : rows;
  const widths = cols.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('   ')).join('\n') + (all.length ? '\n' : '');
}
