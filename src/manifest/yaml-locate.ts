/**
 * Maps a field path (["spec", "checks", 0, "port"]) back to the YAML node it came from, so an
 * error can point at the offending value, the unknown key, or the map missing a field.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { Position } from '../errors.ts';

export type PathSegment = string | number;

/** The node at `path`, or (if the path does not exist) the deepest existing ancestor; `keyNode` is the map key of the last segment. */
export function locate(doc: Document, path: readonly PathSegment[]): { node: Node | null; keyNode: Node | null; found: boolean } {
  let node = resolve(doc, doc.contents);
  let keyNode: Node | null = null;
  for (const [i, seg] of path.entries()) {
    const last = i === path.length - 1; // the last node is not resolved: an error points at the alias used, not its anchor
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return { node, keyNode: null, found: false };
      keyNode = isScalar(pair.key) ? pair.key : null;
      node = last ? (pair.value as Node | null) : resolve(doc, pair.value as Node | null);
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (item === undefined) return { node, keyNode: null, found: false };
      keyNode = null;
      node = last ? item : resolve(doc, item);
    } else {
      return { node, keyNode: null, found: false };
    }
  }
  return { node, keyNode, found: true };
}

// Aliases are followed a bounded number of times: a cycle cannot hang us.
function resolve(doc: Document, node: Node | null): Node | null {
  let n = node;
  for (let i = 0; i < 8 && isAlias(n); i++) n = (n.resolve(doc) as Node | undefined) ?? null;
  return n;
}

/** 1-based position of `offset` (the start of a node's range). */
export function positionAt(lc: LineCounter, offset: number): Position {
  const { line, col } = lc.linePos(offset);
  return { line, column: col };
}

/** Start position of `node`, or of the document's contents, or 1:1. */
export function nodePosition(lc: LineCounter, node: Node | null | undefined, fallback = 0): Position {
  return positionAt(lc, node?.range?.[0] ?? fallback);
}

/** Dotted field path with [i] for array indices; keys that are not plain identifiers are quoted. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
