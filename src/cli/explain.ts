/**
 * `dockstack explain KIND[.FIELD…]`, as kubectl explains: a field's type, default and
 * description, and its sub-fields, read from the manifests' zod schemas (the same descriptions the
 * generated JSON Schemas carry). Nothing here repeats the schema.
 */
import * as z from 'zod';
import { UsageError } from '../errors.ts';
import { ServiceManifest, SubscriptionManifest } from '../manifest/schema.ts';
import { parseKind } from './kinds.ts';

type Any = z.ZodType;
interface Def { type: string; innerType?: Any; shape?: Record<string, Any>; element?: Any; options?: Any[]; entries?: Record<string, string>; values?: unknown[]; defaultValue?: unknown }
const def = (s: Any) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** Strip optional/default wrappers; collect the description, default and optionality on the way. */
function unwrap(s: Any): { core: Any; description?: string; default?: unknown; optional: boolean } {
  let description = s.description;
  let optional = false;
  let dflt: unknown;
  for (let cur = s; ; ) {
    const d = def(cur);
    if (d.type === 'optional' || d.type === 'default') {
      if (d.type === 'optional') optional = true;
      else dflt = d.defaultValue;
      cur = d.innerType!;
      description ??= cur.description;
      continue;
    }
    return { core: cur, ...(description !== undefined && { description }), ...(dflt !== undefined && { default: dflt }), optional: optional || dflt !== undefined };
  }
}

function typeName(core: Any): string {
  const d = def(core);
  if (d.type === 'array') return `[]${typeName(unwrap(d.element!).core)}`;
  if (d.type === 'enum') return `string (${Object.values(d.entries!).join(' | ')})`;
  if (d.type === 'literal') return `string (${d.values!.map((v) => JSON.stringify(v)).join(' | ')})`;
  if (d.type === 'union') return 'object (one of several shapes)';
  if (d.type === 'record') return 'map[string]string';
  if (d.type === 'number') return 'integer';
  return d.type;
}

/** The fields of an object, or of the shapes of a union of objects (keyed by their first literal). */
function fieldsOf(core: Any): Record<string, Any> | undefined {
  const d = def(core);
  if (d.type === 'object') return d.shape;
  if (d.type === 'array') return fieldsOf(unwrap(d.element!).core);
  if (d.type !== 'union') return undefined;
  // The shapes' discriminators (type: "tcp" | "http" …) merge into one literal of all their values.
  const merged: Record<string, Any> = {};
  for (const o of d.options!)
    for (const [k, v] of Object.entries(fieldsOf(unwrap(o).core) ?? {})) {
      const prev = merged[k];
      merged[k] = prev && def(prev).type === 'literal' && def(v).type === 'literal' ? z.literal([...def(prev).values!, ...def(v).values!] as string[]) : (prev ?? v);
    }
  return merged;
  return undefined;
}

export function explain(path: string): string {
  const [kindArg, ...fields] = path.split('.');
  const kind = parseKind(kindArg ?? '');
  if (!kind) throw new UsageError(`explain: unknown kind "${kindArg}"`, { hint: 'e.g. dockstack explain subscription.spec.listen' });
  let node = unwrap(kind === 'Service' ? ServiceManifest : SubscriptionManifest);
  for (const [i, f] of fields.entries()) {
    const next = fieldsOf(node.core)?.[f];
    if (!next) throw new UsageError(`explain: field "${f}" does not exist in ${[kindArg, ...fields.slice(0, i)].join('.')}`, { hint: `its fields: ${Object.keys(fieldsOf(node.core) ?? {}).join(', ') || 'none'}` });
    node = unwrap(next);
  }
  const out = [`KIND:     ${kind}`];
  if (fields.length) out.push(`FIELD:    ${fields.join('.')} <${typeName(node.core)}>`);
  if (node.default !== undefined) out.push(`DEFAULT:  ${JSON.stringify(node.default)}`);
  out.push('', 'DESCRIPTION:', `  ${node.description ?? (fields.length ? '<none>' : `A ${kind} manifest (apiVersion dockstack.io/v1alpha1).`)}`);
  const sub = fieldsOf(node.core);
  if (sub) {
    out.push('', 'FIELDS:');
    for (const [name, s] of Object.entries(sub)) {
      const f = unwrap(s);
      out.push(`  ${name}\t<${typeName(f.core)}>${f.optional ? '' : ' -required-'}${f.default !== undefined ? `  (default ${JSON.stringify(f.default)})` : ''}`);
      if (f.description) out.push(`    ${f.description}`);
    }
  }
  return `${out.join('\n')}\n`;
}

