/**
 * YAML problems as located errors "file:line:col field: detail", for any document checked against
 * a zod schema: the manifests, and the agent's --config file.
 */
import { isCollection, isMap, isPair, isScalar, isSeq, visit, type Document, type LineCounter, type Node } from 'yaml';
import type { z } from 'zod';
import { ManifestError, type Position } from '../errors.ts';
import { formatPath, locate, nodePosition, positionAt, type PathSegment } from './yaml-locate.ts';

/** Syntax errors reported per file: past that, they are the parser's cascade. */
export const MAX_SYNTAX_ERRORS = 20;

/** The parser's errors, one per line (further errors on a line are the cascade of the first). */
export function syntaxErrors(docs: readonly Document.Parsed[], lc: LineCounter, file: string): ManifestError[] {
  const out: ManifestError[] = [];
  const lines = new Set<number>();
  for (const e of docs.flatMap((d) => d.errors)) {
    const pos = positionAt(lc, e.pos[0]);
    if (lines.has(pos.line) || out.length >= MAX_SYNTAX_ERRORS) continue;
    lines.add(pos.line);
    out.push(new ManifestError(`YAML syntax error: ${e.message}`, { context: { file, position: pos }, cause: e }));
  }
  return out;
}

/**
 * A mapping key that is itself a mapping or a sequence (`{[a]: x}`, `? {a: 1}`), located. JSON has
 * no such key (kubectl: "invalid map key"), and converting it would stringify it and print a Node
 * warning on stderr.
 */
export function collectionKeyError(doc: Document.Parsed, lc: LineCounter, file: string): ManifestError | undefined {
  let found: { key: Node; field: PathSegment[] } | undefined;
  visit(doc, {
    Pair(_, pair, ancestors) {
      if (!isCollection(pair.key)) return undefined;
      // The field holding the bad key: each ancestor pair's key, each sequence's item index.
      const field: PathSegment[] = [];
      ancestors.forEach((a, i) => {
        if (isPair(a) && isScalar(a.key)) field.push(String(a.key.value));
        else if (isSeq(a)) field.push(a.items.indexOf(ancestors[i + 1] as never));
      });
      found = { key: pair.key, field };
      return visit.BREAK;
    },
  });
  if (!found) return undefined;
  const what = isMap(found.key) ? 'mapping' : 'sequence';
  return new ManifestError(`a mapping key must be a scalar (text or a number), not a ${what}`, { context: { file, position: nodePosition(lc, found.key, doc.range[0]), ...(found.field.length && { field: formatPath(found.field) }) } });
}

/** The position of the value at `path` in `doc` (of its key with `useKey`), or the nearest existing ancestor. */
export type Locator = (path: readonly PathSegment[], useKey?: boolean) => Position;

export function locator(doc: Document.Parsed, lc: LineCounter): Locator {
  return (path, useKey = false) => {
    const { node, keyNode } = locate(doc, path);
    return nodePosition(lc, useKey ? keyNode : node, doc.range[0]);
  };
}

type Issue = z.core.$ZodIssue;

/** The located errors of one zod issue on `data`: an unknown key at the key, a missing field at its parent. */
export function issueErrors(file: string, data: unknown, issue: Issue, at: Locator): ManifestError[] {
  const path = issue.path.filter((s): s is PathSegment => typeof s !== 'symbol');
  if (issue.code === 'invalid_key') return [new ManifestError(issue.message, { context: { file, position: at(path, true), field: formatPath(path) } })];
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => new ManifestError('unknown field', { context: { file, position: at([...path, k], true), field: formatPath([...path, k]) } }));
  }
  if (valueAt(data, path) === undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union' || issue.code === 'invalid_value')) {
    return [new ManifestError('required field is missing', { context: { file, position: at(path.slice(0, -1)), field: formatPath(path) } })];
  }
  return [new ManifestError(issue.message, { context: { file, position: at(path), field: formatPath(path) || undefined } })];
}

function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[seg as string];
  }
  return v;
}
